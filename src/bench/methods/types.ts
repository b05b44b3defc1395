import type { Address, Hex } from "viem";
import type { LocalAccount } from "viem/accounts";

import type { BenchNode, NodeWallet } from "../node.js";
import type { BenchmarkRun } from "../schema.js";
import type { BenchToken } from "../tokens.js";

/** One payment of a run: `payer` pays the run's amount to `payee`. */
export interface BenchPayment {
  payer: LocalAccount;
  payee: Address;
}

/** Who pays whom how often in each run; the default is `payers` payers, one payee, one payment each. */
export interface BenchmarkWorkload {
  /** Distinct payers. */
  payers: number;
  /** Distinct payees; every payer pays every payee. */
  payees: number;
  /** Payments each payer makes to each payee in one run. */
  paymentsPerPair: number;
}

/** Everything one run of a method needs. */
export interface BenchmarkMethodContext {
  node: BenchNode;
  token: BenchToken;
  /** The funded payers of the run's workload. */
  payers: readonly LocalAccount[];
  /** The payees of the run's workload (they hold a balance before the first run). */
  payees: readonly Address[];
  /** The first payee (the only one under the default workload). */
  payee: Address;
  /** Payments each payer makes to each payee in this run. */
  paymentsPerPair: number;
  /**
   * The run's payments: every payer pays every payee `paymentsPerPair` times, in rounds (each
   * round has every pair once, payer-major).
   */
  payments: readonly BenchPayment[];
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
  /** Settles any ERC-20 (Permit2): it also runs on tokens without EIP-3009. Default false. */
  readonly anyErc20?: boolean;
  /** Runs only when named in `methods`, not in a run that names none. Default false. */
  readonly optIn?: boolean;
  /**
   * Payments each payer makes over one token's runs at `batchSizes` under `workload` (the
   * progress counts them; each payer is funded twice their amount). Default: one run per batch
   * size (one run if not `batched`), each of `payees * paymentsPerPair` payments.
   */
  paymentsPerPayer?(batchSizes: readonly number[], workload: BenchmarkWorkload): number;
  /**
   * Runs under the default workload only (one payee, one payment per payer); the engine refuses
   * another workload for it.
   */
  readonly defaultWorkloadOnly?: boolean;
  /**
   * One run: settles `ctx.payments`, each of `ctx.amount`. Return the outcome for the engine to
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
