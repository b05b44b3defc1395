import { BaseError, type BaseErrorParameters } from "../../errors/base.js";

/**
 * The `routed` client scheme refuses requirements it cannot honour: another x402 version or
 * network, a missing or malformed router, fee or fee recipient, a fee above the client's cap, or
 * an amount above the payment's spend cap. Nothing is signed.
 *
 * @example
 * try { await scheme.createPaymentPayload(2, requirements); }
 * catch (error) { if (error instanceof RoutedRequirementsError) console.log(error.field); }
 */
export class RoutedRequirementsError extends BaseError {
  override name = "RoutedRequirementsError";
  /** The requirements' field at fault, e.g. `extra.fee`. */
  readonly field: string;

  constructor(field: string, shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
    this.field = field;
  }
}

/**
 * The `routed` server scheme cannot price or describe a resource: an unknown network or price
 * format, or a facilitator whose `/supported` kind lacks the routed terms.
 *
 * @example
 * throw new RoutedServerSchemeError("No default asset on this network.", { details: "eip155:1" });
 */
export class RoutedServerSchemeError extends BaseError {
  override name = "RoutedServerSchemeError";
  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
  }
}
