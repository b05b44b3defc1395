import { BaseError, type BaseErrorParameters } from "../errors/base.js";

/**
 * The facilitator cannot run as configured: unsupported network, an RPC serving another chain,
 * an invalid option.
 *
 * @example
 * throw new FacilitatorConfigurationError("The RPC serves another chain.", { details: "chain 1" });
 */
export class FacilitatorConfigurationError extends BaseError {
  override name = "FacilitatorConfigurationError";
  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
  }
}

/**
 * The SettlementRouter could not be found or deployed at its CREATE2 address.
 *
 * @example
 * throw new RouterDeploymentError("CreateX is not deployed.", { details: CREATEX_ADDRESS });
 */
export class RouterDeploymentError extends BaseError {
  override name = "RouterDeploymentError";
  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
  }
}

/**
 * The facilitator's store does not hold what the facilitator just wrote to it (a broken or
 * concurrently modified database file).
 *
 * @example
 * throw new FacilitatorStoreError("The payment is not stored.", { details: id });
 */
export class FacilitatorStoreError extends BaseError {
  override name = "FacilitatorStoreError";
  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    super(shortMessage, parameters);
  }
}

/**
 * The node refused a batch transaction and does not know it: it was not broadcast, its nonce is
 * free again.
 *
 * @example
 * throw new BroadcastRefusedError(txHash, { cause: error });
 */
export class BroadcastRefusedError extends BaseError {
  override name = "BroadcastRefusedError";
  readonly txHash: `0x${string}`;
  constructor(txHash: `0x${string}`, parameters: BaseErrorParameters = {}) {
    super("The node refused the batch transaction.", parameters);
    this.txHash = txHash;
  }
}
