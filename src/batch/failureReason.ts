import { decodeErrorResult, size, type Hex } from "viem";

import type { ItemStatus } from "./itemStatus.js";

/** Why an item failed, as a stable snake_case code. */
export type SettlementFailureReason = string;

/**
 * The reason code of a failed item: from the router's status, and for `TokenReverted` from the
 * token's revert data.
 */
export function failureReason(
  status: ItemStatus,
  revertData: Hex | undefined,
): SettlementFailureReason {
  switch (status) {
    case "AuthorizationUsed":
      return "invalid_exact_evm_nonce_already_used";
    case "FeeExceedsValue":
      return "router_fee_exceeds_value";
    case "PayoutFailed":
      return "router_payout_failed";
    case "InvalidSignatureLength":
      return "router_invalid_signature_length";
    default:
      return revertReason(revertData);
  }
}

const knownStrings: Record<string, string> = {
  "FiatTokenV2: invalid signature": "invalid_exact_evm_payload_signature",
  "FiatTokenV2: authorization is used or canceled": "invalid_exact_evm_nonce_already_used",
  "FiatTokenV2: authorization is not yet valid":
    "invalid_exact_evm_payload_authorization_valid_after",
  "FiatTokenV2: authorization is expired": "invalid_exact_evm_payload_authorization_valid_before",
  "ERC20: transfer amount exceeds balance": "insufficient_funds",
  "Blacklistable: account is blacklisted": "account_blacklisted",
  "Pausable: paused": "token_paused",
};

function revertReason(data: Hex | undefined): string {
  if (!data || size(data) < 4) return "unknown_revert";
  try {
    const decoded = decodeErrorResult({
      abi: [{ type: "error", name: "Error", inputs: [{ name: "message", type: "string" }] }],
      data,
    });
    return knownStrings[decoded.args[0]] ?? "unknown_revert";
  } catch {
    return "unknown_revert";
  }
}
