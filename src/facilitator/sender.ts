import {
  keccak256,
  parseTransaction,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";

import { bumpFees, type Eip1559Fees } from "../batch/bumpFees.js";
import { BroadcastRefusedError, FacilitatorStoreError } from "./errors.js";
import { settlementCallOf } from "./items.js";
import type { FacilitatorStore, StoredBatch, StoredPayment } from "./store.js";

/** See {@link BatchFacilitatorOptions.onCheckpoint}. */
export type FacilitatorCheckpoint = "batchRecorded" | "batchBroadcast" | "batchMined";

/** What a {@link RelayerSender} signs and records with. */
export interface RelayerSenderOptions {
  client: PublicClient;
  relayer: LocalAccount;
  chainId: number;
  router: Address;
  store: FacilitatorStore;
  /** Fee increase of each replacement, in percent (default 25; nodes require at least 10). */
  feeBumpPercent?: number;
  onCheckpoint?: (checkpoint: FacilitatorCheckpoint) => void;
  log: (line: string) => void;
}

/** How long fee estimates are reused. */
const FEES_TTL_MS = 2_000;

/**
 * The relayer's sender: one job, getting batch transactions on chain. It assigns relayer nonces in
 * order (one signing at a time), takes EIP-1559 fees from the node, signs locally, records the
 * signed transaction before anything leaves the process (write-ahead), then broadcasts. It replaces
 * a stuck transaction with the same nonce and higher fees (recorded first as well), re-reads the
 * pending nonce whenever a transaction is dropped, and fills a nonce gap no batch will use with a
 * zero-value transaction to itself so that no later batch waits behind it.
 *
 * @example
 * const batch = await sender.send(token, payments, settleGasBound({ items }));
 */
export class RelayerSender {
  readonly #options: RelayerSenderOptions;
  #chain: Promise<unknown> = Promise.resolve();
  #nonce: number | undefined;
  #fees: { at: number; fees: Eip1559Fees } | undefined;

  constructor(options: RelayerSenderOptions) {
    this.#options = options;
  }

  /** The next nonce the relayer signs with, when known. */
  get nonce(): number | undefined {
    return this.#nonce;
  }

  /** Re-reads the relayer's pending nonce (at start, and after a transaction was dropped). */
  async resync(): Promise<void> {
    await this.#serialized(async () => {
      this.#nonce = await this.#pendingNonce();
    });
  }

  /**
   * Signs the router call of `payments` ({@link settlementCallOf}: a `settle` of direct and routed
   * items, or a `settlePermit2` of Permit2 items, the fees paid to `feeRecipient`) with `gas`, records it with its payments (write-ahead), broadcasts it. Throws {@link BroadcastRefusedError} when the node
   * refused it and does not know it: the batch is then abandoned and its payments queued again
   * (one store transaction), and the nonce is read again.
   */
  send(
    token: Address,
    feeRecipient: Address,
    payments: readonly StoredPayment[],
    gas: bigint,
  ): Promise<StoredBatch> {
    return this.#serialized(async () => {
      const { relayer, router, store } = this.#options;
      const data = settlementCallOf(router, token, feeRecipient, payments);
      const fees = await this.#currentFees();
      this.#nonce ??= await this.#pendingNonce();
      const nonce = this.#nonce;
      const rawTx = await relayer.signTransaction({
        type: "eip1559",
        chainId: this.#options.chainId,
        to: router,
        data,
        gas,
        nonce,
        value: 0n,
        ...fees,
      });
      const txHash = keccak256(rawTx);
      const batchId = store.recordBatch(
        { txHash, rawTx, relayerNonce: nonce },
        payments.map((payment) => payment.id),
      );
      this.#nonce = nonce + 1;
      this.#options.onCheckpoint?.("batchRecorded");
      try {
        await this.#broadcast(rawTx, txHash);
      } catch (error) {
        store.abandonBatch(batchId);
        this.#nonce = await this.#pendingNonce().catch(() => undefined);
        throw error;
      }
      this.#options.onCheckpoint?.("batchBroadcast");
      const batch = store.getBatch(batchId);
      if (!batch) {
        throw new FacilitatorStoreError("The batch is not stored.", { details: String(batchId) });
      }
      return batch;
    });
  }

  /**
   * Signs a plain call from the relayer (`to`, `data`, `gas`) with the next nonce and the node's
   * fees, hands its hash to `onSigned` before anything leaves the process (a write-ahead record of
   * the caller's own), then broadcasts it. The ClearingHouse's deposit batches and official `exact`
   * Permit2 settlements go through here, so they share the relayer's nonce order with the router
   * batches. Throws
   * {@link BroadcastRefusedError} when the node refused it (the nonce is read again).
   */
  sendCall(
    call: { to: Address; data: Hex; gas: bigint },
    onSigned?: (txHash: Hex) => void,
  ): Promise<Hex> {
    return this.#serialized(async () => {
      const { relayer } = this.#options;
      const fees = await this.#currentFees();
      this.#nonce ??= await this.#pendingNonce();
      const nonce = this.#nonce;
      const rawTx = await relayer.signTransaction({
        type: "eip1559",
        chainId: this.#options.chainId,
        to: call.to,
        data: call.data,
        gas: call.gas,
        nonce,
        value: 0n,
        ...fees,
      });
      const txHash = keccak256(rawTx);
      onSigned?.(txHash);
      this.#nonce = nonce + 1;
      try {
        await this.#broadcast(rawTx, txHash);
      } catch (error) {
        this.#nonce = await this.#pendingNonce().catch(() => undefined);
        throw error;
      }
      return txHash;
    });
  }

  /**
   * Takes the next relayer nonce for a transaction signed elsewhere (viem's `nonceManager` of an
   * account that is the relayer, e.g. the clearing operator's `clear` calls), in order with the
   * batches. The caller must broadcast it, or call {@link resync} when it could not.
   */
  reserveNonce(): Promise<number> {
    return this.#serialized(async () => {
      this.#nonce ??= await this.#pendingNonce();
      const nonce = this.#nonce;
      this.#nonce = nonce + 1;
      return nonce;
    });
  }

  /**
   * Replaces the batch's latest transaction with the same one at higher fees (at least the
   * market's), recorded before it is broadcast. Returns the new hash, or undefined when the node
   * refused the replacement (the previous transaction stays in force).
   */
  replace(batch: StoredBatch): Promise<Hex | undefined> {
    return this.#serialized(async () => {
      const { relayer, store } = this.#options;
      const latest = store.getBatch(batch.id) ?? batch;
      const previous = parseTransaction(latest.rawTx);
      if (previous.maxFeePerGas === undefined || previous.maxPriorityFeePerGas === undefined) {
        return undefined;
      }
      const market = await this.#currentFees(true).catch(() => undefined);
      const fees = bumpFees(
        {
          maxFeePerGas: previous.maxFeePerGas,
          maxPriorityFeePerGas: previous.maxPriorityFeePerGas,
        },
        this.#options.feeBumpPercent ?? 25,
        market,
      );
      const rawTx = await relayer.signTransaction({
        type: "eip1559",
        chainId: this.#options.chainId,
        to: previous.to!,
        data: previous.data,
        gas: previous.gas,
        nonce: latest.relayerNonce,
        value: 0n,
        ...fees,
      });
      const txHash = keccak256(rawTx);
      store.recordReplacement(batch.id, { txHash, rawTx });
      try {
        await this.#broadcast(rawTx, txHash);
      } catch (error) {
        this.#options.log(`replacement of batch ${batch.id} refused: ${line(error)}`);
        return undefined;
      }
      this.#options.log(
        `batch ${batch.id}: replaced by ${txHash} (nonce ${latest.relayerNonce}, max fee ${fees.maxFeePerGas})`,
      );
      return txHash;
    });
  }

  /** Broadcasts a recorded transaction again (after a restart, or when the node dropped it). */
  async rebroadcast(rawTx: Hex): Promise<boolean> {
    try {
      await this.#broadcast(rawTx, keccak256(rawTx));
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Uses `nonce` with a zero-value transaction from the relayer to itself, so the batches signed
   * with later nonces can be mined. Only for a nonce no batch will use any more.
   */
  fillGap(nonce: number): Promise<Hex | undefined> {
    return this.#serialized(async () => {
      const { relayer } = this.#options;
      const fees = bumpFees(await this.#currentFees(true), 25);
      const rawTx = await relayer.signTransaction({
        type: "eip1559",
        chainId: this.#options.chainId,
        to: relayer.address,
        gas: 21_000n,
        nonce,
        value: 0n,
        ...fees,
      });
      try {
        await this.#broadcast(rawTx, keccak256(rawTx));
        this.#options.log(`nonce ${nonce} filled by ${keccak256(rawTx)}`);
        return keccak256(rawTx);
      } catch (error) {
        this.#options.log(`nonce ${nonce} not filled: ${line(error)}`);
        return undefined;
      }
    });
  }

  async #broadcast(rawTx: Hex, txHash: Hex): Promise<void> {
    const { client } = this.#options;
    try {
      await client.request({ method: "eth_sendRawTransaction", params: [rawTx] });
    } catch (error) {
      // The node may already have it (a retried request, or a re-broadcast).
      const known = await client.getTransaction({ hash: txHash }).catch(() => undefined);
      if (!known) throw new BroadcastRefusedError(txHash, { cause: error, details: line(error) });
    }
  }

  async #pendingNonce(): Promise<number> {
    return this.#options.client.getTransactionCount({
      address: this.#options.relayer.address,
      blockTag: "pending",
    });
  }

  async #currentFees(fresh = false): Promise<Eip1559Fees> {
    const cached = this.#fees;
    if (!fresh && cached && Date.now() - cached.at < FEES_TTL_MS) return cached.fees;
    const estimate = await this.#options.client.estimateFeesPerGas();
    const fees = {
      maxFeePerGas: estimate.maxFeePerGas,
      maxPriorityFeePerGas: estimate.maxPriorityFeePerGas,
    };
    this.#fees = { at: Date.now(), fees };
    return fees;
  }

  /** Runs `task` after every earlier one: nonces are assigned and broadcast in order. */
  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#chain.then(task, task);
    this.#chain = run.catch(() => {});
    return run;
  }
}

function line(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}
