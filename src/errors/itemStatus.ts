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

/**
 * The reason for one item's router status: undefined for `Settled`, the token's decoded revert for
 * `TokenReverted` (pass the `PaymentFailed` event's `reason` bytes), the fixed reason otherwise.
 * Throws {@link UnknownItemStatusError} for a byte outside the enum.
 *
 * @example
 * itemStatusReason(ItemStatus.FeeExceedsValue); // "router_fee_exceeds_value"
 * itemStatusReason(ItemStatus.TokenReverted, failedEvent.args.reason); // e.g. "invalid_exact_evm_insufficient_balance"
 */
export function itemStatusReason(status: number, revertData?: Hex): RevertReason | undefined {
  if (status === ItemStatus.Settled) return undefined;
  if (!Object.hasOwn(ITEM_STATUS_REASONS, status)) throw new UnknownItemStatusError(status);
  if (status === ItemStatus.TokenReverted && revertData !== undefined) {
    return decodeRevertReason(revertData).reason;
  }
  return ITEM_STATUS_REASONS[status as Exclude<ItemStatus, 0>];
}
