import {
  getAddress,
  hexToBytes,
  isAddressEqual,
  parseAbi,
  parseEventLogs,
  type Address,
  type Hex,
  type TransactionReceipt,
} from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { failedItemReason, failedItemStatus, type FailedItemStatus } from "../errors/itemStatus.js";
import type { RevertReason } from "../errors/reasons.js";
import { SettleReceiptMismatchError, SettleTransactionRevertedError } from "./errors.js";

/** EIP-3009's event, emitted by the token for every authorization it executes. */
const authorizationUsedAbi = parseAbi([
  "event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)",
]);

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
      /** Stable snake_case reason, e.g. `invalid_exact_evm_nonce_already_used`. */
      reason: RevertReason;
      /** The failing call's revert data as the router reported it (capped at 256 bytes). */
      revertData: Hex;
    };

export type DecodeSettleReceiptParameters = {
  receipt: TransactionReceipt;
  /** The router the transaction called; logs of other contracts are ignored. */
  router: Address;
  /** The number of items the transaction carried; checked against the router's results. */
  itemCount?: number;
};

/**
 * Turns a settle transaction's receipt into per-item results, ordered by item index. The router's
 * one `BatchSettled(token, results)` event gives every item's status; a failed item's
 * `PaymentFailed` event gives its payer, nonce and the failing call's revert data (decoded into a
 * reason); a settled item's payer and nonce come from the token's own EIP-3009
 * `AuthorizationUsed(authorizer, nonce)` events, which the token emits in item order (a failed or
 * undone item leaves none). Throws {@link SettleTransactionRevertedError} when the whole
 * transaction reverted, {@link SettleReceiptMismatchError} when the logs do not account for
 * every item exactly once and {@link UnknownItemStatusError} for a status byte outside the
 * router's enum (never read as a verdict).
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
  const mismatch = (details: string) => new SettleReceiptMismatchError(transactionHash, details);
  if (receipt.status !== "success") throw new SettleTransactionRevertedError(transactionHash);

  const routerLogs = parseEventLogs({
    abi: settlementRouterAbi,
    logs: receipt.logs.filter((log) => isAddressEqual(log.address, router)),
    strict: true,
  });
  const batches = routerLogs.flatMap((log) => (log.eventName === "BatchSettled" ? [log] : []));
  if (batches.length !== 1) {
    throw mismatch(`expected one BatchSettled event of ${router}, found ${batches.length}`);
  }
  const { token, results: resultsHex } = batches[0]!.args;
  const statuses = hexToBytes(resultsHex);
  if (parameters.itemCount !== undefined && statuses.length !== parameters.itemCount) {
    throw mismatch(`the router reports ${statuses.length} items, expected ${parameters.itemCount}`);
  }

  const failures = new Map<number, (typeof routerLogs)[number] & { eventName: "PaymentFailed" }>();
  for (const log of routerLogs) {
    if (log.eventName !== "PaymentFailed") continue;
    const index = Number(log.args.index);
    if (failures.has(index)) throw mismatch(`item ${index} is reported failed twice`);
    failures.set(index, log);
  }
  const used = parseEventLogs({
    abi: authorizationUsedAbi,
    logs: receipt.logs.filter((log) => isAddressEqual(log.address, token)),
    strict: true,
  });

  let nextUsed = 0;
  const results = Array.from(statuses, (status, index): SettlementResult => {
    if (status === 0) {
      const log = used[nextUsed++];
      if (!log) throw mismatch(`no AuthorizationUsed event of ${token} for settled item ${index}`);
      const from = getAddress(log.args.authorizer);
      return { status: "success", index, from, nonce: log.args.nonce, transactionHash };
    }
    const log = failures.get(index);
    if (!log || log.args.status !== status) {
      throw mismatch(`no PaymentFailed event with status ${status} for failed item ${index}`);
    }
    const itemStatus = failedItemStatus(log.args.status);
    return {
      status: "failure",
      index,
      from: getAddress(log.args.authorizer),
      nonce: log.args.nonce,
      transactionHash,
      itemStatus,
      reason: failedItemReason(itemStatus, log.args.reason),
      revertData: log.args.reason,
    };
  });
  if (nextUsed !== used.length) {
    throw mismatch(`${used.length} AuthorizationUsed events for ${nextUsed} settled items`);
  }
  if (failures.size !== results.filter((result) => result.status === "failure").length) {
    throw mismatch("a PaymentFailed event names an item the router reports settled");
  }
  return results;
}
