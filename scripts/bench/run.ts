/**
 * The benchmark itself, usable in-process: for each token and method, fund distinct payers, sign,
 * settle, and measure gas, L1 data and throughput from what landed on chain.
 */
import type { Address } from "viem";

import type { BenchMethod, BenchOptions, BenchTokenName } from "./args.js";
import type { BenchChain } from "./chain.js";
import { BenchUsageError } from "./errors.js";
import { measureTransactions } from "./measure.js";
import { runMulticall3 } from "./methods/multicall3.js";
import { deployRouter, runRouterDirect, runRouterRouted } from "./methods/router.js";
import { runExactSingle } from "./methods/single.js";
import type { MethodContext, MethodOutcome } from "./methods/types.js";
import { type Progress, silentProgress } from "./progress.js";
import { type BenchToken, benchAddress, benchPayers, setupBenchToken } from "./tokens.js";
import type { BenchResults, BenchRun } from "./types.js";

/** Amount per payment: 0.01 of a 6-decimal token. */
export const PAYMENT_AMOUNT = 10_000n;

const ON_CHAIN_METHODS: Partial<
  Record<BenchMethod, (ctx: MethodContext) => Promise<MethodOutcome>>
> = {
  "x402-exact-single": runExactSingle,
  multicall3: runMulticall3,
  "router-direct": runRouterDirect,
  "router-routed": runRouterRouted,
};

/** The parameters the facilitator helper's `runFacilitatorBenchmark` receives. */
export interface FacilitatorBenchContext {
  chain: BenchChain;
  token: BenchToken;
  tokenName: BenchTokenName;
  payers: MethodContext["payers"];
  payee: Address;
  amount: bigint;
  batchSizes: number[];
  payments: number;
  blockTime: number;
  /** Concurrent paying clients. */
  clients: number;
  progress: Progress;
}

type FacilitatorRunner = (ctx: FacilitatorBenchContext) => Promise<BenchRun[]>;

/** The batching facilitator's benchmark, when its module is there. */
export async function loadFacilitatorRunner(): Promise<FacilitatorRunner | undefined> {
  const specifier = ["./facilitator", "js"].join(".");
  try {
    const mod = (await import(specifier)) as { runFacilitatorBenchmark?: FacilitatorRunner };
    return mod.runFacilitatorBenchmark;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const missing =
      e.code === "ERR_MODULE_NOT_FOUND" && String(e.message).includes("scripts/bench/facilitator");
    if (missing) return undefined;
    throw error;
  }
}

/** How many payments a full run will attempt (for the progress bar). */
export function plannedPayments(options: BenchOptions): number {
  let perToken = 0;
  for (const method of options.methods)
    perToken +=
      method === "x402-exact-single"
        ? options.payments
        : options.payments * options.batchSizes.length;
  return perToken * options.tokens.length;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Turns what a method did into a {@link BenchRun} (receipts, token events, wall clock). */
export async function measureRun(
  ctx: MethodContext,
  method: BenchMethod,
  outcome: MethodOutcome,
): Promise<BenchRun> {
  const totals = await measureTransactions(
    ctx.chain.client,
    ctx.token.address,
    outcome.hashes,
    outcome.expected,
  );
  const payments = outcome.expected.length;
  const settled = totals.settled;
  return {
    token: ctx.token.name,
    method,
    batchSize: method === "x402-exact-single" ? 1 : ctx.batchSize,
    payments,
    settled,
    failed: payments - settled,
    gasPerPayment: settled > 0 ? Math.round(Number(totals.gasUsed) / settled) : 0,
    l1BytesPerPayment: settled > 0 ? round(totals.l1Bytes / settled, 1) : 0,
    paymentsPerSecond: outcome.elapsedMs > 0 ? round((settled * 1000) / outcome.elapsedMs, 1) : 0,
    transactions: totals.transactions,
    ...(outcome.failures && Object.keys(outcome.failures).length > 0
      ? { failureReasons: outcome.failures }
      : {}),
  };
}

/**
 * Runs every selected (token, method, batch size) on `chain` and returns the results.
 *
 * @example
 * const chain = await openBenchChain();
 * const results = await runBenchmark(chain, parseBenchArgs(["--quick"]));
 */
export async function runBenchmark(
  chain: BenchChain,
  options: BenchOptions,
  progress: Progress = silentProgress,
): Promise<BenchResults> {
  const runs: BenchRun[] = [];
  const facilitatorRunner = options.methods.includes("facilitator")
    ? await loadFacilitatorRunner()
    : undefined;
  if (options.methods.includes("facilitator") && !facilitatorRunner)
    throw new BenchUsageError(
      "method facilitator is unavailable: the batching facilitator's benchmark module (scripts/bench/facilitator.ts) is not in this checkout",
    );

  const submitter = chain.wallets[1] ?? chain.wallets[0]!;
  const payee = benchAddress("bench-payee");
  const feeRecipient = benchAddress("bench-fee-recipient");
  const usesRouter = options.methods.some((m) => m.startsWith("router-"));
  const router = usesRouter ? await deployRouter(chain, chain.wallets[0]!) : undefined;

  if (options.blockTime > 0) await chain.setBlockTime(options.blockTime);
  try {
    for (const tokenName of options.tokens) {
      const token = await setupBenchToken(chain, tokenName);
      const payers = benchPayers(options.payments);
      const runsOfToken = options.methods.reduce(
        (n, m) => n + (m === "x402-exact-single" ? 1 : options.batchSizes.length),
        0,
      );
      progress.label(`${tokenName}: funding ${payers.length} payers`);
      // The payee and the fee recipient hold a balance before the first run, as a merchant and a relayer do
      // in steady state: no method's first payment pays for creating their balance slots.
      await token.fund(
        [...payers.map((p) => p.address), payee, feeRecipient],
        // Every run spends one payment per payer; the facilitator method runs twice per size.
        PAYMENT_AMOUNT * BigInt(2 * runsOfToken + 2),
      );

      for (const method of options.methods) {
        if (method === "facilitator") {
          progress.label(`${tokenName}: facilitator`);
          runs.push(
            ...(await facilitatorRunner!({
              chain,
              token,
              tokenName,
              payers,
              payee,
              amount: PAYMENT_AMOUNT,
              batchSizes: options.batchSizes,
              payments: options.payments,
              blockTime: options.blockTime,
              clients: options.clients,
              progress,
            })),
          );
          continue;
        }
        const runMethod = ON_CHAIN_METHODS[method]!;
        const sizes = method === "x402-exact-single" ? [1] : options.batchSizes;
        for (const batchSize of sizes) {
          progress.label(`${tokenName}: ${method} @ ${batchSize}`);
          const ctx: MethodContext = {
            chain,
            token,
            payers,
            payee,
            amount: PAYMENT_AMOUNT,
            batchSize,
            submitter,
            router,
            feeRecipient,
            progress,
          };
          runs.push(await measureRun(ctx, method, await runMethod(ctx)));
        }
      }
    }
  } finally {
    if (options.blockTime > 0) await chain.setBlockTime(0);
  }
  return { chain: chain.info, runs };
}
