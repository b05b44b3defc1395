import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";
import { createWalletClient, http, type Address, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import type { SignedDepositAuthorization } from "../../src/clearing/types.js";
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
import { kill9, prng, spawnFacilitator, type FacilitatorChild } from "./facilitatorProcess.js";
import {
  fundedPayers,
  nonceUsed,
  postJson,
  setIntervalMining,
  startLocalBase,
  usdcBalance,
  type LocalBase,
} from "./harness.js";

const TRIALS = 20;
const PRICE = 1_000n;
const DEPOSIT = 200_000n;
const PAYERS = 6;
const PAYEES = 2;
/** Requests each active payer makes per trial (sequentially), unless the process dies first. */
const REQUESTS_PER_PAYER = 6;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** What one payer's client knows: the totals it signed and the deposits it carried. */
interface PayerState {
  account: LocalAccount;
  /** The highest cumulative it signed, per payee. */
  signed: Map<Address, bigint>;
  /** The prices of the requests answered success, per payee. */
  answered: Map<Address, bigint>;
  /** Voucher keys answered success (for the store check). */
  answeredKeys: string[];
  /** The deposit it carries until a payment carrying it succeeds. */
  deposit: SignedDepositAuthorization | undefined;
  /** Every deposit it ever signed. */
  deposits: SignedDepositAuthorization[];
}

describe("facilitator: clearing crash and restart (kill -9 during deposits, vouchers and clears)", function () {
  let base: LocalBase;
  let dir: string;
  let clearingHouse: Address;
  let terms: ClearingTerms;
  const payees = Array.from(
    { length: PAYEES },
    () => privateKeyToAccount(generatePrivateKey()).address,
  );
  const feeRecipient = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    dir = mkdtempSync(path.join(tmpdir(), "clearing-crash-"));
    clearingHouse = await deployClearingHouse(base);
    terms = { clearingHouse, operator: base.relayer.address, feeBasisPoints: FEE_BPS };
    // The operator registers once, before the facilitator first runs.
    const wallet = createWalletClient({ account: base.relayer, transport: http(base.rpcUrl) });
    await base.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        address: clearingHouse,
        abi: clearingHouseAbi,
        functionName: "registerOperator",
        args: [feeRecipient, DELAY],
        chain: null,
      }),
    });
  });

  after(async function () {
    if (base) await base.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`clears every voucher answered success exactly once, conserving funds (${TRIALS} trials)`, async function () {
    const accounts = await fundedPayers(base, PAYERS, 10_000_000n);
    const payers: PayerState[] = accounts.map((account) => ({
      account,
      signed: new Map(),
      answered: new Map(),
      answeredKeys: [],
      deposit: undefined,
      deposits: [],
    }));
    // A block a second: deposits and clears spend real time between broadcast and inclusion.
    await setIntervalMining(base, 1_000);
    const payeeBefore = await Promise.all(payees.map((p) => usdcBalance(base.client, p)));
    const dbPath = path.join(dir, "facilitator.sqlite");
    const env = {
      CLEARING_HOUSE_ADDRESS: clearingHouse,
      CLEARING_FEE_BPS: String(FEE_BPS),
      CLEARING_WITHDRAWAL_DELAY: String(DELAY),
      CLEAR_INTERVAL_MS: "1500",
      CLEAR_THRESHOLD: String(8n * PRICE),
      CLEARING_DEPOSIT_WAIT_MS: "50",
      SETTLE_TIMEOUT_MS: "20000",
    };
    const seedText = process.env.CRASH_SEED;
    const seed = seedText ? Number(seedText) : Math.floor(Math.random() * 2 ** 32);
    if (!Number.isSafeInteger(seed))
      throw new Error(`CRASH_SEED must be an integer, got ${seedText}`);
    process.stdout.write(`      CRASH_SEED=${seed}\n`);
    const random = prng(seed);
    const outputs: string[] = [];
    let successes = 0;

    /** One payer's requests in a trial, sequential, until the process dies. */
    async function traffic(child: FacilitatorChild, payer: PayerState, alive: () => boolean) {
      for (let i = 0; i < REQUESTS_PER_PAYER && alive(); i++) {
        const payee = payees[Math.floor(random() * PAYEES)]!;
        const value = (payer.signed.get(payee) ?? 0n) + PRICE;
        payer.signed.set(payee, value);
        const voucher = await voucherFor(terms, payer.account, payee, value);
        if (!payer.deposit && payer.deposits.length === 0) {
          payer.deposit = await depositFor(terms, payer.account, DEPOSIT);
          payer.deposits.push(payer.deposit);
        }
        const body = clearingBody(terms, payee, PRICE, voucher, payer.deposit);
        const answer = await postJson(`${child.url}/settle`, body).catch(() => undefined);
        if (!answer) return; // the connection died with the process
        const json = answer.json as { success?: boolean; errorReason?: string };
        if (json.success === true) {
          successes += 1;
          payer.answered.set(payee, (payer.answered.get(payee) ?? 0n) + PRICE);
          const fee = computeVoucherFee({ basisPoints: FEE_BPS }, value);
          payer.answeredKeys.push(
            `${USDC_ADDRESS}:${payer.account.address}:${payee}:${value}:${fee}`.toLowerCase(),
          );
          payer.deposit = undefined;
        } else if (String(json.errorReason).startsWith("clearing_deposit_")) {
          if (json.errorReason !== "clearing_deposit_pending") payer.deposit = undefined;
          return;
        }
      }
    }

    for (let trial = 0; trial < TRIALS; trial += 1) {
      const child = await spawnFacilitator(base, dbPath, env);
      let alive = true;
      const active = payers.filter(() => random() < 0.7);
      const killAfter = Math.floor(random() * 2_500);
      const runs = active.map((payer) => traffic(child, payer, () => alive));
      await sleep(killAfter);
      alive = false;
      await kill9(child);
      await Promise.all(runs);
      outputs.push(child.output());
    }

    // A last run without faults follows what the crashes left and clears everything pending.
    const final = await spawnFacilitator(base, dbPath, env);
    try {
      const deadline = Date.now() + 90_000;
      const pairs = payers.flatMap((payer) => payees.map((payee) => ({ payer, payee })));
      for (;;) {
        const health = (await (await fetch(`${final.url}/health`)).json()) as {
          clearing: { deposits: Record<string, number> };
        };
        const open = health.clearing.deposits.received + health.clearing.deposits.submitted;
        let uncleared = 0;
        for (const { payer, payee } of pairs) {
          const state = (
            await postJson(`${final.url}/clearing/pair`, {
              payer: payer.account.address,
              payee,
              token: USDC_ADDRESS,
            })
          ).json as { cumulativeValue: string };
          const [cleared] = await readCleared(
            base,
            clearingHouse,
            payer.account.address,
            payee,
            base.relayer.address,
          );
          if (cleared !== BigInt(state.cumulativeValue)) uncleared += 1;
        }
        if (open === 0 && uncleared === 0) break;
        if (Date.now() > deadline)
          throw new Error(`not settled: ${open} deposits open, ${uncleared} pairs uncleared`);
        await sleep(500);
      }
      const restarts = [...outputs, final.output()].join("\n");
      process.stdout.write(
        `      ${successes} vouchers answered success; ` +
          `${(restarts.match(/recovering \d+ open deposit/g) ?? []).length} restarts found deposits open, ` +
          `${(restarts.match(/clearing: clear 0x/g) ?? []).length} clear transactions logged\n`,
      );
      expect(successes, "traffic got through").to.be.greaterThan(TRIALS);

      // Every voucher answered success is in the store.
      const db = new DatabaseSync(dbPath, { readOnly: true });
      const stored = new Set(
        (db.prepare("SELECT key FROM clearing_vouchers").all() as { key: string }[]).map(
          (row) => row.key,
        ),
      );
      db.close();
      for (const payer of payers) {
        for (const key of payer.answeredKeys)
          expect(stored.has(key), `stored ${key}`).to.equal(true);
      }

      let clearedValue = new Map<Address, bigint>();
      let clearedFees = 0n;
      let held = 0n;
      for (const payer of payers) {
        let debited = 0n;
        for (const payee of payees) {
          const [value, fee] = await readCleared(
            base,
            clearingHouse,
            payer.account.address,
            payee,
            base.relayer.address,
          );
          const answered = payer.answered.get(payee) ?? 0n;
          const state = (
            await postJson(`${final.url}/clearing/pair`, {
              payer: payer.account.address,
              payee,
              token: USDC_ADDRESS,
            })
          ).json as { charged: string; cumulativeValue: string };
          // Nothing answered is lost: the cleared total covers every success (and what the
          // ledger charged, restored after every crash), and nothing beyond what was signed.
          const charged = BigInt(state.charged);
          const signed = payer.signed.get(payee) ?? 0n;
          const where = `pair ${payer.account.address}->${payee}: answered ${answered}, charged ${charged}, cleared ${value}, signed ${signed}`;
          expect(value >= answered, `cleared covers the answered prices (${where})`).to.equal(true);
          expect(charged >= answered, `charged covers the answered prices (${where})`).to.equal(
            true,
          );
          expect(value >= charged, `cleared covers what was charged (${where})`).to.equal(true);
          expect(value <= signed, `cleared within what was signed (${where})`).to.equal(true);
          expect(fee).to.equal(computeVoucherFee({ basisPoints: FEE_BPS }, value));
          clearedValue.set(payee, (clearedValue.get(payee) ?? 0n) + value);
          clearedFees += fee;
          debited += value + fee;
        }
        // Conservation per account: what it deposited (authorizations used on chain) is what it
        // paid out plus what it still holds.
        let deposited = 0n;
        for (const deposit of payer.deposits) {
          if (await nonceUsed(base.client, deposit.from, deposit.nonce)) deposited += deposit.value;
        }
        const account = await readAccount(
          base,
          clearingHouse,
          payer.account.address,
          base.relayer.address,
        );
        expect(account.balance + debited, `payer ${payer.account.address}`).to.equal(deposited);
        held += account.balance;
      }
      // Funds moved once: payees received exactly the cleared values, the fee recipient the fees,
      // and the ClearingHouse holds exactly the remaining balances.
      for (const [index, payee] of payees.entries()) {
        expect(await usdcBalance(base.client, payee)).to.equal(
          payeeBefore[index]! + (clearedValue.get(payee) ?? 0n),
        );
      }
      expect(await usdcBalance(base.client, feeRecipient)).to.equal(clearedFees);
      expect(await usdcBalance(base.client, clearingHouse)).to.equal(held);
      clearedValue = new Map();
    } finally {
      await kill9(final);
    }
  });
});
