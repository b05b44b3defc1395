import { z } from "zod";

/**
 * One (token, method, batch size) run of a benchmark: the rows `runBenchmark` returns and
 * `npm run bench -- --json` writes. Methods may add fields of their own (the facilitator method's
 * latencies, for example); the schema keeps them.
 */
export const benchmarkRunSchema = z
  .object({
    /** "FiatTokenV2_2" or "X402TestToken". */
    token: z.string(),
    /** The method's name, e.g. `router-direct`. */
    method: z.string(),
    /** Payments per transaction (1 for one-payment-per-transaction methods). */
    batchSize: z.number().int().positive(),
    payments: z.number().int().nonnegative(),
    settled: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    /** Receipt gasUsed (L2 execution incl. the 21k intrinsic share) / settled payments. */
    gasPerPayment: z.number().nonnegative(),
    /** OP-stack L1 data size estimate (Fjord FastLZ) / settled payments, bytes. */
    l1BytesPerPayment: z.number().nonnegative(),
    /** Settled payments / wall-clock seconds from the first submission to the last receipt. */
    paymentsPerSecond: z.number().nonnegative(),
    /** Settlement transactions sent. */
    transactions: z.number().int().nonnegative().optional(),
    /** Distinct payers of the run's workload. */
    payers: z.number().int().positive().optional(),
    /** Distinct payees of the run's workload; every payer pays every payee. */
    payees: z.number().int().positive().optional(),
    /** Payments each payer made to each payee in the run. */
    paymentsPerPair: z.number().int().positive().optional(),
    /** `clearing`: gas of the EIP-3009 deposit transactions / payers (reported apart from `gasPerPayment`). */
    depositGasPerPayer: z.number().nonnegative().optional(),
    /** `clearing`: gas of the measured (steady-state) clear transactions / pairs they cleared. */
    clearGasPerPair: z.number().nonnegative().optional(),
    /** `clearing`: gas of the first clear of every pair (the warm-up round) / pairs it cleared. */
    firstClearGasPerPair: z.number().nonnegative().optional(),
    /** `clearing`: median µs to verify one voucher offline, signature included. */
    verifyMicrosP50: z.number().nonnegative().optional(),
    /** Reason codes of failed payments with their counts, when there were any. */
    failureReasons: z.record(z.string(), z.number().int().positive()).optional(),
  })
  .passthrough();

/** What a benchmark reports about the chain it ran on. */
export const benchmarkChainSchema = z.object({
  chainId: z.number().int().positive(),
  /** True on a fork of real Base (USDC found with Circle's master minter, not the local one). */
  forked: z.boolean(),
  /** The block the run started from. */
  blockNumber: z.number().int().nonnegative(),
});

/** The whole result: the JSON format documented in docs/BENCHMARKS.md. */
export const benchmarkResultSchema = z.object({
  chain: benchmarkChainSchema,
  runs: z.array(benchmarkRunSchema),
});

export type BenchmarkRun = z.infer<typeof benchmarkRunSchema>;
export type BenchmarkChainInfo = z.infer<typeof benchmarkChainSchema>;
export type BenchmarkResult = z.infer<typeof benchmarkResultSchema>;
