import { BaseError } from "../../errors/base.js";

/**
 * Why the `clearing` client refused to pay: stable snake_case codes.
 *
 * - `invalid_requirements`: the requirements are not a `clearing` offer this client can pay
 *   (scheme, network, an address, the amount, the fee terms, the withdrawal delay).
 * - `untrusted_terms`: well formed, but outside the client's policy (a ClearingHouse or operator
 *   it does not trust, fee basis points above its cap, a withdrawal delay above its cap, an amount
 *   above its per-payment cap).
 * - `deposit_too_small`: the deposit policy gives less than one payment needs.
 * - `signer_unavailable`: the signer cannot sign typed data or digests.
 * - `permit2_approval_required`: a Permit2 deposit is due but the payer's allowance to Permit2 on
 *   the token (read through the client's `publicClient`) does not cover it. The approval is the
 *   payer's one on-chain transaction (`approvePermit2`).
 */
export type ClearingClientErrorReason =
  | "invalid_requirements"
  | "untrusted_terms"
  | "deposit_too_small"
  | "signer_unavailable"
  | "permit2_approval_required";

/** The `clearing` client scheme refused to build a payment; `reason` says why. */
export class ClearingClientError extends BaseError {
  override name = "ClearingClientError";
  readonly reason: ClearingClientErrorReason;
  readonly field: string | undefined;

  constructor(
    reason: ClearingClientErrorReason,
    details: string,
    options: { field?: string; cause?: unknown } = {},
  ) {
    super(
      options.field === undefined
        ? `The clearing payment was refused: ${reason}.`
        : `The clearing payment was refused: ${reason} (${options.field}).`,
      { details, cause: options.cause },
    );
    this.reason = reason;
    this.field = options.field;
  }
}

/** A `clearing` payload or pair state on the wire is malformed; `field` names the first bad field. */
export class InvalidClearingPayloadError extends BaseError {
  override name = "InvalidClearingPayloadError";
  readonly field: string;

  constructor(field: string, details: string) {
    super(`Invalid clearing payload: ${field}.`, { details });
    this.field = field;
  }
}

/** The server scheme cannot build requirements: the facilitator's kind lacks the clearing terms. */
export class ClearingServerError extends BaseError {
  override name = "ClearingServerError";

  constructor(shortMessage: string, details?: string, cause?: unknown) {
    super(shortMessage, { details, cause });
  }
}

/** A voucher store could not read or write its state. */
export class VoucherStoreError extends BaseError {
  override name = "VoucherStoreError";

  constructor(operation: "load" | "save", cause: unknown, details?: string) {
    super(`The voucher store failed to ${operation}.`, { cause, details });
  }
}
