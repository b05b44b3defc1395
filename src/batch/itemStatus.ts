/**
 * The SettlementRouter's per-item outcome (`ISettlementRouter.ItemStatus`), by enum value:
 * `results[i]` of `settle` and the `status` of a `PaymentFailed` event.
 */
export const ITEM_STATUSES = [
  "Settled",
  "AuthorizationUsed",
  "TokenReverted",
  "FeeExceedsValue",
  "PayoutFailed",
  "InvalidSignatureLength",
] as const;

/** One of {@link ITEM_STATUSES}. */
export type ItemStatus = (typeof ITEM_STATUSES)[number];
