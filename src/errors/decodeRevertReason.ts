import { type Hex, decodeAbiParameters, decodeErrorResult, isHex, size, slice } from "viem";

import { revertErrorsAbi } from "./abi.js";
import { REVERT_STRING_REASONS } from "./errorStrings.js";
import { findRevertData } from "./findRevertData.js";
import type { RevertReason } from "./reasons.js";
import { walkCauses } from "./walkCauses.js";

type KnownErrorName = Extract<(typeof revertErrorsAbi)[number], { type: "error" }>["name"];

/**
 * The reason each known custom error stands for. Typed over every error of {@link revertErrorsAbi}, so
 * an error added to the token's or the router's ABI does not compile until it is given a reason.
 */
const CUSTOM_ERROR_REASONS: Readonly<Record<KnownErrorName, RevertReason>> = {
  // EIP-3009 (OpenZeppelin draft ERC3009 and the project's IEIP3009Token)
  ERC3009InvalidSignature: "invalid_exact_evm_signature",
  ERC3009UsedAuthorization: "invalid_exact_evm_nonce_already_used",
  ERC3009InvalidAuthorizationTime: "authorization_outside_validity_window",
  ERC3009AuthorizationNotYetValid: "invalid_exact_evm_payload_authorization_valid_after",
  ERC3009AuthorizationExpired: "invalid_exact_evm_payload_authorization_valid_before",
  ERC3009CallerNotPayee: "caller_not_payee",
  // OpenZeppelin ECDSA
  ECDSAInvalidSignature: "invalid_exact_evm_signature",
  ECDSAInvalidSignatureLength: "invalid_exact_evm_signature",
  ECDSAInvalidSignatureS: "signature_high_s",
  // OpenZeppelin ERC20 / Pausable
  ERC20InsufficientBalance: "invalid_exact_evm_insufficient_balance",
  ERC20InvalidReceiver: "invalid_recipient",
  EnforcedPause: "token_paused",
  // SettlementRouter
  SettlementRouterMalformedItems: "router_malformed_items",
  SettlementRouterTokenHasNoCode: "router_token_has_no_code",
  SettlementRouterInsufficientGas: "router_insufficient_gas",
  SettlementRouterFeePayoutFailed: "router_fee_payout_failed",
  SettlementRouterUnauthorizedCaller: "router_unauthorized_caller",
  SettlementRouterPermit2HasNoCode: "router_permit2_has_no_code",
  // Permit2 (SignatureTransfer, SignatureVerification, PermitErrors; AllowanceTransfer's are no
  // payment failure of a signature transfer)
  InvalidNonce: "permit2_invalid_nonce",
  SignatureExpired: "permit2_deadline_expired",
  InvalidSigner: "invalid_permit2_signature",
  InvalidSignature: "invalid_permit2_signature",
  InvalidSignatureLength: "invalid_permit2_signature",
  InvalidContractSignature: "invalid_permit2_signature",
  InvalidAmount: "permit2_invalid_amount",
  LengthMismatch: "unknown_revert",
  AllowanceExpired: "unknown_revert",
  InsufficientAllowance: "unknown_revert",
  ExcessiveInvalidation: "unknown_revert",
  // Known errors that no EIP-3009 payment raises: decoded (errorName says which), no payment reason.
  AccessControlBadConfirmation: "unknown_revert",
  AccessControlUnauthorizedAccount: "unknown_revert",
  ERC20InsufficientAllowance: "unknown_revert",
  ERC20InvalidApprover: "unknown_revert",
  ERC20InvalidSender: "unknown_revert",
  ERC20InvalidSpender: "unknown_revert",
  ERC2612ExpiredSignature: "unknown_revert",
  ERC2612InvalidSigner: "unknown_revert",
  InvalidAccountNonce: "unknown_revert",
  InvalidShortString: "unknown_revert",
  StringTooLong: "unknown_revert",
};

/** Selector of `Error(string)`. */
const ERROR_STRING_SELECTOR = "0x08c379a0";
/** Selector of `Panic(uint256)`. */
const PANIC_SELECTOR = "0x4e487b71";

/**
 * Hardhat's EDR node reports a failed transaction with structured error data,
 * `{ reason: { OutOfGas: ... }, data: "0x", transactionHash }`: the halt reason is a key, not a message.
 */
function isEdrOutOfGas(node: unknown): boolean {
  if (typeof node !== "object" || node === null) return false;
  const data = (node as { data?: unknown }).data;
  if (typeof data !== "object" || data === null) return false;
  const reason = (data as { reason?: unknown }).reason;
  return typeof reason === "object" && reason !== null && Object.hasOwn(reason, "OutOfGas");
}

/** Parameters of {@link decodeRevertReason} besides the revert itself. */
export interface DecodeRevertReasonOptions {
  /**
   * Gas the reverted call or transaction used, and the limit it had. With both given, a revert without
   * data that used all its gas is reported as `out_of_gas` instead of `unknown_revert`. (An error from
   * Hardhat's node needs neither: it says out-of-gas in its structured error data.)
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
 * against the known ABIs (the test token's, which includes OpenZeppelin's ERC3009, ECDSA and ERC20
 * errors, and the SettlementRouter's) and mapped by name. Anything else is `unknown_revert`; it never throws.
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
    const exhausted =
      (gasUsed !== undefined && gasLimit !== undefined && gasUsed >= gasLimit) ||
      walkCauses(revert, isEdrOutOfGas) !== undefined;
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
