import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import {
  type Address,
  type Hex,
  createWalletClient,
  getAddress,
  hexToBytes,
  http,
  keccak256,
  toHex,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { getTokenDomain } from "../../src/authorization/getTokenDomain.js";
import { readBenchArtifact } from "../../src/bench/contracts.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import { buildDepositAuthorization } from "../../src/clearing/buildDepositAuthorization.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { signDepositAuthorization } from "../../src/clearing/signDepositAuthorization.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { SignedDepositAuthorization, SignedVoucher } from "../../src/clearing/types.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";
import { encodeClearingPayload } from "../../src/x402/clearing/payload.js";
import {
  network,
  postJson,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../facilitator/harness.js";

const PRICE = 1_000n;
const FEE_BPS = 100;
const DELAY = 900;
const DEPOSIT = 100_000n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

type Json = Record<string, unknown>;

/** A seeded generator, so a failing case can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** The signature with `s` replaced by `n - s` (and `v` flipped): the same signer, high s. */
function highS(signature: Hex): Hex {
  const bytes = hexToBytes(signature);
  const s = BigInt(toHex(bytes.subarray(32, 64)));
  const out = new Uint8Array(65);
  out.set(bytes.subarray(0, 32));
  out.set(hexToBytes(toHex(N - s, { size: 32 })), 32);
  out[64] = bytes[64] === 27 ? 28 : 27;
  return toHex(out);
}

describe("x402 clearing: malformed and adversarial clearing payloads at our facilitator", function () {
  let base: LocalBase;
  let clearingHouse: Address;
  let facilitator: RunningFacilitator;
  let dir: string;
  const payer = privateKeyToAccount(generatePrivateKey());
  const fresh = privateKeyToAccount(generatePrivateKey()); // funded, never deposited
  const stranger = privateKeyToAccount(generatePrivateKey());
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const operator = () => base.relayer.address;

  const requirements = (extra: Json = {}, fields: Json = {}) => ({
    scheme: "clearing",
    network: network.v2,
    amount: PRICE.toString(),
    asset: USDC_ADDRESS,
    payTo: payee,
    maxTimeoutSeconds: 300,
    ...fields,
    extra: {
      name: "USD Coin",
      version: "2",
      clearingHouse,
      operator: operator(),
      feeBasisPoints: FEE_BPS,
      withdrawalDelay: DELAY,
      paymentFlow: "upfront",
      ...extra,
    },
  });
  const body = (payload: unknown, req: Json = requirements()) => ({
    x402Version: 2,
    paymentPayload: { x402Version: 2, accepted: req, payload },
    paymentRequirements: req,
  });
  const voucher = (value: bigint, options: { signer?: typeof payer; from?: typeof payer } = {}) =>
    signVoucher(options.signer ?? payer, {
      domain: getClearingHouseDomain({ chainId: network.chainId, clearingHouse }),
      voucher: {
        payer: (options.from ?? payer).address,
        payee,
        token: USDC_ADDRESS,
        operator: operator(),
        cumulativeValue: value,
        cumulativeFee: computeVoucherFee({ basisPoints: FEE_BPS }, value),
      },
    });
  const deposit = (from: typeof payer, value: bigint, to?: Address, operatorOf?: Address) =>
    signDepositAuthorization(from, {
      domain: getTokenDomain(),
      authorization: buildDepositAuthorization({
        from: from.address,
        clearingHouse: to ?? clearingHouse,
        operator: operatorOf ?? operator(),
        value,
        maxTimeoutSeconds: 3_600,
      }),
    });
  const wire = (v: SignedVoucher, d?: SignedDepositAuthorization) =>
    encodeClearingPayload(d ? { voucher: v, deposit: d } : { voucher: v }) as unknown as Json;

  /** What must not move: the pair's charged total, the accounts, balances, the operator's nonce. */
  async function snapshot() {
    const pair = await postJson(`${facilitator.url}/clearing/pair`, {
      payer: payer.address,
      payee,
      token: USDC_ADDRESS,
    });
    const accounts = await Promise.all(
      [payer, fresh].map((p) =>
        base.client.readContract({
          address: clearingHouse,
          abi: clearingHouseAbi,
          functionName: "getAccount",
          args: [p.address, operator(), USDC_ADDRESS],
        }),
      ),
    );
    return {
      pair: pair.json,
      balances: accounts.map((a) => a.balance),
      usdc: await Promise.all([payer, fresh].map((p) => usdcBalance(base.client, p.address))),
      nonce: await base.client.getTransactionCount({
        address: base.relayer.address,
        blockTag: "pending",
      }),
    };
  }

  /** Posts `request` to /verify and /settle: neither may answer 5xx or accept it. */
  async function refused(request: unknown, reason: string, status = 200) {
    for (const route of ["verify", "settle"] as const) {
      const answer = await postJson(`${facilitator.url}/${route}`, request);
      expect(answer.status, `${route} ${reason}`).to.equal(status);
      const ok = route === "verify" ? answer.json.isValid : answer.json.success;
      expect(ok, `${route} ${reason}`).to.equal(false);
      const got = route === "verify" ? answer.json.invalidReason : answer.json.errorReason;
      expect(got, route).to.equal(reason);
    }
  }

  before(async function () {
    base = await startLocalBase();
    const { abi, bytecode } = readBenchArtifact("ClearingHouse");
    const wallet = createWalletClient({ account: base.relayer, transport: http(base.rpcUrl) });
    const hash = await wallet.deployContract({ abi, bytecode, chain: null });
    const receipt = await base.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    clearingHouse = getAddress(receipt.contractAddress!);
    dir = mkdtempSync(path.join(tmpdir(), "x402-clearing-fuzz-"));
    facilitator = await startFacilitator(base, {
      clearing: {
        clearingHouse,
        operator: base.relayer,
        store: new ClearingStore(path.join(dir, "clearing.sqlite")),
        feeBasisPoints: FEE_BPS,
        withdrawalDelaySeconds: DELAY,
        clearIntervalMs: 0,
        clearThreshold: 0n,
        pollingIntervalMs: 100,
      },
    });
    await setIntervalMining(base, 1_000);
    await fundUsdc(base.testClient as never, {
      recipients: [payer.address, fresh.address],
      amount: 1_000_000n,
    });
    await setAutomine(base);
    // The payer's account exists: one paid request with its deposit, five more vouchers.
    const first = await postJson(
      `${facilitator.url}/settle`,
      body(wire(await voucher(PRICE), await deposit(payer, DEPOSIT))),
    );
    expect(first.json).to.include({ success: true });
    for (let i = 2n; i <= 5n; i++) {
      const next = await postJson(
        `${facilitator.url}/settle`,
        body(wire(await voucher(i * PRICE))),
      );
      expect(next.json).to.include({ success: true });
    }
  });

  after(async function () {
    await facilitator?.stop();
    await base?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("refuses malformed bodies 400 with invalid_payload or invalid_x402_version, never a 5xx; nothing moves", async function () {
    const before = await snapshot();
    const good = wire(await voucher(6n * PRICE));
    const v = good.voucher as Json;
    const malformed: [unknown, string][] = [
      [{}, "invalid_x402_version"],
      [body({}), "invalid_payload"],
      [body({ voucher: null }), "invalid_payload"],
      [body({ voucher: { ...v, cumulativeValue: "1e3" } }), "invalid_payload"],
      [body({ voucher: { ...v, cumulativeValue: "-1000" } }), "invalid_payload"],
      [body({ voucher: { ...v, cumulativeValue: 6000 } }), "invalid_payload"],
      [body({ voucher: { ...v, cumulativeFee: "0x3c" } }), "invalid_payload"],
      [body({ voucher: { ...v, signature: "0xzz" } }), "invalid_payload"],
      [body({ voucher: { ...v, payer: "0x1234" } }), "invalid_payload"],
      [body({ voucher: { ...v, payee: 42 } }), "invalid_payload"],
      [body({ voucher: v, deposit: { authorization: {} } }), "invalid_payload"],
      [body({ voucher: v, deposit: "0x00" }), "invalid_payload"],
      [
        { ...body(good), paymentPayload: { ...body(good).paymentPayload, x402Version: 1 } },
        "invalid_x402_version",
      ],
    ];
    for (const [request, reason] of malformed) await refused(request, reason, 400);
    for (const raw of ["{", "[]", "null", '"clearing"']) {
      for (const route of ["verify", "settle"]) {
        const answer = await postJson(`${facilitator.url}/${route}`, raw);
        expect(answer.status, `${route} ${raw}`).to.be.within(400, 499);
      }
    }
    expect(await snapshot()).to.deep.equal(before);
  });

  it("refuses adversarial vouchers and deposits with their exact reason codes; nothing moves", async function () {
    const before = await snapshot();
    const next = await voucher(6n * PRICE);
    const cases: [unknown, string][] = [
      // Requirements that are not this operator's terms.
      [body(wire(next), requirements({ clearingHouse: payee })), "clearing_requirements_mismatch"],
      [body(wire(next), requirements({ operator: payee })), "clearing_requirements_mismatch"],
      [body(wire(next), requirements({ feeBasisPoints: 0 })), "clearing_requirements_mismatch"],
      [body(wire(next), requirements({}, { network: "eip155:84532" })), "invalid_network"],
      [
        { ...body(wire(next)), paymentRequirements: requirements({}, { scheme: "exact" }) },
        "unsupported_scheme",
      ],
      // Vouchers redirected, underpaid or not the payer's.
      [
        body({ voucher: { ...(wire(next).voucher as Json), payee: stranger.address } }),
        "clearing_payee_mismatch",
      ],
      [
        body({ voucher: { ...(wire(next).voucher as Json), cumulativeFee: "0" } }),
        "clearing_fee_mismatch",
      ],
      [
        body({ voucher: { ...(wire(next).voucher as Json), operator: stranger.address } }),
        "clearing_operator_mismatch",
      ],
      [
        body(wire(await voucher(6n * PRICE, { signer: stranger }))),
        "clearing_signer_not_authorized",
      ],
      [body(wire({ ...next, signature: highS(next.signature) })), "clearing_invalid_signature"],
      [
        body(wire({ ...next, cumulativeValue: 60n * PRICE, cumulativeFee: 600n })),
        "clearing_signer_not_authorized",
      ],
      [body(wire(await voucher(5n * PRICE))), "clearing_voucher_already_accepted"],
      [body(wire(await voucher(5n * PRICE + 1n))), "clearing_cumulative_too_low"],
      [body(wire(await voucher(DEPOSIT))), "clearing_insufficient_balance"],
      // No deposit behind the payer.
      [
        body(wire(await voucher(PRICE, { from: fresh, signer: fresh }))),
        "clearing_unknown_account",
      ],
      // Deposits redirected, forged or not the payer's.
      [
        body(
          wire(
            await voucher(PRICE, { from: fresh, signer: fresh }),
            await deposit(fresh, DEPOSIT, payee),
          ),
        ),
        "clearing_deposit_recipient_mismatch",
      ],
      [
        body(
          wire(
            await voucher(PRICE, { from: fresh, signer: fresh }),
            await deposit(fresh, DEPOSIT, undefined, stranger.address),
          ),
        ),
        "clearing_deposit_nonce_mismatch",
      ],
      [
        body(
          wire(await voucher(PRICE, { from: fresh, signer: fresh }), await deposit(payer, DEPOSIT)),
        ),
        "clearing_deposit_payer_mismatch",
      ],
      [
        body(
          wire(await voucher(PRICE, { from: fresh, signer: fresh }), {
            ...(await deposit(fresh, DEPOSIT)),
            value: 2n * DEPOSIT,
          }),
        ),
        "clearing_deposit_invalid_signature",
      ],
      [
        body(
          wire(
            await voucher(PRICE, { from: fresh, signer: fresh }),
            await deposit(fresh, 10n ** 12n),
          ),
        ),
        "clearing_deposit_insufficient_funds",
      ],
    ];
    for (const [request, reason] of cases) await refused(request, reason);
    expect(await snapshot()).to.deep.equal(before);
  });

  it("random mutations of a valid payment: never a 5xx, never accepted, nothing moves", async function () {
    const before = await snapshot();
    const rand = random(0x402);
    const valid = wire(
      await voucher(PRICE, { from: fresh, signer: fresh }),
      await deposit(fresh, DEPOSIT),
    );
    const junk = (): unknown => {
      const pick = Math.floor(rand() * 10);
      return [
        null,
        "",
        "0x",
        -1,
        1e308,
        "0".repeat(90),
        { nested: [1, 2] },
        [],
        `0x${"ff".repeat(20)}`,
        zeroAddress,
      ][pick];
    };
    const paths: string[][] = [];
    const walk = (value: unknown, at: string[]) => {
      if (value && typeof value === "object") {
        for (const [k, v] of Object.entries(value)) walk(v, [...at, k]);
      } else paths.push(at);
    };
    walk(valid, []);
    for (let i = 0; i < 120; i++) {
      const payload = clone(valid);
      const at = paths[Math.floor(rand() * paths.length)]!;
      let target = payload as Record<string, unknown>;
      for (const key of at.slice(0, -1)) target = target[key] as Record<string, unknown>;
      const last = at[at.length - 1]!;
      let replacement = junk();
      if (JSON.stringify(replacement) === JSON.stringify(target[last])) replacement = "mutated";
      if (rand() < 0.1) delete target[last];
      else target[last] = replacement;
      for (const route of ["verify", "settle"]) {
        const answer = await postJson(`${facilitator.url}/${route}`, body(payload));
        expect(answer.status, `${route} ${at.join(".")}`).to.be.below(500);
        expect(answer.json.isValid ?? answer.json.success, `${route} ${at.join(".")}`).to.equal(
          false,
        );
      }
    }
    expect(await snapshot()).to.deep.equal(before);
  });
});
