import { BaseError } from "../errors/base.js";

/** The ledger was given input it cannot act on (a bad price, fee terms, gas cap, address...). */
export class InvalidLedgerInputError extends BaseError {
  override name = "InvalidLedgerInputError";
  readonly field: string;

  constructor(field: string, details: string) {
    super(`Invalid ledger input: ${field}.`, { details });
    this.field = field;
  }
}

/**
 * The ledger's store failed to record an accepted voucher: the voucher is not accepted and the
 * ledger's state is unchanged.
 */
export class LedgerStoreError extends BaseError {
  override name = "LedgerStoreError";

  constructor(operation: string, cause: unknown) {
    super(`The ledger store failed: ${operation}.`, { cause });
  }
}

/** A clear transaction reverted, got no receipt, or reported another number of results. */
export class ClearFailedError extends BaseError {
  override name = "ClearFailedError";
  readonly transactionHash: `0x${string}` | undefined;

  constructor(details: string, options: { transactionHash?: `0x${string}`; cause?: unknown } = {}) {
    super("The clear transaction failed.", { details, cause: options.cause });
    this.transactionHash = options.transactionHash;
  }
}
