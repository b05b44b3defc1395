import { X402_V1_REASONS } from "../errors/reasons.js";

/**
 * The x402 reason codes this facilitator answers with. They are the strings the official
 * `exact` EVM facilitator of `@x402/evm` 2.27 returns (its `errors.ts`), plus the generic codes of
 * the x402 specification, so clients and servers that branch on them behave the same against
 * this facilitator and the official one.
 */
export const reasons = {
  // generic x402 codes
  invalidPayload: "invalid_payload",
  invalidPaymentRequirements: "invalid_payment_requirements",
  invalidNetwork: "invalid_network",
  invalidX402Version: "invalid_x402_version",
  unsupportedScheme: "unsupported_scheme",
  unexpectedVerifyError: "unexpected_verify_error",
  unexpectedSettleError: "unexpected_settle_error",
  invalidTransactionState: "invalid_transaction_state",
  settlementPending: "settlement_pending",
  // exact EVM scheme (EIP-3009), in the order the official facilitator checks them
  invalidScheme: "invalid_exact_evm_scheme",
  missingEip712Domain: "invalid_exact_evm_missing_eip712_domain",
  networkMismatch: "invalid_exact_evm_network_mismatch",
  factoryNotAllowed: "eip6492_factory_not_allowed",
  invalidSignature: "invalid_exact_evm_signature",
  recipientMismatch: "invalid_exact_evm_recipient_mismatch",
  validBeforeExpired: "invalid_exact_evm_payload_authorization_valid_before",
  validAfterInFuture: "invalid_exact_evm_payload_authorization_valid_after",
  /** v2: `authorization.value` differs from `amount`. */
  authorizationValueMismatch: "invalid_exact_evm_payload_authorization_value_mismatch",
  /** v1: `authorization.value` differs from `maxAmountRequired`. */
  invalidAuthorizationValue: "invalid_exact_evm_authorization_value",
  assetNotDeployedContract: "asset_not_deployed_contract",
  eip3009NotSupported: "invalid_exact_evm_eip3009_not_supported",
  nonceAlreadyUsed: "invalid_exact_evm_nonce_already_used",
  tokenNameMismatch: "invalid_exact_evm_token_name_mismatch",
  tokenVersionMismatch: "invalid_exact_evm_token_version_mismatch",
  insufficientBalance: "invalid_exact_evm_insufficient_balance",
  simulationFailed: "invalid_exact_evm_transaction_simulation_failed",
  transactionFailed: "invalid_exact_evm_transaction_failed",
  transferEventMismatch: "invalid_exact_evm_transfer_event_mismatch",
  // the project's own (toolkit vocabulary)
  /** A value or time bound does not fit the SettlementRouter's packed layout (uint128 / uint48). */
  unsettleableFieldOutOfRange: "unsettleable_field_out_of_range",
  // the routed scheme (docs/SCHEMES.md), checked besides every exact check that applies
  /** The payload's `accepted.scheme` is not the requirements' `routed`. */
  routedInvalidScheme: "invalid_routed_scheme",
  /** The requirements' `extra` lacks `router`, `fee` or `feeRecipient` (or one is malformed). */
  routedMissingExtra: "invalid_routed_missing_extra",
  /** `extra.router` or the authorization's `to` is not this facilitator's SettlementRouter. */
  routedRouterMismatch: "invalid_routed_router_mismatch",
  /** `extra.feeRecipient` is not this facilitator's fee recipient. */
  routedFeeRecipientMismatch: "invalid_routed_fee_recipient_mismatch",
  /** `extra.fee` is below this facilitator's fee. */
  routedFeeBelowMinimum: "invalid_routed_fee_below_minimum",
  /** The authorization's `value` is not `amount + extra.fee`. */
  routedValueMismatch: "invalid_routed_value_mismatch",
  /** The nonce is not `keccak256(abi.encode(payTo, fee, feeRecipient, salt))`. */
  routedNonceCommitment: "invalid_routed_nonce_commitment",
  // the facilitator's admission policy (see BatchFacilitatorOptions)
  /** The asset is not one this facilitator settles (`assets`). */
  assetNotAllowed: "facilitator_asset_not_allowed",
  /** The amount is below the facilitator's `minAmount`. */
  amountBelowMinimum: "facilitator_amount_below_minimum",
  /** `payTo` is the SettlementRouter: the funds would be locked there. */
  payToIsRouter: "facilitator_pay_to_router",
  /** The payer has `maxPendingPerPayer` payments being settled (HTTP 429). */
  payerPendingLimit: "facilitator_payer_pending_limit",
  /** The facilitator has `maxPending` payments being settled (HTTP 429). */
  pendingLimit: "facilitator_pending_limit",
  /** The facilitator is shutting down (HTTP 503). */
  closing: "facilitator_closing",
} as const;

/** One of the reason codes in {@link reasons}. */
export type Reason = (typeof reasons)[keyof typeof reasons];

/**
 * The reason as a client of protocol `x402Version` expects it: v2 answers use the spellings above,
 * v1 answers the x402 v1 (`x402` 1.2) spelling where it differs (e.g. `insufficient_funds`).
 *
 * @example
 * reasonForVersion(1, "invalid_exact_evm_insufficient_balance"); // "insufficient_funds"
 */
export function reasonForVersion(x402Version: 1 | 2, reason: string): string {
  if (x402Version !== 1) return reason;
  return (X402_V1_REASONS as Readonly<Record<string, string>>)[reason] ?? reason;
}
