import { BaseError } from "../errors/base.js";

/**
 * A voucher, deposit or release cannot be built or packed: a bad address, an amount outside its
 * field's range, a malformed signature. `field` names the offending field; `index` is the item's
 * position when a list was being packed.
 */
export class InvalidClearingInputError extends BaseError {
  override name = "InvalidClearingInputError";
  readonly field: string;
  readonly index: number | undefined;

  constructor(field: string, details: string, options: { index?: number; cause?: unknown } = {}) {
    super(
      options.index === undefined
        ? `Invalid clearing input: ${field}.`
        : `Invalid clearing input: item ${options.index}: ${field}.`,
      { details, cause: options.cause },
    );
    this.field = field;
    this.index = options.index;
  }
}
