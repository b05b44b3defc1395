import type { Hex } from "viem";

/** Thrown when input to the batch helpers is unusable (empty batch, bad option, no account). */
export class InvalidBatchInputError extends Error {
  override name = "InvalidBatchInputError";
  readonly field: string;
  readonly shortMessage: string;
  readonly details: string;

  constructor(field: string, details: string) {
    super(`Invalid batch input: ${field}: ${details}`);
    this.field = field;
    this.shortMessage = `Invalid batch input: ${field}`;
    this.details = details;
  }
}

/** A batch needs more gas than one transaction may use (Base's 2^24 cap): split it. */
export class BatchGasExceedsCapError extends Error {
  override name = "BatchGasExceedsCapError";
  readonly gas: bigint;
  readonly cap: bigint;
  readonly items: number;
  /** When known (the router's SettlementRouterInsufficientGas index): how many leading items fit. */
  readonly fittingItems: number | undefined;
  readonly shortMessage = "The batch needs more gas than one transaction may use";
  readonly details: string;

  constructor(gas: bigint, cap: bigint, items: number, fittingItems?: number) {
    const details =
      `${items} items need ${gas === cap ? "more than" : ""} ${gas} gas, the per-transaction cap is ${cap}` +
      (fittingItems !== undefined ? `; the first ${fittingItems} fit` : "");
    super(`The batch needs more gas than one transaction may use: ${details}`);
    this.gas = gas;
    this.cap = cap;
    this.items = items;
    this.fittingItems = fittingItems;
    this.details = details;
  }
}

/** The settle transaction reverted as a whole (a submitter error: malformed items, too little gas). */
export class SettleTransactionRevertedError extends Error {
  override name = "SettleTransactionRevertedError";
  readonly transactionHash: Hex;
  readonly shortMessage = "The settle transaction reverted";
  readonly details: string;

  constructor(transactionHash: Hex, details = "receipt status is reverted") {
    super(`The settle transaction ${transactionHash} reverted: ${details}`);
    this.transactionHash = transactionHash;
    this.details = details;
  }
}

/** No receipt within the time limit, also after replacing the transaction with higher fees. */
export class SettleTimeoutError extends Error {
  override name = "SettleTimeoutError";
  /** Every hash broadcast for this nonce, oldest first: any of them may still be mined. */
  readonly transactionHashes: readonly Hex[];
  readonly nonce: number;
  readonly shortMessage = "The settle transaction was not mined in time";
  readonly details: string;

  constructor(transactionHashes: readonly Hex[], nonce: number, timeoutMs: number) {
    const details = `nonce ${nonce}, ${transactionHashes.length} transaction(s) broadcast, ${timeoutMs} ms each`;
    super(`The settle transaction was not mined in time: ${details}`);
    this.transactionHashes = transactionHashes;
    this.nonce = nonce;
    this.details = details;
  }
}

/** The receipt's events do not account for every item of the batch. */
export class SettleReceiptMismatchError extends Error {
  override name = "SettleReceiptMismatchError";
  readonly transactionHash: Hex;
  readonly shortMessage = "The receipt does not report every item of the batch";
  readonly details: string;

  constructor(transactionHash: Hex, details: string) {
    super(`The receipt of ${transactionHash} does not report every item of the batch: ${details}`);
    this.transactionHash = transactionHash;
    this.details = details;
  }
}
