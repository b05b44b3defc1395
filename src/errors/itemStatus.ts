import type { Hex } from "viem";

import { BaseError } from "./base.js";
import { decodeRevertReason } from "./decodeRevertReason.js";
import type { RevertReason } from "./reasons.js";

/** The SettlementRouter's per-item result byte (`ISettlementRouter.ItemStatus`). */
export const ItemStatus = {
  Settled: 0,
  AuthorizationUsed: 1,
  TokenReverted: 2,
  FeeExceedsValue: 3,
  PayoutFailed: 4,
  InvalidSignatureLength: 5,
  NotYetValid: 6,
  PermitFailed: 7,
  AmountNotReceived: 8,
} as const;

/** One of the {@link ItemStatus} values. */
export type ItemStatus = (typeof ItemStatus)[keyof typeof ItemStatus];

/**
 * The reason each failed status stands for. `TokenReverted` is refined from the token's revert data
 * (the `PaymentFailed` event's `reason`) by {@link itemStatusReason}; this is its reason when no data
 * is available.
 */
export const ITEM_STATUS_REASONS: Readonly<Record<Exclude<ItemStatus, 0>, RevertReason>> = {
  [ItemStatus.AuthorizationUsed]: "invalid_exact_evm_nonce_already_used",
  [ItemStatus.TokenReverted]: "unknown_revert",
  [ItemStatus.FeeExceedsValue]: "router_fee_exceeds_value",
  [ItemStatus.PayoutFailed]: "router_payout_failed",
  [ItemStatus.InvalidSignatureLength]: "router_invalid_signature_length",
  [ItemStatus.NotYetValid]: "permit2_not_yet_valid",
  [ItemStatus.PermitFailed]: "router_permit_failed",
  [ItemStatus.AmountNotReceived]: "router_amount_not_received",
};

/** A results byte that is not an {@link ItemStatus}. */
export class UnknownItemStatusError extends BaseError {
  override name = "UnknownItemStatusError";
  readonly status: number;

  constructor(status: number) {
    super("The router returned an item status this toolkit does not know.", {
      details: `status ${status}`,
    });
    this.status = status;
  }
}

/** A router status name other than `Settled`. */
export type FailedItemStatus = Exclude<keyof typeof ItemStatus, "Settled">;

const FAILED_STATUS_NAMES: Readonly<Record<number, FailedItemStatus>> = Object.fromEntries(
  Object.entries(ItemStatus).flatMap(([name, value]) =>
    name === "Settled" ? [] : [[value, name as FailedItemStatus]],
  ),
);

/**
 * The name of a failed item's router status (a `BatchSettled` results byte or a `PaymentFailed`
 * event's `status`). Throws {@link UnknownItemStatusError} for `Settled` and for any byte outside
 * the enum: a status this toolkit does not know is never read as a verdict.
 *
 * @example
 * failedItemStatus(ItemStatus.PayoutFailed); // "PayoutFailed"
 */
export function failedItemStatus(status: number): FailedItemStatus {
  const name = Object.hasOwn(FAILED_STATUS_NAMES, status) ? FAILED_STATUS_NAMES[status] : undefined;
  if (name === undefined) throw new UnknownItemStatusError(status);
  return name;
}

/**
 * The reason code of a failed item: the status's fixed reason, refined for `TokenReverted` by
 * decoding the token's revert data (the `PaymentFailed` event's `reason`; empty or absent data is
 * `unknown_revert`).
 *
 * @example
 * failedItemReason("TokenReverted", failedEvent.args.reason); // e.g. "invalid_exact_evm_insufficient_balance"
 */
export function failedItemReason(status: FailedItemStatus, revertData?: Hex): RevertReason {
  if (status === "TokenReverted" && revertData !== undefined && revertData !== "0x") {
    return decodeRevertReason(revertData).reason;
  }
  return ITEM_STATUS_REASONS[ItemStatus[status]];
}

/**
 * The reason for one item's router status byte: undefined for `Settled`, otherwise
 * {@link failedItemReason} of its {@link failedItemStatus}. Throws {@link UnknownItemStatusError}
 * for a byte outside the enum. The toolkit's one mapping from status to reason: the receipt
 * decoder and the batch simulation go through the same two functions.
 *
 * @example
 * itemStatusReason(ItemStatus.FeeExceedsValue); // "router_fee_exceeds_value"
 * itemStatusReason(ItemStatus.TokenReverted, failedEvent.args.reason); // e.g. "invalid_exact_evm_insufficient_balance"
 */
export function itemStatusReason(status: number, revertData?: Hex): RevertReason | undefined {
  if (status === ItemStatus.Settled) return undefined;
  return failedItemReason(failedItemStatus(status), revertData);
}
