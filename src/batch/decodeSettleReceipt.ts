import {
  getAddress,
  isAddressEqual,
  parseEventLogs,
  type Address,
  type Hex,
  type TransactionReceipt,
} from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { SettleReceiptMismatchError, SettleTransactionRevertedError } from "./errors.js";
import type { RevertReason } from "../errors/reasons.js";
import { failedStatusName, failureReason, type FailedItemStatus } from "./failureReason.js";

/** The on-chain outcome of one item of a settle transaction. */
export type SettlementResult =
  | { status: "success"; index: number; from: Address; nonce: Hex; transactionHash: Hex }
  | {
      status: "failure";
      index: number;
      from: Address;
      nonce: Hex;
      transactionHash: Hex;
      /** The router's status for the item. */
      itemStatus: FailedItemStatus;
      /** Stable snake_case reason, e.g. `invalid_exact_evm_nonce_already_used`, `invalid_exact_evm_insufficient_balance`. */
      reason: RevertReason;
      /** The failing call's revert data as the router reported it (capped at 256 bytes). */
      revertData: Hex;
    };

export type DecodeSettleReceiptParameters = {
  receipt: TransactionReceipt;
  /** The router the transaction called; logs of other contracts are ignored. */
  router: Address;
  /** The number of items the transaction carried: every index must be reported exactly once. */
  itemCount?: number;
};

/**
 * Turns a settle transaction's receipt into per-item results from the router's `PaymentSettled`
 * and `PaymentFailed` events (one per item), ordered by item index. Failure reasons come from the
 * router's status and, for token reverts, from the decoded revert data. Throws
 * {@link SettleTransactionRevertedError} when the whole transaction reverted and
 * {@link SettleReceiptMismatchError} when an item is missing or reported twice.
 *
 * @example
 * const { receipt } = await submitBatch(walletClient, { router, token, feeRecipient, items });
 * for (const result of decodeSettleReceipt({ receipt, router, itemCount: items.length })) {
 *   if (result.status === "failure") console.log(result.index, result.reason);
 * }
 */
export function decodeSettleReceipt(parameters: DecodeSettleReceiptParameters): SettlementResult[] {
  const { receipt } = parameters;
  const router = getAddress(parameters.router);
  const transactionHash = receipt.transactionHash;
  if (receipt.status !== "success") throw new SettleTransactionRevertedError(transactionHash);
  const logs = parseEventLogs({
    abi: settlementRouterAbi,
    logs: receipt.logs.filter((log) => isAddressEqual(log.address, router)),
    strict: true,
  });
  const results = new Map<number, SettlementResult>();
  for (const log of logs) {
    if (log.eventName !== "PaymentSettled" && log.eventName !== "PaymentFailed") continue;
    const index = Number(log.args.index);
    if (results.has(index)) {
      throw new SettleReceiptMismatchError(transactionHash, `item ${index} is reported twice`);
    }
    const from = getAddress(log.args.authorizer);
    if (log.eventName === "PaymentSettled") {
      results.set(index, {
        status: "success",
        index,
        from,
        nonce: log.args.nonce,
        transactionHash,
      });
    } else {
      const itemStatus = failedStatusName(log.args.status);
      results.set(index, {
        status: "failure",
        index,
        from,
        nonce: log.args.nonce,
        transactionHash,
        itemStatus,
        reason: failureReason(itemStatus, log.args.reason),
        revertData: log.args.reason,
      });
    }
  }
  const ordered = [...results.values()].sort((a, b) => a.index - b.index);
  const count = parameters.itemCount ?? ordered.length;
  if (ordered.length !== count || ordered.some((result, position) => result.index !== position)) {
    throw new SettleReceiptMismatchError(
      transactionHash,
      `expected items 0..${count - 1}, the receipt reports ${ordered.length}`,
    );
  }
  return ordered;
}
