import type { Address, Hex, PublicClient, TransactionReceipt } from "viem";

import type { BatchTransaction } from "./store.js";

/** What the chain says about a batch's transactions at one poll. */
export type BatchState =
  /** One of the batch's own transactions is mined with the required confirmations. */
  | { state: "mined"; receipt: TransactionReceipt }
  /** Mined, not yet confirmed deep enough; or broadcast and known to the node. */
  | { state: "pending"; known: boolean }
  /** The relayer's nonce was used by a transaction that is none of the batch's. */
  | { state: "nonceTaken" }
  /** The node knows none of the batch's transactions, and its nonce is not used. */
  | { state: "dropped" };

/** What a {@link ReceiptTracker} reads with. */
export interface ReceiptTrackerOptions {
  client: PublicClient;
  relayer: Address;
  /** Blocks a receipt must have on top of and including its own before it is trusted (default 1). */
  confirmations?: number;
}

/**
 * Receipt tracking: one job, telling whether a batch is mined. Only the receipts of the batch's
 * own transaction hashes count (the first and every recorded replacement); viem's
 * `waitForTransactionReceipt` is not used, because it follows any transaction that takes the
 * nonce and would hand over a stranger's receipt. When none of them is mined and the relayer's
 * mined nonce has passed the batch's, the nonce went to another transaction: the batch will
 * never be mined and its payments are reconciled from the chain. Read errors throw: the caller
 * polls again, it never takes a failed read for a verdict.
 *
 * @example
 * const state = await tracker.poll(transactions, batch.relayerNonce);
 * if (state.state === "mined") settle(decodeSettleReceipt({ receipt: state.receipt, router }));
 */
export class ReceiptTracker {
  readonly #options: ReceiptTrackerOptions;
  readonly #confirmations: bigint;

  constructor(options: ReceiptTrackerOptions) {
    this.#options = options;
    this.#confirmations = BigInt(Math.max(1, Math.floor(options.confirmations ?? 1)));
  }

  /** One look at the chain for the batch signed with `nonce` as `transactions`. */
  async poll(transactions: readonly BatchTransaction[], nonce: number): Promise<BatchState> {
    const { client, relayer } = this.#options;
    const receipt = await this.#receiptOfAny(transactions);
    if (receipt) {
      if (this.#confirmations <= 1n) return { state: "mined", receipt };
      const head = await client.getBlockNumber({ cacheTime: 0 });
      if (head - receipt.blockNumber + 1n >= this.#confirmations) {
        return { state: "mined", receipt };
      }
      return { state: "pending", known: true };
    }
    const mined = await client.getTransactionCount({ address: relayer, blockTag: "latest" });
    if (mined > nonce) {
      // Mined meanwhile (between the two reads)? Look once more before calling it taken.
      const late = await this.#receiptOfAny(transactions);
      if (late) return { state: "pending", known: true };
      return { state: "nonceTaken" };
    }
    for (const { txHash } of transactions) {
      const known = await client.getTransaction({ hash: txHash }).then(
        () => true,
        (error: unknown) => {
          if (isNotFound(error)) return false;
          throw error;
        },
      );
      if (known) return { state: "pending", known: true };
    }
    return { state: "dropped" };
  }

  async #receiptOfAny(
    transactions: readonly BatchTransaction[],
  ): Promise<TransactionReceipt | undefined> {
    for (const { txHash } of transactions) {
      const receipt = await this.#receipt(txHash);
      if (receipt && receipt.transactionHash.toLowerCase() === txHash.toLowerCase()) return receipt;
    }
    return undefined;
  }

  async #receipt(hash: Hex): Promise<TransactionReceipt | undefined> {
    try {
      return await this.#options.client.getTransactionReceipt({ hash });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

function isNotFound(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return name === "TransactionReceiptNotFoundError" || name === "TransactionNotFoundError";
}
