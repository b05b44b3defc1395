import { BaseError } from "../errors/base.js";

/**
 * Input to the authorization helpers is malformed (bad address, negative amount, inverted time
 * window, an x402 payload without the `exact` EVM shape...). `reason` is x402's `invalid_payload`,
 * `field` names the offending field.
 */
export class InvalidAuthorizationInputError extends BaseError {
  override name = "InvalidAuthorizationInputError";
  readonly reason = "invalid_payload" as const;
  readonly field: string;

  constructor(field: string, details: string, options: { cause?: unknown } = {}) {
    super(`Invalid authorization input: ${field}.`, { details, cause: options.cause });
    this.field = field;
  }
}
