import type { Address, Hex } from "viem";
import type { LocalAccount } from "viem/accounts";

import type { BenchNode, NodeWallet } from "../node.js";
import type { BenchmarkRun } from "../schema.js";
import type { BenchToken } from "../tokens.js";

/** Everything one run of a method needs. */
export interface BenchmarkMethodContext {
  node: BenchNode;
  token: BenchToken;
  /** One distinct funded payer per payment; each pays once per run. */
  payers: readonly LocalAccount[];
  /** The shared payee of every payment. */
  payee: Address;
  /** Amount per payment, smallest unit. */
  amount: bigint;
  /** This run's batch size (1 for a method that is not `batched`). */
  batchSize: number;
  /** Every batch size of the benchmark (a method that runs once per token reads them here). */
  batchSizes: readonly number[];
  /** Pays gas for the settlement transactions. */
  submitter: NodeWallet;
  /** The SettlementRouter (methods with `usesRouter` only). */
  router?: Address;
  /** Receives routed items' fees. */
  feeRecipient: Address;
  /** Seconds between blocks (0: one block per transaction). */
  blockTime: number;
  /** Concurrent paying clients, for methods that model clients. */
  clients: number;
  /** Adds `count` settled-or-failed payments to the progress. */
  tick(count?: number): void;
  /** Names what is running now. */
  label(text: string): void;
}

/** What one run did: the transactions it sent and the time from first submission to last receipt. */
export interface MethodOutcome {
  hashes: readonly Hex[];
  /** Every payment the run tried, settled or not: the token marks `nonce` of `from` used when it moves. */
  expected: readonly { from: Address; nonce: Hex }[];
  elapsedMs: number;
  /** Why payments failed, as reason codes with counts (when the method reports reasons). */
  failures?: Record<string, number>;
  /** The payments the method itself saw settle; the engine checks it against the token's record. */
  settled?: number;
}

/**
 * A settlement method the benchmark compares. A built-in method lives in one file of
 * src/bench/methods and is listed in `BENCHMARK_METHODS` (methods/index.ts); the command line
 * and the results take its `name`.
 */
export interface BenchmarkMethod {
  /** The name in `methods` and in the results, e.g. `router-direct`. */
  readonly name: string;
  /** One line for `npm run bench -- --help`. */
  readonly description: string;
  /** True: one run per batch size; false: one run per token, reported at batch size 1. */
  readonly batched: boolean;
  /** Deploy the SettlementRouter for it (`ctx.router`). */
  readonly usesRouter?: boolean;
  /** Payments each payer makes over one token's runs at `batchSizes`; default one per run. */
  paymentsPerPayer?(batchSizes: readonly number[]): number;
  /**
   * One run: settles one payment of `ctx.amount` per payer. Return the outcome for the engine to
   * measure (gas and L1 bytes from the receipts, settled payments from the token's nonce states),
   * or finished rows when the method measures itself.
   */
  run(ctx: BenchmarkMethodContext): Promise<MethodOutcome | { runs: BenchmarkRun[] }>;
}

/** Adds one occurrence of `reason` to `failures`. */
export function countReason(failures: Record<string, number>, reason: string | undefined): void {
  const key = reason ?? "unknown";
  failures[key] = (failures[key] ?? 0) + 1;
}

/** Transactions in flight at once, for every method alike. */
export const IN_FLIGHT = 32;
