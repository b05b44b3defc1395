import { type Hex, decodeAbiParameters, decodeErrorResult, isHex, size, slice } from "viem";

import { revertErrorsAbi } from "./abi.js";
import { REVERT_STRING_REASONS } from "./errorStrings.js";
import { findRevertData } from "./findRevertData.js";
import type { RevertReason } from "./reasons.js";

type KnownErrorName = Extract<(typeof revertErrorsAbi)[number], { type: "error" }>["name"];

/** The reason each known custom error stands for. */
const CUSTOM_ERROR_REASONS: Readonly<Record<KnownErrorName, RevertReason>> = {
  ERC3009InvalidSignature: "invalid_exact_evm_payload_signature",
  ERC3009UsedAuthorization: "invalid_exact_evm_nonce_already_used",
  ERC3009InvalidAuthorizationTime: "authorization_outside_validity_window",
  ERC3009AuthorizationNotYetValid: "invalid_exact_evm_payload_authorization_valid_after",
  ERC3009AuthorizationExpired: "invalid_exact_evm_payload_authorization_valid_before",
  ERC3009CallerNotPayee: "caller_not_payee",
  ECDSAInvalidSignature: "invalid_exact_evm_payload_signature",
  ECDSAInvalidSignatureLength: "invalid_exact_evm_payload_signature",
  ECDSAInvalidSignatureS: "signature_high_s",
  ERC20InsufficientBalance: "insufficient_funds",
  ERC20InvalidReceiver: "invalid_recipient",
  EnforcedPause: "token_paused",
  SettlementRouterMalformedItems: "router_malformed_items",
};

/** Selector of `Error(string)`. */
const ERROR_STRING_SELECTOR = "0x08c379a0";
/** Selector of `Panic(uint256)`. */
const PANIC_SELECTOR = "0x4e487b71";

/** Parameters of {@link decodeRevertReason} besides the revert itself. */
export interface DecodeRevertReasonOptions {
  /**
   * Gas the reverted call or transaction used, and the limit it had. With both given, a revert without
   * data that used all its gas is reported as `out_of_gas` instead of `unknown_revert`.
   */
  gasUsed?: bigint;
  gasLimit?: bigint;
}

/** What {@link decodeRevertReason} found. */
export interface DecodeRevertReasonReturnType {
  reason: RevertReason;
  /** "Error" for `Error(string)`, "Panic", or the custom error's name; undefined if nothing was decoded. */
  errorName: string | undefined;
  /** The decoded error arguments (the message for "Error", the code for "Panic"). */
  args: readonly unknown[];
  /** The revert data that was decoded; undefined when an error object carried none. */
  data: Hex | undefined;
}

/**
 * Names why a call reverted, as a {@link RevertReason}. Takes raw revert data or an error (a viem error
 * is searched along its `cause` chain). Decodes by selector: `Error(string)` messages are looked up
 * exactly in a table of USDC's strings, `Panic(uint256)` becomes `panic`, custom errors are decoded
 * against the known ABIs (OpenZeppelin ERC3009/ECDSA/ERC20, the project's token and router) and
 * mapped by name. Anything else is `unknown_revert`; it never throws.
 *
 * @example
 * try {
 *   await walletClient.writeContract({ address: usdc, abi, functionName: "transferWithAuthorization", args });
 * } catch (error) {
 *   const { reason } = decodeRevertReason(error); // e.g. "invalid_exact_evm_nonce_already_used"
 * }
 * decodeRevertReason("0x08c379a0...").reason; // from raw data, e.g. a PaymentFailed event's reason
 */
export function decodeRevertReason(
  revert: Hex | unknown,
  options: DecodeRevertReasonOptions = {},
): DecodeRevertReasonReturnType {
  const data = typeof revert === "string" && isHex(revert) ? revert : findRevertData(revert);
  if (data === undefined || size(data) < 4) {
    const { gasUsed, gasLimit } = options;
    const exhausted = gasUsed !== undefined && gasLimit !== undefined && gasUsed >= gasLimit;
    return {
      reason: exhausted ? "out_of_gas" : "unknown_revert",
      errorName: undefined,
      args: [],
      data,
    };
  }
  const selector = slice(data, 0, 4);
  try {
    if (selector === ERROR_STRING_SELECTOR) {
      const [message] = decodeAbiParameters([{ type: "string" }], slice(data, 4));
      const reason = Object.hasOwn(REVERT_STRING_REASONS, message)
        ? REVERT_STRING_REASONS[message]!
        : "unknown_revert";
      return { reason, errorName: "Error", args: [message], data };
    }
    if (selector === PANIC_SELECTOR) {
      const [code] = decodeAbiParameters([{ type: "uint256" }], slice(data, 4));
      return { reason: "panic", errorName: "Panic", args: [code], data };
    }
    const decoded = decodeErrorResult({ abi: revertErrorsAbi, data });
    return {
      reason: CUSTOM_ERROR_REASONS[decoded.errorName],
      errorName: decoded.errorName,
      args: decoded.args ?? [],
      data,
    };
  } catch {
    // Unknown selector, or data too short for the error's parameters.
    return { reason: "unknown_revert", errorName: undefined, args: [], data };
  }
}
