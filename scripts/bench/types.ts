/** The benchmark's output: the JSON format documented in DESIGN.md and docs/BENCHMARKS.md. */
import type { ChainInfo } from "./chain.js";

/** One (token, method, batch size) run. */
export interface BenchRun {
  /** "FiatTokenV2_2" or the test token's contract name. */
  token: string;
  /** x402-exact-single, multicall3, router-direct, router-routed (or facilitator). */
  method: string;
  /** Payments per transaction (1 for x402-exact-single). */
  batchSize: number;
  payments: number;
  settled: number;
  failed: number;
  /** Receipt gasUsed (L2 execution incl. the 21k intrinsic share) / settled payments. */
  gasPerPayment: number;
  /** OP-stack L1 data size estimate (GasPriceOracle, Fjord FastLZ) / settled payments, bytes. */
  l1BytesPerPayment: number;
  /** Settled payments / wall-clock seconds from the first submission to the last receipt. */
  paymentsPerSecond: number;
  /** Settlement transactions sent (extra field). */
  transactions?: number;
  /** Reason codes of failed payments with their counts, when there were any (extra field). */
  failureReasons?: Record<string, number>;
  [extra: string]: unknown;
}

export interface BenchResults {
  chain: ChainInfo;
  runs: BenchRun[];
}
