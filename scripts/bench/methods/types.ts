import type { Address, Hex } from "viem";
import type { LocalAccount } from "viem/accounts";

import type { BenchChain, NodeWallet } from "../chain.js";
import type { ExpectedAuthorization } from "../measure.js";
import type { Progress } from "../progress.js";
import type { BenchToken } from "../tokens.js";

/** Everything one (token, method, batch size) run needs. */
export interface MethodContext {
  chain: BenchChain;
  token: BenchToken;
  /** One distinct payer per payment. */
  payers: readonly LocalAccount[];
  /** The shared payee of every payment. */
  payee: Address;
  /** Amount per payment, smallest unit. */
  amount: bigint;
  batchSize: number;
  /** Pays gas for the settlement transactions. */
  submitter: NodeWallet;
  /** The SettlementRouter (router methods only). */
  router?: Address;
  /** Receives the routed items' fees (router-routed only). */
  feeRecipient?: Address;
  progress: Progress;
}

/** What a method did: the transactions it sent and the time from first submit to last receipt. */
export interface MethodOutcome {
  hashes: Hex[];
  /** Every payment the run tried, settled or not. */
  expected: ExpectedAuthorization[];
  elapsedMs: number;
  /** Why payments failed, as reason codes with counts (when the method reports reasons). */
  failures?: Record<string, number>;
}

/** Adds one occurrence of `reason` to `failures`. */
export function countReason(failures: Record<string, number>, reason: string | undefined): void {
  const key = reason ?? "unknown";
  failures[key] = (failures[key] ?? 0) + 1;
}

/** Transactions in flight at once, for every method alike. */
export const IN_FLIGHT = 32;
