/**
 * Why {@link verifyAuthorization} rejects an authorization. The `invalid_exact_evm_*` codes are
 * x402's (`@x402/evm` 2.27 spelling, shared with src/errors `RevertReason`, so offline and on-chain
 * failures agree), so a facilitator can return them as `invalidReason`;
 * the `invalid_routed_*` and `unsettleable_*` codes cover what only the SettlementRouter path can
 * get wrong.
 */
export const authorizationInvalidReasons = [
  "invalid_exact_evm_failed_to_parse_signature",
  "invalid_exact_evm_signature",
  "invalid_exact_evm_network_mismatch",
  "invalid_exact_evm_recipient_mismatch",
  "invalid_exact_evm_payload_authorization_valid_before",
  "invalid_exact_evm_payload_authorization_valid_after",
  "invalid_exact_evm_payload_authorization_value_mismatch",
  "invalid_exact_evm_authorization_value",
  "invalid_exact_evm_asset_mismatch",
  "invalid_routed_nonce_commitment",
  "invalid_routed_fee_exceeds_value",
  "invalid_routed_fee_recipient_mismatch",
  "unsettleable_field_out_of_range",
] as const;

/** One of {@link authorizationInvalidReasons}. */
export type AuthorizationInvalidReason = (typeof authorizationInvalidReasons)[number];
