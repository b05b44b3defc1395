import type { Hex } from "viem";

import { decodeRevertReason } from "../errors/decodeRevertReason.js";
import { ItemStatus, ITEM_STATUS_REASONS } from "../errors/itemStatus.js";
import type { RevertReason } from "../errors/reasons.js";

/** A router status name other than `Settled`. */
export type FailedItemStatus = Exclude<keyof typeof ItemStatus, "Settled">;

/**
 * Why an item did not settle: a {@link RevertReason} (router status or the token's decoded revert),
 * or one of the batch pipeline's own codes: `unsettleable_field_out_of_range` (the packed layout
 * cannot carry the item's amount or times), `invalid_payload` (x402's code: a malformed address,
 * nonce or salt), `settlement_pending` (sent, no receipt in time: it may still be mined;
 * x402's code), `unexpected_settle_error` (the node failed; x402's code).
 */
export type SettlementFailureReason =
  | RevertReason
  | "unsettleable_field_out_of_range"
  | "invalid_payload"
  | "settlement_pending"
  | "unexpected_settle_error";

const statusNames = Object.fromEntries(
  Object.entries(ItemStatus).map(([name, value]) => [value, name]),
) as Record<number, keyof typeof ItemStatus>;

/** The status name of a router results byte / PaymentFailed status (unknown bytes read as TokenReverted). */
export function failedStatusName(status: number): FailedItemStatus {
  const name = statusNames[status];
  return name === undefined || name === "Settled" ? "TokenReverted" : name;
}

/**
 * The reason code of a failed item: the router's status, refined for `TokenReverted` by decoding
 * the token's revert data (src/errors `decodeRevertReason`).
 */
export function failureReason(status: FailedItemStatus, revertData: Hex | undefined): RevertReason {
  if (status === "TokenReverted") {
    return revertData !== undefined && revertData !== "0x"
      ? decodeRevertReason(revertData).reason
      : ITEM_STATUS_REASONS[ItemStatus.TokenReverted];
  }
  return ITEM_STATUS_REASONS[ItemStatus[status]];
}
