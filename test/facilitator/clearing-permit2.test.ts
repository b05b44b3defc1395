import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import {
  type Address,
  type LocalAccount,
  createWalletClient,
  erc20Abi,
  getAddress,
  http,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { permit2Abi } from "../../src/abi/permit2.js";
import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import {
  fundTetherLike,
  installTetherLikeToken,
  setTetherLikeBlacklisted,
} from "../../src/chain/tetherLike.js";
import { buildPermit2Deposit } from "../../src/clearing/buildPermit2Deposit.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { signPermit2Deposit } from "../../src/clearing/signPermit2Deposit.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { SignedPermit2Deposit, SignedVoucher } from "../../src/clearing/types.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import { permit2NoncePosition } from "../../src/permit2/nonces.js";
import { encodeClearingPayload } from "../../src/x402/clearing/payload.js";
import { DELAY, FEE_BPS, deployClearingHouse } from "./clearingHarness.js";
import {
  network,
  postJson,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const PRICE = 1_000n;
const DEPOSIT = 100_000n;

type Json = Record<string, unknown>;

describe("facilitator: clearing deposits through Permit2 (USDT-like token)", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let clearingHouse: Address;
  let usdt: Address;
  let facilitator: RunningFacilitator | undefined;
  let dir: string;
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const stranger = privateKeyToAccount(generatePrivateKey());
  const operator = () => base.relayer.address;
  /** Funded and approved: the one whose deposits pass every check but the attacked one. */
  const payer = privateKeyToAccount(generatePrivateKey());
  const unapproved = privateKeyToAccount(generatePrivateKey());
  const blacklisted = privateKeyToAccount(generatePrivateKey());
  const recovered = privateKeyToAccount(generatePrivateKey());
  const settled = privateKeyToAccount(generatePrivateKey());

  const wallet = async (account: LocalAccount) => {
    await base.testClient.setBalance({ address: account.address, value: 10n ** 18n });
    return createWalletClient({ account, chain: base.client.chain, transport: http(base.rpcUrl) });
  };
  const requirements = (asset: Address = usdt) => ({
    scheme: "clearing",
    network: network.v2,
    amount: PRICE.toString(),
    asset,
    payTo: payee,
    maxTimeoutSeconds: 300,
    extra: {
      assetTransferMethod: "permit2",
      clearingHouse,
      operator: operator(),
      feeBasisPoints: FEE_BPS,
      withdrawalDelay: DELAY,
    },
  });
  const voucher = (from: LocalAccount, value: bigint, token: Address = usdt) =>
    signVoucher(from, {
      domain: getClearingHouseDomain({ chainId: network.chainId, clearingHouse }),
      voucher: {
        payer: from.address,
        payee,
        token,
        operator: operator(),
        cumulativeValue: value,
        cumulativeFee: computeVoucherFee({ basisPoints: FEE_BPS }, value),
      },
    });
  const deposit = (
    from: LocalAccount,
    options: {
      amount?: bigint;
      spender?: Address;
      operator?: Address;
      token?: Address;
      chainId?: number;
      deadline?: bigint;
      nonce?: bigint;
    } = {},
  ) =>
    signPermit2Deposit(from, {
      chainId: options.chainId ?? network.chainId,
      deposit: buildPermit2Deposit({
        payer: from.address,
        clearingHouse: options.spender ?? clearingHouse,
        token: options.token ?? usdt,
        operator: options.operator ?? operator(),
        amount: options.amount ?? DEPOSIT,
        deadline: options.deadline ?? BigInt(Math.floor(Date.now() / 1000) + 3_600),
        ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
      }),
    });
  const body = (v: SignedVoucher, d?: SignedPermit2Deposit, asset: Address = usdt) => {
    const req = requirements(asset);
    return {
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        accepted: req,
        payload: encodeClearingPayload(d ? { voucher: v, deposit: d } : { voucher: v }),
      },
      paymentRequirements: req,
    };
  };
  const balanceOf = (owner: Address) =>
    base.client.readContract({
      address: usdt,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner],
    });
  const account = (owner: Address) =>
    base.client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getAccount",
      args: [owner, operator(), usdt],
    });

  /** What must not move: token balances, ClearingHouse accounts, the operator's nonce. */
  async function snapshot() {
    const owners = [payer, unapproved, blacklisted].map((a) => a.address);
    return {
      balances: await Promise.all([...owners, clearingHouse].map(balanceOf)),
      accounts: (await Promise.all(owners.map(account))).map((a) => a.balance),
      nonce: await base.client.getTransactionCount({
        address: base.relayer.address,
        blockTag: "pending",
      }),
    };
  }

  async function start(store: ClearingStore) {
    facilitator = await startFacilitator(base, {
      assets: [USDC_ADDRESS, usdt],
      permit2Assets: [usdt],
      clearing: {
        clearingHouse,
        operator: base.relayer,
        store,
        tokens: [USDC_ADDRESS, usdt],
        permit2Assets: [usdt],
        feeBasisPoints: FEE_BPS,
        withdrawalDelaySeconds: DELAY,
        clearIntervalMs: 0,
        clearThreshold: 0n,
        pollingIntervalMs: 100,
      },
    });
    return facilitator;
  }

  before(async function () {
    base = await startLocalBase();
    clearingHouse = getAddress(await deployClearingHouse(base));
    usdt = await installTetherLikeToken(base.testClient as never);
    dir = mkdtempSync(path.join(tmpdir(), "x402-clearing-permit2-fac-"));
    const funded = [payer, unapproved, blacklisted, recovered, settled];
    await setIntervalMining(base, 1_000);
    await fundTetherLike(base.testClient as never, {
      recipients: funded.map((a) => a.address),
      amount: 1_000_000n,
    });
    await setAutomine(base);
    for (const owner of [payer, blacklisted, recovered, settled]) {
      await approvePermit2(await wallet(owner), { token: usdt });
    }
    await setTetherLikeBlacklisted(base.testClient as never, { account: blacklisted.address });
  });

  afterEach(async function () {
    await facilitator?.facilitator.close();
    await facilitator?.stop();
    facilitator = undefined;
  });

  after(async function () {
    await base?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("settles a Permit2 deposit with its first voucher in depositWithPermit2 and credits what arrived", async function () {
    const running = await start(new ClearingStore(path.join(dir, "settle.sqlite")));
    const first = await postJson(
      `${running.url}/settle`,
      body(await voucher(settled, PRICE), await deposit(settled)),
    );
    expect(first.json, JSON.stringify(first.json)).to.include({ success: true, transaction: "" });
    expect((await account(settled.address)).balance).to.equal(DEPOSIT);
    expect(
      running.facilitator.clearing!.ledger.getAccount({ payer: settled.address, token: usdt })!
        .balance,
    ).to.equal(DEPOSIT);
    const second = await postJson(
      `${running.url}/settle`,
      body(await voucher(settled, 2n * PRICE)),
    );
    expect(second.json).to.include({ success: true });
    expect(running.facilitator.clearing!.health().deposits).to.deep.include({
      mined: 1,
      failed: 0,
    });
  });

  it("refuses adversarial Permit2 deposits at /verify and /settle with their exact reasons; no gas is spent, nothing moves", async function () {
    const running = await start(new ClearingStore(path.join(dir, "attacks.sqlite")));
    // A nonce the payer spent at Permit2 itself (invalidated), before the deposit carrying it.
    const spent = 7n << 8n;
    const payerWallet = await wallet(payer);
    const { word, bit } = permit2NoncePosition(spent);
    const hash = await payerWallet.writeContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: "invalidateUnorderedNonces",
      args: [word, 1n << BigInt(bit)],
      chain: null,
    });
    await base.client.waitForTransactionReceipt({ hash });
    const before = await snapshot();
    const first = await voucher(payer, PRICE);
    const good = await deposit(payer);
    const cases: [unknown, string][] = [
      [body(first, { ...good, amount: 2n * DEPOSIT }), "clearing_deposit_invalid_signature"],
      [
        body(first, { ...good, voucherSigner: stranger.address }),
        "clearing_deposit_invalid_signature",
      ],
      [body(first, await deposit(payer, { chainId: 1 })), "clearing_deposit_invalid_signature"],
      [
        body(first, await deposit(payer, { spender: base.router })),
        "clearing_deposit_spender_mismatch",
      ],
      // A witness crediting another operator, validly signed.
      [
        body(first, await deposit(payer, { operator: stranger.address })),
        "clearing_deposit_operator_mismatch",
      ],
      [
        body(first, await deposit(payer, { token: USDC_ADDRESS })),
        "clearing_deposit_token_mismatch",
      ],
      [body(first, await deposit(stranger)), "clearing_deposit_payer_mismatch"],
      [
        body(first, await deposit(payer, { deadline: BigInt(Math.floor(Date.now() / 1000) + 5) })),
        "clearing_deposit_expired",
      ],
      [body(first, await deposit(payer, { nonce: spent })), "clearing_deposit_nonce_used"],
      [
        body(first, await deposit(payer, { amount: 10n ** 12n })),
        "clearing_deposit_insufficient_funds",
      ],
      [
        body(await voucher(unapproved, PRICE), await deposit(unapproved)),
        "clearing_deposit_permit2_allowance_required",
      ],
    ];
    for (const [request, reason] of cases) {
      for (const route of ["verify", "settle"] as const) {
        const answer = await postJson(`${running.url}/${route}`, request);
        expect(answer.status, `${route} ${reason}`).to.equal(200);
        const ok = route === "verify" ? answer.json.isValid : answer.json.success;
        expect(ok, `${route} ${reason}`).to.equal(false);
        const got = route === "verify" ? answer.json.invalidReason : answer.json.errorReason;
        expect(got, `${route} ${reason}: ${JSON.stringify(answer.json)}`).to.equal(reason);
      }
    }
    const unapprovedAnswer = await postJson(
      `${running.url}/settle`,
      body(await voucher(unapproved, PRICE), await deposit(unapproved)),
    );
    expect(unapprovedAnswer.json.errorMessage).to.contain("approvePermit2");
    // A blacklisted payer passes the reads; the batch's simulation drops it before anything is signed.
    const blocked = await postJson(
      `${running.url}/settle`,
      body(await voucher(blacklisted, PRICE), await deposit(blacklisted)),
    );
    expect(blocked.json).to.include({
      success: false,
      errorReason: "clearing_deposit_authorization_failed",
    });
    // A payload with both deposit forms, or a malformed Permit2 one, is not a clearing payload.
    const both = body(first, good) as { paymentPayload: { payload: { deposit: Json } } };
    both.paymentPayload.payload.deposit.salt = `0x${"11".repeat(32)}`;
    const shortSignature = body(first, { ...good, signature: `0x${"11".repeat(63)}` });
    for (const request of [both, shortSignature]) {
      const answer = await postJson(`${running.url}/settle`, request);
      expect(answer.status).to.equal(400);
      expect(answer.json.errorReason).to.equal("invalid_payload");
    }
    expect(await snapshot()).to.deep.equal(before);
    expect(running.facilitator.clearing!.health().deposits).to.deep.include({ mined: 0 });
  });

  it("a Permit2 deposit left received by a crash is sent after a restart and credited once", async function () {
    const file = path.join(dir, "recover.sqlite");
    const signed = await deposit(recovered);
    const crashed = new ClearingStore(file);
    crashed.insertDeposit(usdt, signed);
    crashed.close();
    const running = await start(new ClearingStore(file));
    const deadline = Date.now() + 120_000;
    while ((await account(recovered.address)).balance === 0n && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect((await account(recovered.address)).balance).to.equal(DEPOSIT);
    // The same deposit carried with the first voucher is not sent again: only the voucher counts.
    const answer = await postJson(
      `${running.url}/settle`,
      body(await voucher(recovered, PRICE), signed),
    );
    expect(answer.json, JSON.stringify(answer.json)).to.include({ success: true });
    expect((await account(recovered.address)).balance).to.equal(DEPOSIT);
    expect(await balanceOf(recovered.address)).to.equal(1_000_000n - DEPOSIT);
    expect(running.facilitator.clearing!.health().deposits).to.deep.include({ mined: 1 });
  });
});
