import { spawn, type ChildProcess } from "node:child_process";
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
import { freePort } from "../helpers/chainProcess.js";
import {
  fundedPayers,
  network,
  nonceUsed,
  postJson,
  projectRoot,
  RELAYER_KEY,
  setIntervalMining,
  startLocalBase,
  usdcBalance,
  type LocalBase,
} from "./harness.js";

const TRIALS = 20;
const PAYMENTS_PER_TRIAL = 4;
const VALUE = 1_000n;
const CHECKPOINTS = ["batchRecorded", "batchBroadcast", "batchMined"] as const;

interface Child {
  process: ChildProcess;
  url: string;
  output: () => string;
}

/** `npm run facilitator` as a child process, resolved once it logs that it listens. */
async function spawnFacilitator(base: LocalBase, dbPath: string, crashAt?: string): Promise<Child> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/facilitator.ts"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      PORT: String(port),
      EVM_PRIVATE_KEY: RELAYER_KEY,
      EVM_NETWORK: "base",
      EVM_RPC_URL: base.rpcUrl,
      ROUTER_ADDRESS: base.router,
      FACILITATOR_DB: dbPath,
      MAX_WAIT_MS: "150",
      POLLING_INTERVAL_MS: "100",
      ...(crashAt ? { FACILITATOR_CRASH_AT: crashAt } : {}),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`facilitator did not start:\n${output}`)),
      60_000,
    );
    const check = () => {
      if (output.includes("Facilitator listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`facilitator exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return { process: child, url: `http://127.0.0.1:${port}`, output: () => output };
}

async function kill9(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  child.process.kill("SIGKILL");
  await exited;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface Payment {
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

    for (let trial = 0; trial < TRIALS; trial += 1) {
      // Odd trials kill at a random time; even trials have the process kill itself at a checkpoint.
      const crashAt = trial % 2 === 0 ? CHECKPOINTS[(trial / 2) % CHECKPOINTS.length] : undefined;
      const child = await spawnFacilitator(base, dbPath, crashAt);
      const batch: Payment[] = [];
      for (let i = 0; i < PAYMENTS_PER_TRIAL; i += 1) {
        const payer = payers[(trial * PAYMENTS_PER_TRIAL + i) % payers.length];
        const created = await new ExactEvmClientScheme(
          toClientEvmSigner(payer),
        ).createPaymentPayload(2, requirements as never);
        const nonce = (created.payload as { authorization: { nonce: Hex } }).authorization.nonce;
        batch.push({
          payer: payer.address,
          nonce,
          body: {
            x402Version: 2,
            paymentPayload: { ...created, accepted: requirements },
            paymentRequirements: requirements,
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
        // Killed by its own checkpoint; if the checkpoint never came, kill it after the batch.
        await Promise.race([
          new Promise((resolve) => child.process.once("exit", resolve)),
          sleep(4_000),
        ]);
      } else {
        await sleep(Math.floor(Math.random() * 1_800));
      }
      await kill9(child);
      await Promise.all(requests);
      logs.push(child.output());
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

      // Every payment sent, asked again (idempotent): its final answer.
      const finals = await Promise.all(
        payments.map(async (payment) => (await postJson(`${final.url}/settle`, payment.body)).json),
      );
      let settled = 0;
      const settledPerPayer = new Map<Address, number>();
      for (const [index, payment] of payments.entries()) {
        const answer = finals[index] as {
          success: boolean;
          transaction: Hex;
          errorReason?: string;
        };
        const onChain = await nonceUsed(base.client, payment.payer, payment.nonce);
        if (answer.success) {
          settled += 1;
          settledPerPayer.set(payment.payer, (settledPerPayer.get(payment.payer) ?? 0) + 1);
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
        // Answers given before a crash never contradict the final one.
        for (const earlier of payment.answers) {
          if (earlier.success === true) expect(earlier).to.deep.equal(answer);
        }
      }
      // Funds moved exactly once per settled payment.
      expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + VALUE * BigInt(settled));
      for (const payer of payers) {
        const count = BigInt(settledPerPayer.get(payer.address) ?? 0);
        expect(await usdcBalance(base.client, payer.address)).to.equal(
          payerBefore.get(payer.address)! - VALUE * count,
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
      // Valid payments whose facilitator crashed still settle: at most the expired ones fail.
      expect(settled).to.equal(payments.length);
    } finally {
      await kill9(final);
    }
  });
});
