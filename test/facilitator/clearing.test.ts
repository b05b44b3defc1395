import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";
import {
  createPublicClient,
  createWalletClient,
  http,
  type Address,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { encodeDeposits } from "../../src/clearing/encodeDeposits.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import type { AcceptedVoucherRecord } from "../../src/clearing/ledgerStore.js";
import { ClearingFacilitator } from "../../src/facilitator/clearing/facilitator.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";
import {
  clearingBody,
  DELAY,
  deployClearingHouse,
  depositFor,
  FEE_BPS,
  readAccount,
  readCleared,
  voucherFor,
  type ClearingTerms,
} from "./clearingHarness.js";
import {
  fundedPayers,
  network,
  postJson,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const PRICE = 10_000n;
const DEPOSIT = 2_000_000n;

function record(i: number): AcceptedVoucherRecord {
  const payer = `0x${"11".repeat(20)}` as Address;
  return {
    key: `k${i}`,
    voucher: {
      payer,
      payee: `0x${"22".repeat(20)}`,
      token: USDC_ADDRESS,
      operator: `0x${"33".repeat(20)}`,
      cumulativeValue: BigInt(i + 1) * PRICE,
      cumulativeFee: BigInt(i + 1),
      signature: `0x${"ab".repeat(65)}`,
    },
    price: PRICE,
    signer: payer,
    acceptedAt: 1_700_000_000_000 + i,
  };
}

async function waitFor(condition: () => Promise<boolean> | boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("facilitator: the clearing store (SQLite, group commit)", function () {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "clearing-store-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("writes appended vouchers on commit, in order, and reloads them after a reopen", async function () {
    const file = path.join(dir, "vouchers.sqlite");
    const store = new ClearingStore(file, { gatherMs: 20 });
    const reader = new DatabaseSync(file, { readOnly: true });
    const count = () =>
      Number(
        (reader.prepare("SELECT COUNT(*) AS n FROM clearing_vouchers").get() as { n: number }).n,
      );
    for (let i = 0; i < 5; i++) store.append(record(i));
    // Nothing is on disk before the group is written; commit resolves only once it is.
    expect(count()).to.equal(0);
    await store.commit();
    expect(count()).to.equal(5);
    store.append(record(5));
    await store.commit();
    expect(count()).to.equal(6);
    reader.close();
    store.close();
    const reopened = new ClearingStore(file);
    const loaded = reopened.load();
    expect(loaded.map((r) => r.key)).to.deep.equal(["k0", "k1", "k2", "k3", "k4", "k5"]);
    expect(loaded[3]).to.deep.equal(record(3));
    reopened.close();
  });

  it("stops after a failed write: the group's commit rejects and later appends throw", async function () {
    const store = new ClearingStore(":memory:", { gatherMs: 1 });
    store.append(record(0));
    await store.commit();
    store.append(record(0)); // the same key again: the write fails
    let rejected = false;
    await store.commit().catch(() => (rejected = true));
    expect(rejected).to.equal(true);
    expect(() => store.append(record(1))).to.throw(/stopped/);
    expect(store.load().map((r) => r.key)).to.deep.equal(["k0"]);
  });

  it("keeps deposits once, with their state", function () {
    const store = new ClearingStore(":memory:");
    const deposit = {
      kind: "deposit" as const,
      from: `0x${"11".repeat(20)}` as Address,
      to: `0x${"44".repeat(20)}` as Address,
      value: 5n,
      validAfter: 0n,
      validBefore: 10n,
      nonce: `0x${"55".repeat(32)}` as const,
      operator: `0x${"33".repeat(20)}` as Address,
      voucherSigner: `0x${"00".repeat(20)}` as Address,
      salt: `0x${"66".repeat(32)}` as const,
      signature: `0x${"ab".repeat(65)}` as const,
    };
    const first = store.insertDeposit(USDC_ADDRESS, deposit);
    const again = store.insertDeposit(USDC_ADDRESS, deposit);
    expect(first.created).to.equal(true);
    expect(again.created).to.equal(false);
    expect(store.openDeposits()).to.have.length(1);
    store.setDeposits([first.deposit.id], "submitted", { txHash: `0x${"77".repeat(32)}` });
    expect(store.getDeposit(first.deposit.id)!.state).to.equal("submitted");
    store.setDeposits([first.deposit.id], "mined");
    expect(store.getDeposit(first.deposit.id)!.txHash).to.equal(`0x${"77".repeat(32)}`);
    expect(store.openDeposits()).to.have.length(0);
    expect(store.getDeposit(first.deposit.id)!.deposit).to.deep.equal(deposit);
    expect(store.depositCounts()).to.deep.include({ mined: 1, received: 0 });
  });
});

describe("facilitator: the clearing scheme on the simulated Base", function () {
  let base: LocalBase;
  let clearingHouse: Address;
  let terms: ClearingTerms;
  let running: RunningFacilitator;
  let payers: LocalAccount[];
  let dir: string;
  const payee = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    clearingHouse = await deployClearingHouse(base);
    terms = { clearingHouse, operator: base.relayer.address };
    payers = await fundedPayers(base, 12, 10_000_000n);
    dir = mkdtempSync(path.join(tmpdir(), "clearing-fac-"));
    running = await startFacilitator(base, {
      log: (line) => process.env.CLEARING_TEST_LOG && process.stdout.write(`      | ${line}\n`),
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
  });

  after(async function () {
    await running?.stop();
    await base?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const settle = (body: unknown) => postJson(`${running.url}/settle`, body);
  const verify = (body: unknown) => postJson(`${running.url}/verify`, body);
  const relayerNonce = () =>
    base.client.getTransactionCount({ address: base.relayer.address, blockTag: "pending" });

  it("lists clearing in /supported with the operator's terms, beside exact", async function () {
    const supported = (await (await fetch(`${running.url}/supported`)).json()) as {
      kinds: { scheme: string; network: string; extra?: Record<string, unknown> }[];
    };
    expect(supported.kinds.map((k) => k.scheme)).to.include.members(["exact", "clearing"]);
    const kind = supported.kinds.find((k) => k.scheme === "clearing")!;
    expect(kind.network).to.equal(network.v2);
    expect(kind.extra).to.deep.include({
      clearingHouse,
      operator: base.relayer.address,
      feeBasisPoints: FEE_BPS,
      withdrawalDelay: DELAY,
      name: "USD Coin",
      version: "2",
    });
  });

  it("settles a first payment with its deposit on chain, then answers vouchers with no transaction", async function () {
    const payer = payers[0]!;
    const deposit = await depositFor(terms, payer, DEPOSIT);
    const first = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, PRICE),
      deposit,
    );
    expect((await verify(first)).json).to.include({ isValid: true });
    const answer = await settle(first);
    expect(answer.json).to.deep.include({ success: true, transaction: "", network: network.v2 });
    expect(answer.json.extra).to.deep.equal({
      charged: PRICE.toString(),
      cumulativeValue: PRICE.toString(),
      cumulativeFee: (PRICE / 100n).toString(),
      balance: DEPOSIT.toString(),
      uncleared: (PRICE + PRICE / 100n).toString(),
    });
    expect(
      (await readAccount(base, clearingHouse, payer.address, base.relayer.address)).balance,
    ).to.equal(DEPOSIT);

    const nonce = await relayerNonce();
    for (let i = 2n; i <= 5n; i++) {
      const next = clearingBody(
        terms,
        payee,
        PRICE,
        await voucherFor(terms, payer, payee, i * PRICE),
      );
      expect((await verify(next)).json).to.include({ isValid: true });
      const settled = await settle(next);
      expect(settled.json).to.deep.include({ success: true, transaction: "" });
      expect((settled.json.extra as { charged: string }).charged).to.equal((i * PRICE).toString());
    }
    expect(await relayerNonce()).to.equal(nonce);
  });

  it("answers one voucher success at most once: the same body again is refused with the pair's state", async function () {
    const payer = payers[0]!;
    const body = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 6n * PRICE),
    );
    const [a, b] = await Promise.all([settle(body), settle(body)]);
    const successes = [a, b].filter((r) => r.json.success === true);
    expect(successes).to.have.length(1);
    const again = await settle(body);
    expect(again.json).to.deep.include({
      success: false,
      errorReason: "clearing_voucher_already_accepted",
    });
    const pair = (again.json.extra as { pair: Record<string, unknown> }).pair;
    expect(pair).to.deep.include({ payer: payer.address, charged: (6n * PRICE).toString() });
    expect((pair.voucher as { cumulativeValue: string }).cumulativeValue).to.equal(
      (6n * PRICE).toString(),
    );
    // POST /clearing/pair gives the same state.
    const state = await postJson(`${running.url}/clearing/pair`, {
      payer: payer.address,
      payee,
      token: USDC_ADDRESS,
    });
    expect(state.json).to.deep.equal(pair);
  });

  it("refuses a voucher that pays nothing new, and a verify never charges", async function () {
    const payer = payers[0]!;
    const stale = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 3n * PRICE),
    );
    expect((await verify(stale)).json).to.deep.include({
      isValid: false,
      invalidReason: "clearing_voucher_already_accepted",
    });
    const low = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 6n * PRICE + 1n),
    );
    expect((await settle(low)).json).to.deep.include({
      errorReason: "clearing_cumulative_too_low",
    });
    const next = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 7n * PRICE),
    );
    for (let i = 0; i < 3; i++) expect((await verify(next)).json).to.include({ isValid: true });
    expect((await settle(next)).json).to.include({ success: true });
  });

  it("accepts concurrent vouchers of one payer in any order, each paying once", async function () {
    const payer = payers[1]!;
    const first = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, PRICE),
      await depositFor(terms, payer, DEPOSIT),
    );
    expect((await settle(first)).json).to.include({ success: true });
    const vouchers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => voucherFor(terms, payer, payee, BigInt(i + 2) * PRICE)),
    );
    vouchers.reverse();
    const answers = await Promise.all(
      vouchers.map((v) => settle(clearingBody(terms, payee, PRICE, v))),
    );
    expect(answers.filter((a) => a.json.success === true)).to.have.length(20);
    const state = await postJson(`${running.url}/clearing/pair`, {
      payer: payer.address,
      payee,
      token: USDC_ADDRESS,
    });
    expect(state.json.charged).to.equal((21n * PRICE).toString());
  });

  it("settles many deposits in one transaction", async function () {
    const group = payers.slice(2, 10);
    const nonce = await relayerNonce();
    const answers = await Promise.all(
      group.map(async (payer) =>
        settle(
          clearingBody(
            terms,
            payee,
            PRICE,
            await voucherFor(terms, payer, payee, PRICE),
            await depositFor(terms, payer, DEPOSIT),
          ),
        ),
      ),
    );
    for (const answer of answers) expect(answer.json).to.include({ success: true });
    // Eight deposits, gathered: one or two transactions (a slow signer may miss the first).
    expect((await relayerNonce()) - nonce).to.be.at.most(2);
    for (const payer of group) {
      expect(
        (await readAccount(base, clearingHouse, payer.address, base.relayer.address)).balance,
      ).to.equal(DEPOSIT);
    }
  });

  it("refuses adversarial deposits with a clear reason and spends no gas on them", async function () {
    const payer = payers[10]!;
    const voucher = await voucherFor(terms, payer, payee, PRICE);
    const nonce = await relayerNonce();
    const good = await depositFor(terms, payer, DEPOSIT);
    const cases: [string, unknown][] = [
      [
        "clearing_deposit_invalid_signature",
        clearingBody(terms, payee, PRICE, voucher, {
          ...good,
          signature: (await depositFor(terms, payers[11]!, DEPOSIT)).signature,
        }),
      ],
      [
        "clearing_deposit_nonce_mismatch",
        clearingBody(
          terms,
          payee,
          PRICE,
          voucher,
          await depositFor(terms, payer, DEPOSIT, { operator: payee }),
        ),
      ],
      [
        "clearing_deposit_recipient_mismatch",
        clearingBody(
          terms,
          payee,
          PRICE,
          voucher,
          await depositFor(terms, payer, DEPOSIT, { to: payee }),
        ),
      ],
      [
        "clearing_deposit_insufficient_funds",
        clearingBody(terms, payee, PRICE, voucher, await depositFor(terms, payer, 10n ** 12n)),
      ],
    ];
    const unfunded = privateKeyToAccount(generatePrivateKey());
    cases.push([
      "clearing_deposit_insufficient_funds",
      clearingBody(
        terms,
        payee,
        PRICE,
        await voucherFor(terms, unfunded, payee, PRICE),
        await depositFor(terms, unfunded, DEPOSIT),
      ),
    ]);
    for (const [reason, body] of cases) {
      expect((await verify(body)).json, reason).to.deep.include({
        isValid: false,
        invalidReason: reason,
      });
      expect((await settle(body)).json, reason).to.deep.include({
        success: false,
        errorReason: reason,
      });
    }
    // A used nonce: the good deposit, settled once, then carried again with a new voucher.
    expect((await settle(clearingBody(terms, payee, PRICE, voucher, good))).json).to.include({
      success: true,
    });
    const used = nonce + 1;
    expect(await relayerNonce()).to.equal(used);
    const replayed = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 2n * PRICE),
      { ...good, salt: good.salt },
    );
    expect((await settle(replayed)).json).to.include({ success: true }); // the deposit is known: only the voucher counts
    const reused = await depositFor(terms, payer, DEPOSIT);
    // A deposit whose nonce was used on chain by someone else first.
    // Sent by a stranger (the relayer's key belongs to the facilitator alone).
    const stranger = payers[11]!;
    await base.testClient.setBalance({ address: stranger.address, value: 10n ** 18n });
    const wallet = createWalletClient({ account: stranger, transport: http(base.rpcUrl) });
    await base.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: clearingHouse,
        abi: clearingHouseAbi,
        functionName: "depositWithAuthorizations",
        args: [USDC_ADDRESS, encodeDeposits([reused])],
        chain: null,
      }),
    });
    const afterFront = await relayerNonce();
    const front = clearingBody(
      terms,
      payee,
      PRICE,
      await voucherFor(terms, payer, payee, 3n * PRICE),
      reused,
    );
    expect((await settle(front)).json).to.deep.include({
      errorReason: "clearing_deposit_nonce_used",
    });
    expect(await relayerNonce()).to.equal(afterFront);
  });

  it("refuses requirements that name another ClearingHouse, operator or fee", async function () {
    const payer = payers[0]!;
    const voucher = await voucherFor(terms, payer, payee, 8n * PRICE);
    for (const other of [
      { ...terms, clearingHouse: payee },
      { ...terms, operator: payee },
      { ...terms, feeBasisPoints: FEE_BPS + 1 },
    ]) {
      const body = clearingBody(other, payee, PRICE, voucher);
      expect((await settle(body)).json).to.deep.include({
        success: false,
        errorReason: "clearing_requirements_mismatch",
      });
    }
  });

  it("clears at once when a payer requests a withdrawal, long before its delay ends", async function () {
    const payer = payers[2]!;
    await base.testClient.setBalance({ address: payer.address, value: 10n ** 18n });
    const wallet = createWalletClient({ account: payer, transport: http(base.rpcUrl) });
    await base.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: clearingHouse,
        abi: clearingHouseAbi,
        functionName: "requestWithdrawal",
        args: [base.relayer.address, USDC_ADDRESS, 1n],
        chain: null,
      }),
    });
    await waitFor(
      async () =>
        (await readCleared(base, clearingHouse, payer.address, payee, base.relayer.address))[0] ===
        PRICE,
    );
    const account = await readAccount(base, clearingHouse, payer.address, base.relayer.address);
    expect(account.balance).to.equal(DEPOSIT - PRICE - PRICE / 100n);
    expect(Number(account.withdrawalReadyAt)).to.be.greaterThan(
      Math.floor(Date.now() / 1000) + 600,
    );
  });
});

describe("facilitator: the clearing part in process (no RPC on verify, threshold clears, throughput)", function () {
  let base: LocalBase;
  let clearingHouse: Address;
  let terms: ClearingTerms;
  let counting: PublicClient;
  let requests = 0;
  let clearing: ClearingFacilitator;
  let payers: LocalAccount[];
  const payee = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    clearingHouse = await deployClearingHouse(base);
    const operator = privateKeyToAccount(generatePrivateKey());
    await base.testClient.setBalance({ address: operator.address, value: 10n ** 20n });
    terms = { clearingHouse, operator: operator.address };
    payers = await fundedPayers(base, 20, 10_000_000n);
    counting = createPublicClient({
      chain: base.client.chain,
      transport: http(base.rpcUrl, {
        onFetchRequest: () => {
          requests += 1;
        },
      }),
    });
    clearing = new ClearingFacilitator({
      client: counting,
      network,
      clearingHouse,
      operator,
      store: new ClearingStore(":memory:"),
      feeBasisPoints: FEE_BPS,
      withdrawalDelaySeconds: DELAY,
      clearIntervalMs: 0,
      clearThreshold: 50n * PRICE,
      // Event polling out of the way: the requests counted are the verify's own.
      pollingIntervalMs: 60_000,
    });
    await clearing.start();
  });

  after(async function () {
    await clearing?.close();
    await base?.stop();
  });

  it("verifies vouchers without a single RPC call", async function () {
    const payer = payers[0]!;
    const deposit = await depositFor(terms, payer, DEPOSIT);
    const first = await clearing.settle(
      clearingBody(terms, payee, PRICE, await voucherFor(terms, payer, payee, PRICE), deposit),
    );
    expect(first.body).to.include({ success: true });
    const bodies = await Promise.all(
      Array.from({ length: 30 }, async (_, i) =>
        clearingBody(
          terms,
          payee,
          PRICE,
          await voucherFor(terms, payer, payee, BigInt(i + 2) * PRICE),
        ),
      ),
    );
    const before = requests;
    for (const body of bodies)
      expect((await clearing.verify(body)).body).to.include({ isValid: true });
    expect(requests - before).to.equal(0);
  });

  it("clears an account once its uncleared total reaches the threshold", async function () {
    const payer = payers[1]!;
    const deposit = await depositFor(terms, payer, DEPOSIT);
    expect(
      (
        await clearing.settle(
          clearingBody(terms, payee, PRICE, await voucherFor(terms, payer, payee, PRICE), deposit),
        )
      ).body,
    ).to.include({ success: true });
    for (let i = 2n; i <= 49n; i++) {
      expect(
        (
          await clearing.settle(
            clearingBody(terms, payee, PRICE, await voucherFor(terms, payer, payee, i * PRICE)),
          )
        ).body,
      ).to.include({ success: true });
    }
    // 49 prices plus fee are below the threshold of 50 prices: nothing cleared yet.
    expect(
      (await readCleared(base, clearingHouse, payer.address, payee, terms.operator))[0],
    ).to.equal(0n);
    expect(
      (
        await clearing.settle(
          clearingBody(terms, payee, PRICE, await voucherFor(terms, payer, payee, 50n * PRICE)),
        )
      ).body,
    ).to.include({ success: true });
    await waitFor(
      async () =>
        (await readCleared(base, clearingHouse, payer.address, payee, terms.operator))[0] ===
        50n * PRICE,
    );
  });

  it("settles 1,800 vouchers of 18 payers, 10 in flight per payer, every one answered success (rate printed)", async function () {
    const group = payers.slice(2, 20);
    await Promise.all(
      group.map(async (payer) =>
        expect(
          (
            await clearing.settle(
              clearingBody(
                terms,
                payee,
                PRICE,
                await voucherFor(terms, payer, payee, PRICE),
                await depositFor(terms, payer, DEPOSIT),
              ),
            )
          ).body,
        ).to.include({ success: true }),
      ),
    );
    const perPayer = 100;
    const bodies: unknown[][] = await Promise.all(
      group.map(async (payer) =>
        Promise.all(
          Array.from({ length: perPayer }, async (_, i) =>
            clearingBody(
              terms,
              payee,
              PRICE,
              await voucherFor(terms, payer, payee, BigInt(i + 2) * PRICE),
            ),
          ),
        ),
      ),
    );
    const started = performance.now();
    const answers = await Promise.all(
      bodies.map(async (list) => {
        const out = [];
        // Each payer keeps 10 requests in flight.
        for (let i = 0; i < list.length; i += 10)
          out.push(...(await Promise.all(list.slice(i, i + 10).map((b) => clearing.settle(b)))));
        return out;
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const flat = answers.flat();
    expect(flat.filter((a) => a.body.success === true)).to.have.length(group.length * perPayer);
    process.stdout.write(
      `      ${flat.length} settles in ${seconds.toFixed(2)} s: ${Math.round(flat.length / seconds)} settles/s\n`,
    );
  });
});
