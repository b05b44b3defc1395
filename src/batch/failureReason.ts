import type { RevertReason } from "../errors/reasons.js";

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
