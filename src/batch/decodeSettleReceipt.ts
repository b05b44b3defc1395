import {
  getAddress,
  hexToBytes,
  isAddressEqual,
  parseAbiItem,
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

/** The token's `AuthorizationUsed(authorizer, nonce)` event (EIP-3009; USDC and the test token). */
const authorizationUsedEvent = parseAbiItem(
  "event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)",
);

/**
 * Turns a settle transaction's receipt into per-item results, ordered by item index. The router's
 * one `BatchSettled(token, results)` event gives every item's status; each failed item has a
 * `PaymentFailed` event (authorizer, nonce, status, capped revert data); each settled item is
 * announced by the token's own `AuthorizationUsed(authorizer, nonce)`, emitted in item order.
 * Failure reasons come from the router's status and, for token reverts, from the decoded revert
 * data. Throws {@link SettleTransactionRevertedError} when the whole transaction reverted and
 * {@link SettleReceiptMismatchError} when the events do not account for every item exactly once.
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
  const batches = logs.filter((log) => log.eventName === "BatchSettled");
  if (batches.length !== 1) {
    throw new SettleReceiptMismatchError(
      transactionHash,
      `expected one BatchSettled event, the receipt has ${batches.length}`,
    );
  }
  const { token, results: statusBytes } = batches[0]!.args;
  const statuses = [...hexToBytes(statusBytes)];
  const failures = new Map<number, (typeof logs)[number] & { eventName: "PaymentFailed" }>();
  for (const log of logs) {
    if (log.eventName !== "PaymentFailed") continue;
    const index = Number(log.args.index);
    if (failures.has(index) || statuses[index] === undefined || statuses[index] === 0) {
      throw new SettleReceiptMismatchError(transactionHash, `item ${index} is reported twice`);
    }
    failures.set(index, log);
  }
  const settled = parseEventLogs({
    abi: [authorizationUsedEvent],
    logs: receipt.logs.filter((log) => isAddressEqual(log.address, token)),
    strict: true,
  });
  let next = 0;
  const ordered: SettlementResult[] = statuses.map((status, index) => {
    if (status === 0) {
      const used = settled[next++];
      if (!used) {
        throw new SettleReceiptMismatchError(
          transactionHash,
          `item ${index} settled but the token emitted no AuthorizationUsed for it`,
        );
      }
      return {
        status: "success",
        index,
        from: getAddress(used.args.authorizer),
        nonce: used.args.nonce,
        transactionHash,
      };
    }
    const log = failures.get(index);
    if (!log || log.args.status !== status) {
      throw new SettleReceiptMismatchError(
        transactionHash,
        `item ${index} failed without a matching PaymentFailed event`,
      );
    }
    const itemStatus = failedStatusName(log.args.status);
    return {
      status: "failure",
      index,
      from: getAddress(log.args.authorizer),
      nonce: log.args.nonce,
      transactionHash,
      itemStatus,
      reason: failureReason(itemStatus, log.args.reason),
      revertData: log.args.reason,
    };
  });
  const count = parameters.itemCount ?? ordered.length;
  if (ordered.length !== count || next !== settled.length) {
    throw new SettleReceiptMismatchError(
      transactionHash,
      `expected ${count} items, the receipt reports ${ordered.length}`,
    );
  }
  return ordered;
}
