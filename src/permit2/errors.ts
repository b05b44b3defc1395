import { BaseError } from "../errors/base.js";

/**
 * A Permit2 transfer cannot be built, signed or verified as asked: a bad address, an amount or
 * nonce out of range, a witness type that Permit2's type string cannot carry. `field` names the
 * offending field.
 */
export class InvalidPermit2InputError extends BaseError {
  override name = "InvalidPermit2InputError";
  readonly field: string;

  constructor(field: string, details: string, options: { cause?: unknown } = {}) {
    super(`Invalid Permit2 input: ${field}.`, { details, cause: options.cause });
    this.field = field;
  }
}
