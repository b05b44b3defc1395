import { getAbiItem, hexToBigInt, type Address, type Hex, type PublicClient } from "viem";

import { decodeRevertReason } from "../errors/decodeRevertReason.js";
import { isPermit2NonceUsed } from "../permit2/nonces.js";
import { eip3009Abi } from "./abi.js";
import { reasons } from "./reasons.js";
import { findPermit2SettlementProof, findSettlementProof } from "./settlementProof.js";
import type { PaymentOutcome, StoredPayment } from "./store.js";

/** What the chain says about a payment's authorization. */
export type ChainVerdict =
  /** Its own transfer is on chain, in this transaction. */
  | { kind: "settled"; txHash: Hex }
  /** Its nonce is used, but not by a transfer of this payment (front-run, other value or payee). */
  | { kind: "usedElsewhere"; txHash?: Hex }
  /** Its nonce is unused. */
  | { kind: "unused" };

/** What reconciliation decided for a payment no live batch is settling. */
export type Resolution =
  | { action: "resolve"; outcome: PaymentOutcome }
  /** Still valid and unused: queue it for another batch. */
  | { action: "requeue" }
  /** The chain could not be read: no verdict, try again later. */
  | { action: "retry"; error: unknown };

/** What {@link Reconciler} reads with and decides by. */
export interface ReconcilerOptions {
  client: PublicClient;
  /** The SettlementRouter: a routed payment's transfer goes to it (see {@link findSettlementProof}). */
  router?: Address;
  /** Most blocks one `eth_getLogs` request covers (default 2,000). */
  maxLogBlockRange?: bigint;
  /** Times a payment is put in a batch before it is given up (default 5). */
  maxAttempts?: number;
  /** Wall clock in seconds. */
  now: () => number;
}

/**
 * The one reconciliation path: decides a payment that no live batch is settling (its batch was
 * abandoned, mined without it, or a crash left it open) from the chain alone. Its own transfer on
 * chain (see {@link findSettlementProof}) → settled by that transaction; nonce used otherwise →
 * failed with the used-nonce reason; unused and still valid → queued again; expired (or out of
 * attempts) → failed. A read that fails is never taken for an answer: the result is `retry`.
 * Log searches run from the payment's acceptance block to the head in ranges of at most
 * `maxLogBlockRange` blocks.
 *
 * @example
 * const resolution = await reconciler.resolve(payment);
 * if (resolution.action === "resolve") store.resolvePayment(payment.id, resolution.outcome);
 */
export class Reconciler {
  readonly #client: PublicClient;
  readonly #router: Address | undefined;
  readonly #range: bigint;
  readonly #maxAttempts: number;
  readonly #now: () => number;

  constructor(options: ReconcilerOptions) {
    this.#client = options.client;
    this.#router = options.router;
    this.#range =
      options.maxLogBlockRange && options.maxLogBlockRange > 0n ? options.maxLogBlockRange : 2_000n;
    this.#maxAttempts = options.maxAttempts ?? 5;
    this.#now = options.now;
  }

  /**
   * Decides `payment`. `failure` is what its last batch said about it (the router's reason and
   * revert data) when it was mined and failed there: such a payment is not queued again.
   */
  async resolve(
    payment: StoredPayment,
    failure?: { reason?: string; revertData?: Hex },
  ): Promise<Resolution> {
    let verdict: ChainVerdict;
    try {
      verdict = await this.verdict(payment);
    } catch (error) {
      return { action: "retry", error };
    }
    if (verdict.kind === "settled") {
      return { action: "resolve", outcome: { status: "settled", txHash: verdict.txHash } };
    }
    if (verdict.kind === "usedElsewhere") {
      return {
        action: "resolve",
        outcome: {
          status: "failed",
          errorReason: reasons.nonceAlreadyUsed,
          errorMessage:
            "the authorization was used by a transaction that did not make this payment",
        },
      };
    }
    const expired = payment.validBefore <= BigInt(this.#now()) + 2n;
    if (expired) {
      return {
        action: "resolve",
        outcome: { status: "failed", errorReason: reasons.validBeforeExpired },
      };
    }
    if (failure) return { action: "resolve", outcome: this.#failed(failure) };
    if (payment.attempts >= this.#maxAttempts) {
      return {
        action: "resolve",
        outcome: {
          status: "failed",
          errorReason: reasons.transactionFailed,
          errorMessage: `not settled after ${payment.attempts} batches`,
        },
      };
    }
    return { action: "requeue" };
  }

  #failed(failure: { reason?: string; revertData?: Hex }): PaymentOutcome {
    const decoded = failure.revertData ? decodeRevertReason(failure.revertData) : undefined;
    const message = decoded?.errorName
      ? `${decoded.errorName}(${decoded.args.map(String).join(", ")})`.slice(0, 300)
      : undefined;
    const reason =
      failure.reason && failure.reason !== "unknown_revert"
        ? failure.reason
        : reasons.transactionFailed;
    return { status: "failed", errorReason: reason, ...(message ? { errorMessage: message } : {}) };
  }

  /** Reads what the chain says about `payment`; throws when a read fails. */
  async verdict(payment: StoredPayment): Promise<ChainVerdict> {
    if (payment.kind === "permit2") return this.#permit2Verdict(payment);
    const client = this.#client;
    const used = await client.readContract({
      address: payment.token,
      abi: eip3009Abi,
      functionName: "authorizationState",
      args: [payment.payer, payment.nonce],
    });
    if (!used) return { kind: "unused" };
    // The head after the state read: the use it saw is at or before it.
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const event = getAbiItem({ abi: eip3009Abi, name: "AuthorizationUsed" });
    const start = payment.fromBlock > 5n ? payment.fromBlock - 5n : 0n;
    for (let from = start; from <= head; from += this.#range) {
      const to = from + this.#range - 1n < head ? from + this.#range - 1n : head;
      const logs = await client.getLogs({
        address: payment.token,
        event,
        args: { authorizer: payment.payer, nonce: payment.nonce },
        fromBlock: from,
        toBlock: to,
      });
      for (const log of logs) {
        if (!log.transactionHash) continue;
        const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
        const proof = findSettlementProof(receipt.logs, payment, this.#router);
        if (proof) return { kind: "settled", txHash: proof.transactionHash };
        return { kind: "usedElsewhere", txHash: log.transactionHash };
      }
    }
    return { kind: "usedElsewhere" };
  }

  /**
   * A `permit2` payment: Permit2's nonce bitmap says whether `(payer, nonce)` is consumed; when it
   * is, the token's `Transfer(payer, router)` logs since acceptance lead to the router
   * transactions that may have settled it, each checked by {@link findPermit2SettlementProof}.
   */
  async #permit2Verdict(payment: StoredPayment): Promise<ChainVerdict> {
    const client = this.#client;
    const used = await isPermit2NonceUsed(client, {
      owner: payment.payer,
      nonce: hexToBigInt(payment.nonce),
    });
    if (!used) return { kind: "unused" };
    const router = this.#router;
    if (!router) return { kind: "usedElsewhere" };
    const head = await client.getBlockNumber({ cacheTime: 0 });
    const event = getAbiItem({ abi: eip3009Abi, name: "Transfer" });
    const start = payment.fromBlock > 5n ? payment.fromBlock - 5n : 0n;
    const seen = new Set<Hex>();
    for (let from = start; from <= head; from += this.#range) {
      const to = from + this.#range - 1n < head ? from + this.#range - 1n : head;
      const logs = await client.getLogs({
        address: payment.token,
        event,
        args: { from: payment.payer, to: router },
        fromBlock: from,
        toBlock: to,
      });
      for (const log of logs) {
        const hash = log.transactionHash;
        if (!hash || seen.has(hash)) continue;
        seen.add(hash);
        const [receipt, transaction] = await Promise.all([
          client.getTransactionReceipt({ hash }),
          client.getTransaction({ hash }),
        ]);
        const proof = findPermit2SettlementProof({
          receipt,
          input: transaction.input,
          payment,
          router,
        });
        if (proof) return { kind: "settled", txHash: proof.transactionHash };
      }
    }
    return { kind: "usedElsewhere" };
  }
}
