/**
 * Why an EIP-3009 payment failed on chain, as a stable snake_case code. Codes that x402 already defines
 * keep the spelling of the installed x402 `exact` EVM facilitator (`@x402/evm` 2.27), as the toolkit's
 * authorization reasons do; {@link X402_V1_REASONS} gives the x402 v1 spelling where it differs.
 * The others are the project's own.
 */
export const REVERT_REASONS = [
  // x402's codes
  "invalid_exact_evm_signature",
  "invalid_exact_evm_payload_authorization_valid_after",
  "invalid_exact_evm_payload_authorization_valid_before",
  "invalid_exact_evm_nonce_already_used",
  "invalid_exact_evm_insufficient_balance",
  // token-level, the project's own
  "signature_high_s",
  "caller_not_payee",
  "account_blacklisted",
  "token_paused",
  "invalid_recipient",
  "authorization_outside_validity_window",
  // Permit2 (x402's spelling where its Permit2 path names the same failure)
  "invalid_permit2_signature",
  "permit2_invalid_nonce",
  "permit2_deadline_expired",
  "permit2_not_yet_valid",
  "permit2_invalid_amount",
  "permit2_transfer_from_failed",
  // SettlementRouter-level
  "router_fee_exceeds_value",
  "router_payout_failed",
  "router_invalid_signature_length",
  "router_malformed_items",
  "router_token_has_no_code",
  "router_insufficient_gas",
  "router_fee_payout_failed",
  "router_unauthorized_caller",
  "router_permit_failed",
  "router_permit2_has_no_code",
  "router_amount_not_received",
  // anything else
  "panic",
  "out_of_gas",
  "unknown_revert",
] as const;

/** One of {@link REVERT_REASONS}. */
export type RevertReason = (typeof REVERT_REASONS)[number];

/** What each reason means, for logs and API documentation. */
export const REVERT_REASON_DESCRIPTIONS: Readonly<Record<RevertReason, string>> = {
  invalid_exact_evm_signature:
    "The signature does not recover to the authorizer (wrong signer, wrong domain, chain or token, altered " +
    "fields, malformed bytes) or the authorizer's ERC-1271 wallet rejected it.",
  invalid_exact_evm_payload_authorization_valid_after:
    "Not valid yet: the block timestamp is not strictly after validAfter.",
  invalid_exact_evm_payload_authorization_valid_before:
    "Expired: the block timestamp is not strictly before validBefore.",
  invalid_exact_evm_nonce_already_used: "The authorizer's nonce was already used or cancelled.",
  invalid_exact_evm_insufficient_balance: "The payer's balance is below the authorized value.",
  signature_high_s:
    "The ECDSA signature has s in the upper half of the curve order (the malleable twin of a valid signature).",
  caller_not_payee: "receiveWithAuthorization was called by someone other than the payee `to`.",
  account_blacklisted: "The token has blacklisted the payer, the payee or the caller.",
  token_paused: "The token is paused.",
  invalid_recipient: "The payee is not a valid recipient (the zero address).",
  authorization_outside_validity_window:
    "The token rejected the time bounds without saying which edge (OpenZeppelin's draft ERC3009).",
  invalid_permit2_signature:
    "Permit2 rejected the signature: it does not recover to the owner (wrong signer, spender, witness, " +
    "chain, token or amount), is malformed, or the owner's ERC-1271 wallet rejected it.",
  permit2_invalid_nonce: "The owner's Permit2 nonce was already used or invalidated.",
  permit2_deadline_expired: "The Permit2 signature's deadline has passed.",
  permit2_not_yet_valid:
    "Not valid yet: the block timestamp is not strictly after the router payment's validAfter.",
  permit2_invalid_amount: "The requested amount exceeds the permitted amount.",
  permit2_transfer_from_failed:
    "The token refused Permit2's transferFrom (insufficient balance or allowance to Permit2, a " +
    "blacklisted owner, a paused token...).",
  router_fee_exceeds_value: "A routed item's fee is larger than its value.",
  router_payout_failed:
    "The payout to the item's payee reverted (e.g. a blacklisted payee); the payee's group was undone.",
  router_invalid_signature_length:
    "The item's contract signature is empty or its compact signature malformed.",
  router_malformed_items: "The packed items were truncated or a length prefix ran past their end.",
  router_token_has_no_code: "The token address of a settle call has no code.",
  router_insufficient_gas:
    "The settle call had too little gas left to give the next token call its full budget; raise the limit.",
  router_fee_payout_failed: "The accumulated fees could not be transferred to the fee recipient.",
  router_unauthorized_caller:
    "The router's internal self-call entry point was called from outside.",
  router_permit_failed:
    "The item's EIP-2612 permit approving Permit2 reverted and Permit2's allowance does not cover the amount.",
  router_permit2_has_no_code: "There is no Permit2 at its canonical address on this chain.",
  router_amount_not_received:
    "The Permit2 pull reported success but the router's balance rose by less than the amount (a token " +
    "whose failed transferFrom returns nothing and moves nothing, or a fee-on-transfer token); the pull was undone.",
  panic: "The contract hit a Solidity panic (assertion, arithmetic, array bounds...).",
  out_of_gas: "The call ran out of gas without revert data.",
  unknown_revert:
    "The revert data is empty, not one the decoder knows, or a known error that is no payment failure " +
    "(the decoded errorName says which).",
};

/**
 * The x402 v1 facilitator's (`x402` 1.2) spelling of the reasons it names differently, for answers to
 * v1 clients.
 */
export const X402_V1_REASONS: Readonly<Partial<Record<RevertReason, string>>> = {
  invalid_exact_evm_signature: "invalid_exact_evm_payload_signature",
  invalid_exact_evm_insufficient_balance: "insufficient_funds",
};

/**
 * Tells whether `value` is one of the {@link REVERT_REASONS}.
 *
 * @example
 * isRevertReason("invalid_exact_evm_insufficient_balance"); // true
 */
export function isRevertReason(value: unknown): value is RevertReason {
  return typeof value === "string" && (REVERT_REASONS as readonly string[]).includes(value);
}
