/**
 * Why the operator ledger rejected a voucher: stable snake_case codes, checked in this order.
 *
 * - `malformed_voucher`: an address is not 20 bytes of hex, an amount is not a bigint in
 *   [0, 2^128), or the signature is not hex.
 * - `operator_mismatch`: the voucher names another operator.
 * - `token_not_supported`: the voucher's token is not one the ledger clears.
 * - `payee_mismatch`: the voucher pays another payee than the request's.
 * - `fee_mismatch`: `cumulativeFee` is not what the operator's fee terms give for
 *   `cumulativeValue` (higher or lower).
 * - `unknown_account`: the mirror has no deposit for (payer, operator, token).
 * - `contract_signature_unverified`: an ERC-1271 voucher the caller has not verified on chain.
 * - `invalid_signature`: the ECDSA signature is malformed, has a high `s`, or recovers nothing.
 * - `signer_not_authorized`: the signer is neither the payer nor the account's voucher signer.
 * - `voucher_already_accepted`: this voucher (its EIP-712 digest) was accepted before.
 * - `cumulative_too_low`: the pair's charged total plus the price exceeds the highest
 *   cumulative the payer has signed for the pair (this voucher included).
 * - `insufficient_balance`: the account's accepted-but-uncleared total would exceed its balance.
 * - `withdrawal_pending`: it would fit the balance, but not the balance minus the pending
 *   withdrawal.
 */
export const LEDGER_REJECT_REASONS = [
  "malformed_voucher",
  "operator_mismatch",
  "token_not_supported",
  "payee_mismatch",
  "fee_mismatch",
  "unknown_account",
  "contract_signature_unverified",
  "invalid_signature",
  "signer_not_authorized",
  "voucher_already_accepted",
  "cumulative_too_low",
  "insufficient_balance",
  "withdrawal_pending",
] as const;

/** One of {@link LEDGER_REJECT_REASONS}. */
export type LedgerRejectReason = (typeof LEDGER_REJECT_REASONS)[number];
