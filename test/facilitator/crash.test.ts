import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { toClientEvmSigner } from "@x402/evm";
import { expect } from "chai";
import { isAddressEqual, parseEventLogs, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { eip3009Abi } from "../../src/facilitator/abi.js";
import {
  fundedPayers,
  network,
  nonceUsed,
  postJson,
  setIntervalMining,
  startLocalBase,
  usdcBalance,
  type LocalBase,
} from "./harness.js";
import { kill9, prng, spawnFacilitator } from "./facilitatorProcess.js";

const TRIALS = 20;
const PAYMENTS_PER_TRIAL = 4;
const VALUE = 1_000n;
const CHECKPOINTS = ["batchRecorded", "batchBroadcast", "batchMined"] as const;
type Checkpoint = (typeof CHECKPOINTS)[number];
/** Trials per checkpoint that the process kills itself at; the other trials are killed at a time. */
const TRIALS_PER_CHECKPOINT = 4;

/** Where each trial is killed: at a checkpoint (by the process itself) or after a delay (by us). */
type KillPoint = { checkpoint: Checkpoint } | { afterMs: number };

/**
 * The kill schedule of one seed: every checkpoint {@link TRIALS_PER_CHECKPOINT} times, the rest
 * kills after 0-1.8 s (before, during or after a batch), in a seeded order.
 */
function killSchedule(seed: number): KillPoint[] {
  const random = prng(seed);
  const schedule: KillPoint[] = [];
  for (const checkpoint of CHECKPOINTS) {
    for (let i = 0; i < TRIALS_PER_CHECKPOINT; i += 1) schedule.push({ checkpoint });
  }
  while (schedule.length < TRIALS) schedule.push({ afterMs: Math.floor(random() * 1_800) });
  for (let i = schedule.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [schedule[i], schedule[j]] = [schedule[j]!, schedule[i]!];
  }
  return schedule;
}

/** Answers that are not a verdict on the payment: it may still settle. */
const NOT_A_VERDICT = new Set(["settlement_pending", "unexpected_settle_error"]);

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Payment {
  value: bigint;
  payer: Address;
  nonce: Hex;
  body: unknown;
  /** Answers received before the facilitator was killed. */
  answers: Record<string, unknown>[];
}

describe("facilitator: crash and restart (kill -9 between accepting and settling)", function () {
  let base: LocalBase;
  let dir: string;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    dir = mkdtempSync(path.join(tmpdir(), "facilitator-crash-"));
  });

  after(async function () {
    if (base) await base.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it(`settles every accepted payment exactly once or reports it failed (${TRIALS} trials)`, async function () {
    const payers: LocalAccount[] = await fundedPayers(base, 8, 1_000_000n);
    // A block a second: batches spend real time between broadcast and inclusion.
    await setIntervalMining(base, 1_000);
    const requirements = {
      scheme: "exact",
      network: network.v2,
      amount: VALUE.toString(),
      asset: USDC_ADDRESS,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    const payeeBefore = await usdcBalance(base.client, payTo);
    const payerBefore = new Map<Address, bigint>();
    for (const payer of payers)
      payerBefore.set(payer.address, await usdcBalance(base.client, payer.address));
    const dbPath = path.join(dir, "facilitator.sqlite");
    const payments: Payment[] = [];
    const logs: string[] = [];
    const seedText = process.env.CRASH_SEED;
    const seed = seedText ? Number(seedText) : Math.floor(Math.random() * 2 ** 32);
    if (!Number.isSafeInteger(seed))
      throw new Error(`CRASH_SEED must be an integer, got ${seedText}`);
    const schedule = killSchedule(seed);
    process.stdout.write(`      CRASH_SEED=${seed}\n`);
    /** The checkpoints at which a process really killed itself. */
    const fired = new Map<Checkpoint, number>();

    for (let trial = 0; trial < TRIALS; trial += 1) {
      const killPoint = schedule[trial]!;
      const crashAt = "checkpoint" in killPoint ? killPoint.checkpoint : undefined;
      const child = await spawnFacilitator(
        base,
        dbPath,
        crashAt ? { FACILITATOR_CRASH_AT: crashAt } : {},
      );
      const batch: Payment[] = [];
      for (let i = 0; i < PAYMENTS_PER_TRIAL; i += 1) {
        const payer = payers[(trial * PAYMENTS_PER_TRIAL + i) % payers.length]!;
        // A distinct value per payment: the payee's balance then says which payments moved funds.
        const value = VALUE + BigInt(payments.length + batch.length);
        const paid = { ...requirements, amount: value.toString() };
        const created = await new ExactEvmClientScheme(
          toClientEvmSigner(payer),
        ).createPaymentPayload(2, paid as never);
        const nonce = (created.payload as { authorization: { nonce: Hex } }).authorization.nonce;
        batch.push({
          value,
          payer: payer.address,
          nonce,
          body: {
            x402Version: 2,
            // A payment-identifier (x402's extension): an answer lost with a killed process is
            // asked for again by the same request, and one success answer per payment holds.
            paymentPayload: {
              ...created,
              accepted: paid,
              extensions: { "payment-identifier": { info: { id: `pay_${nonce.slice(2, 34)}` } } },
            },
            paymentRequirements: paid,
          },
          answers: [],
        });
      }
      payments.push(...batch);
      const requests = batch.map((payment) =>
        postJson(`${child.url}/settle`, payment.body).then(
          ({ json }) => payment.answers.push(json),
          () => undefined, // the connection died with the process
        ),
      );
      if (crashAt) {
        // Killed by its own checkpoint (usually within 2 s); if the checkpoint never came, kill
        // it after a generous wait (a loaded machine), and the coverage check below says so.
        await Promise.race([
          new Promise((resolve) => child.process.once("exit", resolve)),
          sleep(15_000),
        ]);
      } else {
        await sleep((killPoint as { afterMs: number }).afterMs);
      }
      await kill9(child);
      await Promise.all(requests);
      const output = child.output();
      logs.push(output);
      if (crashAt && output.includes(`crash injected at ${crashAt}`)) {
        fired.set(crashAt, (fired.get(crashAt) ?? 0) + 1);
      }
    }
    // Every checkpoint was hit: the process killed itself there at least once.
    process.stdout.write(
      `      checkpoints hit: ${JSON.stringify(Object.fromEntries(fired))} ` +
        `(of ${TRIALS_PER_CHECKPOINT} trials each)\n`,
    );
    for (const checkpoint of CHECKPOINTS) {
      expect(fired.get(checkpoint) ?? 0, `${checkpoint} fired (CRASH_SEED=${seed})`).to.be.at.least(
        1,
      );
    }

    // A last run without faults reconciles whatever the crashes left behind.
    const final = await spawnFacilitator(base, dbPath);
    try {
      // The crashes did hit the hard cases: batches signed or broadcast but not seen mined.
      const restarts = [...logs, final.output()].join("\n");
      expect(restarts).to.match(/reconciling \d+ open batch/);
      process.stdout.write(
        `      ${(restarts.match(/reconciling/g) ?? []).length} restarts found open batches, ` +
          `${(restarts.match(/re-broadcast batch/g) ?? []).length} batches re-broadcast\n`,
      );
      const deadline = Date.now() + 60_000;
      for (;;) {
        const health = (await (await fetch(`${final.url}/health`)).json()) as {
          payments: Record<string, number>;
        };
        if (health.payments.queued + health.payments.submitted === 0) break;
        if (Date.now() > deadline) throw new Error(`not reconciled: ${JSON.stringify(health)}`);
        await sleep(250);
      }

      // What the store says, before anyone asks again: nothing open, nothing lost.
      const db = new DatabaseSync(dbPath, { readOnly: true });
      const rows = db.prepare("SELECT id, status, tx_hash, payer, nonce FROM payments").all() as {
        id: string;
        status: string;
        tx_hash: string | null;
        payer: Address;
        nonce: Hex;
      }[];
      db.close();
      for (const row of rows) expect(["settled", "failed"]).to.include(row.status);

      // Every payment sent, asked again by the same request (same payment-identifier): its final answer.
      const finals = await Promise.all(
        payments.map(async (payment) => (await postJson(`${final.url}/settle`, payment.body)).json),
      );
      let settled = 0;
      let settledValue = 0n;
      const settledPerPayer = new Map<Address, bigint>();
      for (const [index, payment] of payments.entries()) {
        const answer = finals[index] as {
          success: boolean;
          transaction: Hex;
          errorReason?: string;
        };
        const onChain = await nonceUsed(base.client, payment.payer, payment.nonce);
        if (answer.success) {
          settled += 1;
          settledValue += payment.value;
          settledPerPayer.set(
            payment.payer,
            (settledPerPayer.get(payment.payer) ?? 0n) + payment.value,
          );
          expect(onChain, "settled payment's nonce is used").to.equal(true);
          // The reported transaction is the one that used this nonce and moved this payment.
          const receipt = await base.client.getTransactionReceipt({ hash: answer.transaction });
          const logs = parseEventLogs({ abi: eip3009Abi, logs: receipt.logs });
          expect(
            logs.some(
              (log) =>
                log.eventName === "AuthorizationUsed" &&
                isAddressEqual(log.args.authorizer, payment.payer) &&
                log.args.nonce === payment.nonce,
            ),
          ).to.equal(true);
        } else {
          expect(answer.errorReason).to.not.equal("settlement_pending");
          expect(onChain, `failed payment ${JSON.stringify(answer)} must not be settled`).to.equal(
            false,
          );
        }
        // Answers given before a crash never contradict the final one: a success stays the same
        // success, a failure verdict stays a failure with its nonce unused on chain.
        for (const earlier of payment.answers) {
          if (earlier.success === true) expect(earlier).to.deep.equal(answer);
          else if (!NOT_A_VERDICT.has(String(earlier.errorReason))) {
            expect(answer.success, `reported ${earlier.errorReason}, then settled`).to.equal(false);
            expect(onChain, `reported ${earlier.errorReason}, nonce used`).to.equal(false);
          }
        }
      }
      // Funds moved exactly once per settled payment: the payee holds the sum of the settled
      // values (distinct per payment), each payer is debited its settled values.
      expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + settledValue);
      for (const payer of payers) {
        expect(await usdcBalance(base.client, payer.address)).to.equal(
          payerBefore.get(payer.address)! - (settledPerPayer.get(payer.address) ?? 0n),
        );
      }
      // Persisted payments all appear among the final answers with the same outcome.
      for (const row of rows) {
        const index = payments.findIndex(
          (payment) =>
            payment.nonce === row.nonce && payment.payer.toLowerCase() === row.payer.toLowerCase(),
        );
        expect(index, `stored payment ${row.id}`).to.be.greaterThan(-1);
        expect((finals[index] as { success: boolean }).success).to.equal(row.status === "settled");
      }
      // Every payment was valid and none expires during the test (maxTimeoutSeconds 300): each one
      // settles, whatever crashes its facilitator went through.
      expect(settled).to.equal(payments.length);
    } finally {
      await kill9(final);
    }
  });
});
