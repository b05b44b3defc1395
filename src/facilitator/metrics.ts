import type { Address } from "viem";

/**
 * What a {@link BatchFacilitator} reports as it works, for an operator's metrics (the HTTP server
 * turns these into Prometheus counters and histograms). Every method is called synchronously and
 * must not throw; leave `metrics` unset and nothing is reported.
 */
export interface FacilitatorMetrics {
  /** A `/verify` call was answered after `ms` milliseconds. */
  verifyAnswered(valid: boolean, ms: number): void;
  /** A `/settle` call was answered after `ms` milliseconds: success, failure, or `settlement_pending`. */
  settleAnswered(outcome: "success" | "failure" | "pending", ms: number): void;
  /** A batch transaction carrying `size` payments of `token` was broadcast. */
  batchSent(token: Address, size: number): void;
  /** A batch transaction was mined: `settled` of its `size` payments settled, `gasUsed` from its receipt. */
  batchMined(token: Address, size: number, settled: number, gasUsed: bigint): void;
  /** Gas the relayer paid for payments that did not settle (failed items, reverted batches). */
  wastedGas(gas: bigint): void;
}

/** A live view of the facilitator's queues and relayer, read when metrics are scraped. */
export interface FacilitatorGauges {
  /** Payments accepted and waiting for a batch. */
  queued: number;
  /** Payments in batches broadcast but not yet resolved. */
  submitted: number;
  /** Batch transactions broadcast and not yet resolved. */
  batchesInFlight: number;
  /** The next relayer nonce the facilitator will sign with, when known. */
  relayerNonce: number | undefined;
}
