import {
  type Address,
  type TransactionReceipt,
  hexToBytes,
  isAddressEqual,
  parseEventLogs,
} from "viem";

import { clearingHouseAbi } from "../abi/clearingHouse.js";
import { ClearFailedError } from "./ledgerErrors.js";

/** `IClearingHouse.ClearStatus` by value, as snake_case reasons. */
export const CLEAR_STATUS_REASONS = [
  "cleared",
  "unknown_operator",
  "cumulative_decreased",
  "already_cleared",
  "insufficient_balance",
  "invalid_signature",
  "payout_failed",
] as const;

export type ClearItemResult =
  | { status: "success" }
  | { status: "failure"; reason: Exclude<(typeof CLEAR_STATUS_REASONS)[number], "cleared"> };

export type DecodeClearReceiptParameters = {
  receipt: TransactionReceipt;
  clearingHouse: Address;
  token: Address;
  /** How many vouchers the call carried. */
  count: number;
};

/**
 * Per-voucher results of a `clear` transaction, from its one `VouchersCleared` event: one
 * `{ status: "success" }` or `{ status: "failure", reason }` per voucher, in item order. Throws
 * {@link ClearFailedError} for a reverted transaction, a missing or second event, or a result
 * count other than `count`.
 *
 * @example
 * const results = decodeClearReceipt({ receipt, clearingHouse, token, count: vouchers.length });
 */
export function decodeClearReceipt({
  receipt,
  clearingHouse,
  token,
  count,
}: DecodeClearReceiptParameters): ClearItemResult[] {
  const transactionHash = receipt.transactionHash;
  if (receipt.status !== "success") {
    throw new ClearFailedError("the transaction reverted", { transactionHash });
  }
  const events = parseEventLogs({
    abi: clearingHouseAbi,
    eventName: "VouchersCleared",
    logs: receipt.logs,
  }).filter(
    (log) => isAddressEqual(log.address, clearingHouse) && isAddressEqual(log.args.token, token),
  );
  if (events.length !== 1) {
    throw new ClearFailedError(`expected one VouchersCleared event, found ${events.length}`, {
      transactionHash,
    });
  }
  const statuses = hexToBytes(events[0]!.args.results);
  if (statuses.length !== count) {
    throw new ClearFailedError(`${statuses.length} results for ${count} vouchers`, {
      transactionHash,
    });
  }
  return [...statuses].map((status) => {
    const reason = CLEAR_STATUS_REASONS[status];
    if (reason === undefined) {
      throw new ClearFailedError(`unknown clear status ${status}`, { transactionHash });
    }
    return reason === "cleared" ? { status: "success" } : { status: "failure", reason };
  });
}
