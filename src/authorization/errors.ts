/**
 * Thrown when input to the authorization helpers is malformed (bad address, negative amount,
 * inverted time window, an x402 payload that does not have the `exact` EVM shape...).
 * `reason` is a stable snake_case code, `field` names the offending field.
 */
export class InvalidAuthorizationInputError extends Error {
  override name = "InvalidAuthorizationInputError";
  readonly reason: "invalid_payload";
  readonly field: string;
  readonly shortMessage: string;
  readonly details: string;

  constructor(field: string, details: string, options: { cause?: unknown } = {}) {
    super(`Invalid authorization input: ${field}: ${details}`, { cause: options.cause });
    this.reason = "invalid_payload";
    this.field = field;
    this.shortMessage = `Invalid authorization input: ${field}`;
    this.details = details;
  }
}
