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
    /** `facilitator`: the x402 scheme paid with (`exact`, `routed`, `clearing`). */
    scheme: z.string().optional(),
    /** `facilitator`: who settles, `official` (`@x402/evm`) or `x402-clearing`. */
    facilitator: z.string().optional(),
    /** `facilitator`: `closed` (concurrent clients) or `open` (requests at `rate` per second). */
    mode: z.enum(["closed", "open"]).optional(),
    /** `facilitator`: paid requests per second (the same figure as `paymentsPerSecond`). */
    requestsPerSecond: z.number().nonnegative().optional(),
    /** `facilitator`: latency of one paid request, ms (open loop: from its scheduled send time). */
    latencyP50Ms: z.number().nonnegative().optional(),
    latencyP99Ms: z.number().nonnegative().optional(),
    /** `facilitator`, closed loop: concurrent clients. */
    clients: z.number().int().nonnegative().optional(),
    /** Seconds between blocks during the run (0: a block per transaction). */
    blockTime: z.number().nonnegative().optional(),
    /** `facilitator`, open loop: the step's target rate (paid requests per second) and length (s). */
    rate: z.number().positive().optional(),
    durationSeconds: z.number().positive().optional(),
    /** `facilitator`, open loop: the step was sustained (every request paid, p99 within `p99BoundMs`). */
    sustained: z.boolean().optional(),
    p99BoundMs: z.number().positive().optional(),
    /** `facilitator`, open loop: the row's highest sustained rate (0: none) and first rate not sustained. */
    sustainedRate: z.number().nonnegative().optional(),
    breaksAt: z.number().positive().nullable().optional(),
    /** `facilitator`, clearing: latency of each payer's first request (the deposit), reported apart. */
    firstRequestLatencyP50Ms: z.number().nonnegative().optional(),
    firstRequestLatencyP99Ms: z.number().nonnegative().optional(),
    /**
     * `facilitator`: medians of a paid request's stages, ms: the 402 round trip (`challenge`), the
     * client's signing (`sign`), the paid retry (`paid`) and the server's `/verify` and `/settle` calls.
     */
    stagesP50Ms: z
      .object({
        challenge: z.number().nonnegative(),
        sign: z.number().nonnegative(),
        paid: z.number().nonnegative(),
        verify: z.number().nonnegative(),
        settle: z.number().nonnegative(),
      })
      .optional(),
    /** `facilitator`: CPU time of the benchmark's process (every thread) / settled payments, ms. */
    cpuMsPerPayment: z.number().nonnegative().optional(),
    /** `facilitator`: the same by thread: main (chain, facilitator), server, clients, other. */
    cpuMsPerPaymentByThread: z
      .object({
        main: z.number().nonnegative(),
        server: z.number().nonnegative(),
        clients: z.number().nonnegative(),
        other: z.number().nonnegative(),
      })
      .optional(),
    /** `facilitator`, routed: fees the fee recipient received over the row, smallest unit. */
    feeReceived: z.number().nonnegative().optional(),
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
