import type { Hex } from "viem";

import { BaseError } from "../errors/base.js";

/** Input to the batch helpers is unusable (empty batch, bad option, no account). */
export class InvalidBatchInputError extends BaseError {
  override name = "InvalidBatchInputError";
  /** The offending parameter. */
  readonly field: string;

  constructor(field: string, details: string) {
    super(`Invalid batch input: ${field}.`, { details });
    this.field = field;
  }
}

/** A batch needs more gas than one transaction may use (Base's 2^24 cap): split it. */
export class BatchGasExceedsCapError extends BaseError {
  override name = "BatchGasExceedsCapError";
  /** The gas needed (or the cap, when the router only said it ran short). */
  readonly gas: bigint;
  readonly cap: bigint;
  /** Items in the batch (-1 when only packed bytes were given). */
  readonly items: number;
  /** When known (the router's SettlementRouterInsufficientGas index): how many leading items fit. */
  readonly fittingItems: number | undefined;

  constructor(gas: bigint, cap: bigint, items: number, fittingItems?: number) {
    super("The batch needs more gas than one transaction may use.", {
      details:
        `${items} items need ${gas === cap ? "more than " : ""}${gas} gas, the cap is ${cap}` +
        (fittingItems !== undefined ? `; the first ${fittingItems} fit` : ""),
    });
    this.gas = gas;
    this.cap = cap;
    this.items = items;
    this.fittingItems = fittingItems;
  }
}

/** The settle transaction reverted as a whole (a submitter error: malformed items, too little gas). */
export class SettleTransactionRevertedError extends BaseError {
  override name = "SettleTransactionRevertedError";
  readonly transactionHash: Hex;

  constructor(transactionHash: Hex) {
    super("The settle transaction reverted.", { details: `transaction ${transactionHash}` });
    this.transactionHash = transactionHash;
  }
}

/** No receipt within the time limit, also after replacing the transaction with higher fees. */
export class SettleTimeoutError extends BaseError {
  override name = "SettleTimeoutError";
  /** Every hash broadcast for this nonce, oldest first: any of them may still be mined. */
  readonly transactionHashes: readonly Hex[];
  readonly nonce: number;

  constructor(transactionHashes: readonly Hex[], nonce: number, timeoutMs: number) {
    super("The settle transaction was not mined in time.", {
      details: `nonce ${nonce}, ${transactionHashes.length} transaction(s) broadcast, ${timeoutMs} ms each`,
    });
    this.transactionHashes = transactionHashes;
    this.nonce = nonce;
  }
}

/** The receipt's events do not account for every item of the batch. */
export class SettleReceiptMismatchError extends BaseError {
  override name = "SettleReceiptMismatchError";
  readonly transactionHash: Hex;

  constructor(transactionHash: Hex, details: string) {
    super("The receipt does not report every item of the batch.", {
      details: `${transactionHash}: ${details}`,
    });
    this.transactionHash = transactionHash;
  }
}

/** No contract at the router address: nothing can settle there. */
export class RouterNotDeployedError extends BaseError {
  override name = "RouterNotDeployedError";
  readonly router: Hex;

  constructor(router: Hex) {
    super("There is no contract at the router address.", {
      details: `${router} has no code on this chain; deploy it with ensureRouter`,
    });
    this.router = router;
  }
}

/** The node did not answer a request the settlement needs (unreachable, timed out, refused). */
export class SettlementNodeError extends BaseError {
  override name = "SettlementNodeError";

  constructor(request: string, cause: unknown) {
    super(`The node did not answer ${request}.`, { cause });
  }
}
