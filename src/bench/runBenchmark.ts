import type { Address } from "viem";

import { BENCHMARK_METHODS, type BenchmarkMethodName } from "./methods/index.js";
import type {
  BenchmarkMethod,
  BenchmarkMethodContext,
  BenchmarkWorkload,
  BenchPayment,
  MethodOutcome,
} from "./methods/types.js";
import { deployBenchRouter } from "./contracts.js";
import { BenchmarkInputError } from "./errors.js";
import { measureOutcome } from "./measure.js";
import { type BenchmarkClient, createBenchNode } from "./node.js";
import { type BenchmarkResult, type BenchmarkRun, benchmarkResultSchema } from "./schema.js";
import {
  BENCHMARK_TOKENS,
  type BenchmarkTokenName,
  benchAddress,
  benchPayers,
  DEFAULT_BENCHMARK_TOKENS,
  isEip3009BenchToken,
  setupBenchToken,
} from "./tokens.js";

/** The methods of a run without `methods`: every built-in method but the opt-in ones. */
export const DEFAULT_BENCHMARK_METHODS = (
  Object.keys(BENCHMARK_METHODS) as BenchmarkMethodName[]
).filter((name) => !(BENCHMARK_METHODS[name] as BenchmarkMethod).optIn);
/** Amount per payment: 0.01 of a 6-decimal token. */
export const BENCHMARK_PAYMENT_AMOUNT = 10_000n;
/** The largest batch size `runBenchmark` accepts (the router's planner splits by the gas cap). */
export const MAX_BENCHMARK_BATCH_SIZE = 1_000;
/** The most payments per run `runBenchmark` accepts (payers × payees × payments per pair). */
export const MAX_BENCHMARK_PAYMENTS = 100_000;
/** The most payees `runBenchmark` accepts. */
export const MAX_BENCHMARK_PAYEES = 1_000;

/** Where a benchmark stands, reported after every settled or failed payment and every new task. */
export interface BenchmarkProgress {
  /** Payments settled or failed so far. */
  done: number;
  /** Payments the whole benchmark attempts. */
  total: number;
  /** What runs now, e.g. `FiatTokenV2_2: router-direct @ 100`. */
  task: string;
}

export interface RunBenchmarkOptions {
  /** Built-in method names or method objects, in order. Default: every built-in method. */
  methods?: readonly (BenchmarkMethodName | BenchmarkMethod)[];
  /** Default: both tokens. */
  tokens?: readonly BenchmarkTokenName[];
  /** Batch sizes of the batched methods. Default [100]. */
  batchSizes?: readonly number[];
  /**
   * Payments per (token, method, batch size) run under the default workload: as many payers,
   * one payee, one payment each. Default 200. With `payers`, `payees` or `paymentsPerPair` the
   * run's payments are payers × payees × payments per pair, and `payments` only sets the payers'
   * default.
   */
  payments?: number;
  /** Distinct payers. Default `payments`. */
  payers?: number;
  /** Distinct payees; every payer pays every payee. Default 1. */
  payees?: number;
  /**
   * Payments each payer makes to each payee per run; a list runs every method once per value
   * (the report then charts gas per payment against it). Default 1.
   */
  paymentsPerPair?: number | readonly number[];
  /** Interval mining every `blockTime` seconds during the runs (0: a block per transaction). Default 0. */
  blockTime?: number;
  /** Concurrent paying clients, for methods that model clients. Default 50. */
  clients?: number;
  /** Amount per payment, smallest unit. Default 10,000 (0.01 of a 6-decimal token). */
  amount?: bigint;
  /** A deployed SettlementRouter for the router methods. Default: a fresh one (`deployBenchRouter`). */
  router?: Address;
  onProgress?: (progress: BenchmarkProgress) => void;
}

/** The methods, tokens and sizes of a benchmark after defaults and validation. */
interface Plan {
  methods: BenchmarkMethod[];
  tokens: BenchmarkTokenName[];
  batchSizes: number[];
  payers: number;
  payees: number;
  paymentsPerPair: number[];
  blockTime: number;
  clients: number;
  amount: bigint;
}

function integerIn(field: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max)
    throw new BenchmarkInputError(
      field,
      `must be a whole number from ${min} to ${max}, got ${value}`,
    );
  return value;
}

function plan(options: RunBenchmarkOptions): Plan {
  const methods = (options.methods ?? DEFAULT_BENCHMARK_METHODS).map((m) => {
    if (typeof m !== "string") return m;
    const method = (BENCHMARK_METHODS as Record<string, BenchmarkMethod>)[m];
    if (!method)
      throw new BenchmarkInputError(
        "methods",
        `unknown method "${m}" (choose from ${Object.keys(BENCHMARK_METHODS).join(", ")})`,
      );
    return method;
  });
  if (methods.length === 0) throw new BenchmarkInputError("methods", "needs at least one method");
  const names = methods.map((m) => m.name);
  if (new Set(names).size !== names.length)
    throw new BenchmarkInputError("methods", `a method is listed twice: ${names.join(", ")}`);
  const tokens = [...new Set(options.tokens ?? DEFAULT_BENCHMARK_TOKENS)];
  for (const token of tokens)
    if (!(BENCHMARK_TOKENS as readonly string[]).includes(token))
      throw new BenchmarkInputError(
        "tokens",
        `unknown token "${token}" (choose from ${BENCHMARK_TOKENS.join(", ")})`,
      );
  if (tokens.length === 0) throw new BenchmarkInputError("tokens", "needs at least one token");
  const batchSizes = [...new Set(options.batchSizes ?? [100])]
    .map((size) => integerIn("batchSizes", size, 1, MAX_BENCHMARK_BATCH_SIZE))
    .sort((a, b) => a - b);
  if (batchSizes.length === 0)
    throw new BenchmarkInputError("batchSizes", "needs at least one batch size");
  const payments = integerIn("payments", options.payments ?? 200, 1, MAX_BENCHMARK_PAYMENTS);
  const payers = integerIn("payers", options.payers ?? payments, 1, MAX_BENCHMARK_PAYMENTS);
  const payees = integerIn("payees", options.payees ?? 1, 1, MAX_BENCHMARK_PAYEES);
  const perPairList =
    typeof options.paymentsPerPair === "number"
      ? [options.paymentsPerPair]
      : [...(options.paymentsPerPair ?? [1])];
  if (perPairList.length === 0)
    throw new BenchmarkInputError("paymentsPerPair", "needs at least one value");
  const paymentsPerPair = [...new Set(perPairList)]
    .map((n) => integerIn("paymentsPerPair", n, 1, MAX_BENCHMARK_PAYMENTS))
    .sort((a, b) => a - b);
  const largest = payers * payees * paymentsPerPair.at(-1)!;
  if (largest > MAX_BENCHMARK_PAYMENTS)
    throw new BenchmarkInputError(
      "payers",
      `payers × payees × payments per pair must be at most ${MAX_BENCHMARK_PAYMENTS}, got ${payers} × ${payees} × ${paymentsPerPair.at(-1)} = ${largest}`,
    );
  const custom = payees > 1 || paymentsPerPair.some((n) => n > 1);
  const fixed = methods.find((m) => m.defaultWorkloadOnly);
  if (custom && fixed)
    throw new BenchmarkInputError(
      "methods",
      `${fixed.name} runs only the default workload (one payee, one payment per payer)`,
    );
  const blockTime = options.blockTime ?? 0;
  if (!(Number.isFinite(blockTime) && blockTime >= 0 && blockTime <= 60))
    throw new BenchmarkInputError("blockTime", `must be seconds from 0 to 60, got ${blockTime}`);
  const clients = integerIn("clients", options.clients ?? 50, 1, 1_000);
  const amount = options.amount ?? BENCHMARK_PAYMENT_AMOUNT;
  if (amount <= BigInt(0))
    throw new BenchmarkInputError("amount", `must be positive, got ${amount}`);
  return {
    methods,
    tokens,
    batchSizes,
    payers,
    payees,
    paymentsPerPair,
    blockTime,
    clients,
    amount,
  };
}

/** Payments each payer makes over one token's runs of `method` under `workload`. */
function paymentsPerPayer(
  method: BenchmarkMethod,
  batchSizes: readonly number[],
  workload: BenchmarkWorkload,
): number {
  return (
    method.paymentsPerPayer?.(batchSizes, workload) ??
    (method.batched ? batchSizes.length : 1) * workload.payees * workload.paymentsPerPair
  );
}

/** The payees of a run: the first is the default workload's one payee. */
export function benchPayees(count: number): Address[] {
  return Array.from({ length: count }, (_, i) =>
    benchAddress(i === 0 ? "bench-payee" : `bench-payee:${i}`),
  );
}

/** Every payer pays every payee `paymentsPerPair` times: rounds of every pair once, payer-major. */
export function benchPayments(
  payers: readonly BenchPayment["payer"][],
  payees: readonly Address[],
  paymentsPerPair: number,
): BenchPayment[] {
  const payments: BenchPayment[] = [];
  for (let round = 0; round < paymentsPerPair; round++)
    for (const payer of payers) for (const payee of payees) payments.push({ payer, payee });
  return payments;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Settles the same x402 payments through each method on the node behind `client`, for each token
 * and batch size, and measures what landed on chain: receipt gas and L1 data size per settled
 * payment, and settled payments per second of wall clock. Every run of a token uses the same
 * payers (funded first), payees and amount; by default each payer pays one payee once per run,
 * and `payers`, `payees` and `paymentsPerPair` set another workload. The result is the JSON `npm run bench -- --json` writes.
 *
 * @example
 * const client = createTestClient({ mode: "hardhat", transport: http("http://127.0.0.1:8545") });
 * const { runs } = await runBenchmark(client, {
 *   methods: ["x402-exact-single", "router-direct"], tokens: ["FiatTokenV2_2"], batchSizes: [50, 100],
 *   payments: 200, onProgress: ({ done, total, task }) => console.log(`${done}/${total} ${task}`),
 * });
 */
export async function runBenchmark(
  client: BenchmarkClient,
  options: RunBenchmarkOptions = {},
): Promise<BenchmarkResult> {
  const p = plan(options);
  const node = await createBenchNode(client);
  const [deployer, second] = node.wallets;
  const submitter = second ?? deployer!;
  const payees = benchPayees(p.payees);
  const feeRecipient = benchAddress("bench-fee-recipient");
  const workloads: BenchmarkWorkload[] = p.paymentsPerPair.map((paymentsPerPair) => ({
    payers: p.payers,
    payees: p.payees,
    paymentsPerPair,
  }));

  // Payments each payer makes over one token's runs.
  // A method runs on a token with EIP-3009, or on any token when it settles any ERC-20.
  const runsOn = (method: BenchmarkMethod, token: BenchmarkTokenName) =>
    method.anyErc20 === true || isEip3009BenchToken(token);
  const paymentsOf = (token: BenchmarkTokenName) =>
    workloads.reduce(
      (total, workload) =>
        total +
        p.methods.reduce(
          (n, m) => n + (runsOn(m, token) ? paymentsPerPayer(m, p.batchSizes, workload) : 0),
          0,
        ),
      0,
    );
  const progress: BenchmarkProgress = {
    done: 0,
    total: p.tokens.reduce((n, token) => n + paymentsOf(token), 0) * p.payers,
    task: "",
  };
  const report = () => options.onProgress?.({ ...progress });
  const tick = (count = 1) => {
    progress.done += count;
    report();
  };
  const label = (task: string) => {
    progress.task = task;
    report();
  };

  const router = p.methods.some((m) => m.usesRouter)
    ? (options.router ?? (await deployBenchRouter(node, deployer!)))
    : undefined;
  const runs: BenchmarkRun[] = [];
  if (p.blockTime > 0) await node.setBlockTime(p.blockTime);
  try {
    for (const tokenName of p.tokens) {
      const token = await setupBenchToken(node, tokenName, deployer);
      const payers = benchPayers(p.payers);
      label(`${tokenName}: funding ${payers.length} payers`);
      // The payees and the fee recipient hold a balance before the first run, as merchants and a
      // relayer do in steady state: no method's first payment pays for creating their balance slots.
      await token.fund(
        [...payers.map((payer) => payer.address), ...payees, feeRecipient],
        p.amount * BigInt(2 * paymentsOf(tokenName) + 2),
      );
      for (const workload of workloads) {
        const payments = benchPayments(payers, payees, workload.paymentsPerPair);
        const suffix =
          workloads.length > 1 || workload.paymentsPerPair > 1
            ? `, ${workload.paymentsPerPair} per pair`
            : "";
        for (const method of p.methods) {
          if (!runsOn(method, tokenName)) continue;
          for (const batchSize of method.batched ? p.batchSizes : [1]) {
            label(
              `${tokenName}: ${method.name}${method.batched ? ` @ ${batchSize}` : ""}${suffix}`,
            );
            const ctx: BenchmarkMethodContext = {
              node,
              token,
              payers,
              payees,
              payee: payees[0]!,
              paymentsPerPair: workload.paymentsPerPair,
              payments,
              amount: p.amount,
              batchSize,
              batchSizes: p.batchSizes,
              submitter,
              router,
              feeRecipient,
              blockTime: p.blockTime,
              clients: p.clients,
              tick,
              label,
            };
            const outcome = await method.run(ctx);
            if ("runs" in outcome) runs.push(...outcome.runs);
            else runs.push(await measureRun(ctx, method, outcome));
          }
        }
      }
    }
  } finally {
    if (p.blockTime > 0) await node.setBlockTime(0);
  }
  return benchmarkResultSchema.parse({ chain: node.info, runs });
}

/** Turns what a method did into its row: receipts for gas and L1 bytes, the token for settled payments. */
export async function measureRun(
  ctx: BenchmarkMethodContext,
  method: BenchmarkMethod,
  outcome: MethodOutcome,
): Promise<BenchmarkRun> {
  const measured = await measureOutcome(ctx.node.client, ctx.token.address, outcome);
  const { settled } = measured;
  if (outcome.settled !== undefined && outcome.settled !== settled)
    throw new Error(
      `${method.name} reported ${outcome.settled} settled payments but the token marked ${settled} authorizations used`,
    );
  const payments = outcome.expected.length;
  const failureReasons = outcome.failures ?? {};
  return {
    token: ctx.token.name,
    method: method.name,
    batchSize: ctx.batchSize,
    payments,
    settled,
    failed: payments - settled,
    gasPerPayment: settled > 0 ? Math.round(Number(measured.gasUsed) / settled) : 0,
    l1BytesPerPayment: settled > 0 ? round(Number(measured.l1Bytes) / settled, 1) : 0,
    paymentsPerSecond: outcome.elapsedMs > 0 ? round((settled * 1000) / outcome.elapsedMs, 1) : 0,
    transactions: measured.transactions,
    ...workloadFields(ctx),
    ...(Object.keys(failureReasons).length > 0 ? { failureReasons } : {}),
  };
}

/** The workload fields of a run's row. */
export function workloadFields(
  ctx: BenchmarkMethodContext,
): Pick<BenchmarkRun, "payers" | "payees" | "paymentsPerPair"> {
  return {
    payers: ctx.payers.length,
    payees: ctx.payees.length,
    paymentsPerPair: ctx.paymentsPerPair,
  };
}
