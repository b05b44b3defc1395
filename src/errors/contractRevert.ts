import { BaseError } from "./base.js";
import {
  type DecodeRevertReasonOptions,
  type DecodeRevertReasonReturnType,
  decodeRevertReason,
} from "./decodeRevertReason.js";
import type { RevertReason } from "./reasons.js";

/**
 * A contract call reverted; `reason` says why in the project's vocabulary, `errorName` / `args` /
 * `data` keep what the decoder found, `cause` the original (viem) error.
 *
 * @example
 * try {
 *   await submit();
 * } catch (error) {
 *   throw ContractRevertError.from(error);
 * }
 */
export class ContractRevertError extends BaseError {
  override name = "ContractRevertError";
  readonly reason: RevertReason;
  readonly errorName: string | undefined;
  readonly args: readonly unknown[];
  readonly data: DecodeRevertReasonReturnType["data"];

  constructor(decoded: DecodeRevertReasonReturnType, parameters: { cause?: unknown } = {}) {
    super(`The contract call reverted: ${decoded.reason}.`, {
      cause: parameters.cause,
      details:
        decoded.errorName === undefined
          ? `revert data ${decoded.data ?? "(none)"}`
          : `${decoded.errorName}(${decoded.args.map(String).join(", ")})`,
    });
    this.reason = decoded.reason;
    this.errorName = decoded.errorName;
    this.args = decoded.args;
    this.data = decoded.data;
  }

  /** Decodes `error` (see {@link decodeRevertReason}) and wraps it, keeping it as the cause. */
  static from(error: unknown, options?: DecodeRevertReasonOptions): ContractRevertError {
    if (error instanceof ContractRevertError) return error;
    return new ContractRevertError(decodeRevertReason(error, options), { cause: error });
  }
}
