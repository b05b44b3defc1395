import {
  encodeFunctionData,
  hexToBytes,
  isAddressEqual,
  getAbiItem,
  keccak256,
  parseEventLogs,
  toHex,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
} from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { encodeItems } from "../batch/encodeItems.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { decodeRevertReason } from "../errors/decodeRevertReason.js";
import { ItemStatus } from "../errors/itemStatus.js";
import { eip3009Abi } from "./abi.js";
import type { X402Network } from "./networks.js";
import { reasonForVersion, reasons } from "./reasons.js";
import {
  settleResponseOf,
  supportedResponse,
  type SettleResponse,
  type SupportedResponse,
} from "./responses.js";
import { parsePaymentRequest, type PaymentRequest } from "./schemas.js";
import type {
  FacilitatorStore,
  NewPayment,
  PaymentOutcome,
  StoredBatch,
  StoredPayment,
} from "./store.js";
import { verifyPayment, type VerifyResponse } from "./verify.js";
import { FacilitatorConfigurationError, FacilitatorStoreError } from "./errors.js";

/** Configuration of a {@link BatchFacilitator}. */
export interface BatchFacilitatorOptions {
  /** Reads, simulations, receipts. An HTTP transport with `batch: true` merges concurrent reads. */
  client: PublicClient;
  /** The relayer: signs and pays for the batch transactions. */
  relayer: LocalAccount;
  /** The network served (e.g. `resolveX402Network("base")`); must be the client's chain. */
  network: X402Network;
  /** The SettlementRouter the batches go through. */
  router: Address;
  store: FacilitatorStore;
  /** Most payments per batch transaction (default 100; at most 300, under Base's 2^24 gas cap). */
  maxBatchSize?: number;
  /** Longest a payment waits for its batch to fill before the batch is sent (default 500 ms). */
  maxWaitMs?: number;
  /** How often receipts and the chain head are polled (default 250 ms). */
  pollingIntervalMs?: number;
  /**
   * The chain's block interval, when it is regular (Base: 2000 ms). With it, a waiting batch is sent
   * `flushMarginMs` before the next block is due (predicted from when the last head was seen),
   * so its payments land in the same block a one-transaction-per-payment facilitator would reach,
   * in one transaction; `maxWaitMs` still bounds the wait. Without it, batches wait `maxWaitMs`.
   */
  blockTimeMs?: number;
  /** How long before the predicted block a batch is sent (default 200 ms). */
  flushMarginMs?: number;
  /** How long a /settle call waits for its batch before answering `settlement_pending` (default 60 s). */
  settleTimeoutMs?: number;
  /** Wall clock in seconds (the official facilitator checks time windows against it). */
  now?: () => number;
  /** Called with one line per notable event (batches sent and mined, reconciliation). */
  log?: (line: string) => void;
  /**
   * Called synchronously at the points where a crash is hardest to recover from: a batch recorded
   * but not yet broadcast, broadcast but not yet mined, mined but its payments not yet resolved.
   * For fault-injection tests (e.g. kill the process there); leave unset in production.
   */
  onCheckpoint?: (checkpoint: FacilitatorCheckpoint) => void;
}

/** See {@link BatchFacilitatorOptions.onCheckpoint}. */
export type FacilitatorCheckpoint = "batchRecorded" | "batchBroadcast" | "batchMined";

/** An HTTP-ready answer: status code and JSON body. */
export interface FacilitatorAnswer<T> {
  status: number;
  body: T;
}

type Outcome = PaymentOutcome;

const MAX_BATCH_SIZE_LIMIT = 300;
/**
 * Gas limit bounds of a router batch: fixed part plus the router's ITEM_GAS_LIMIT (200k) reserve
 * for the last call, then per item (USDC uses ~48k per EOA item; an ERC-1271 wallet's call may use
 * up to the router's ITEM_GAS_LIMIT).
 */
const GAS_BASE_BOUND = 300_000n;
const GAS_PER_EOA_ITEM_BOUND = 70_000n;
const GAS_PER_CONTRACT_ITEM_BOUND = 230_000n;
/** When the late batch of a block is sent, before the block is due; later payments wait a block. */
const LATE_CUTOFF_MS = 60;
/** How long accepted payments are gathered into one SQLite transaction. */
const PERSIST_GATHER_MS = 3;
/** Share of a later-than-predicted block sighting by which the block grid estimate moves later. */
const GRID_CREEP = 0.1;
/** How long fee estimates are reused. */
const FEES_TTL_MS = 2_000;

function paymentKey(chainId: number, request: PaymentRequest): string {
  const { asset } = request.requirements;
  const { from, nonce } = request.authorization;
  return `${chainId}:${asset}:${from}:${nonce}`.toLowerCase();
}

function fingerprint(request: PaymentRequest): Hex {
  const { requirements: r, authorization: a } = request;
  return keccak256(
    toHex(
      JSON.stringify([
        request.x402Version,
        r.network,
        r.asset.toLowerCase(),
        r.payTo.toLowerCase(),
        r.amount.toString(),
        r.extra.name ?? "",
        r.extra.version ?? "",
        a.from.toLowerCase(),
        a.to.toLowerCase(),
        a.value.toString(),
        a.validAfter.toString(),
        a.validBefore.toString(),
        a.nonce,
        request.signature,
      ]),
    ),
  );
}

function errorLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0].slice(0, 300);
}

/**
 * An x402 facilitator for the `exact` EVM scheme that settles in SettlementRouter batches.
 *
 * - `verify` makes every check of the official `@x402/evm` facilitator, in its order, plus a
 *   batched on-chain state check (balance, nonce unused, payer code, transfer simulation).
 * - `settle` re-verifies, persists the payment (before answering anything), queues it, and sends
 *   a batch when `maxBatchSize` payments wait or the oldest waited `maxWaitMs`. Each payment is
 *   answered with its own outcome: the batch transaction's hash, or its failure reason.
 * - Batch transactions are signed locally and recorded before they are broadcast; `start()`
 *   reconciles whatever a crash left open against the chain. A payment is identified by
 *   (chain, token, payer, nonce): the same payload settled twice gets the same answer, and no
 *   authorization is ever submitted while an earlier submission of it may still land unseen.
 *
 * @example
 * const facilitator = new BatchFacilitator({ client, relayer, network, router, store });
 * await facilitator.start();
 * const { status, body } = await facilitator.settle(requestBody);
 */
export class BatchFacilitator {
  readonly #options: BatchFacilitatorOptions;
  readonly #maxBatchSize: number;
  readonly #maxWaitMs: number;
  readonly #pollingIntervalMs: number;
  readonly #settleTimeoutMs: number;
  readonly #log: (line: string) => void;
  /** Queued payments per token. */
  readonly #queues = new Map<Address, StoredPayment[]>();
  readonly #timers = new Map<Address, NodeJS.Timeout>();
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Transaction hash of the batch each submitted payment is in. */
  readonly #pendingTx = new Map<string, Hex>();
  readonly #inFlight = new Set<Promise<void>>();
  readonly #persistQueue: {
    payment: NewPayment;
    resolve: (result: { payment: StoredPayment; created: boolean }) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #sendChain: Promise<unknown> = Promise.resolve();
  #relayerNonce: number | undefined;
  #lastKnownBlock = 0n;
  #closed = false;
  #batchesSent = 0;
  #batchesMined = 0;
  /** `Date.now()` when the current head block was first seen. */
  #headSeenAt: number | undefined;
  #headTimer: NodeJS.Timeout | undefined;
  #feeCache:
    { at: number; fees: { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint } } | undefined;

  constructor(options: BatchFacilitatorOptions) {
    this.#options = options;
    const maxBatchSize = options.maxBatchSize ?? 100;
    if (
      !Number.isInteger(maxBatchSize) ||
      maxBatchSize < 1 ||
      maxBatchSize > MAX_BATCH_SIZE_LIMIT
    ) {
      throw new FacilitatorConfigurationError("maxBatchSize is out of range.", {
        details: `${maxBatchSize}; expected an integer in 1..${MAX_BATCH_SIZE_LIMIT}`,
      });
    }
    this.#maxBatchSize = maxBatchSize;
    this.#maxWaitMs = Math.max(0, options.maxWaitMs ?? 500);
    this.#pollingIntervalMs = Math.max(10, options.pollingIntervalMs ?? 250);
    this.#settleTimeoutMs = Math.max(1, options.settleTimeoutMs ?? 60_000);
    this.#log = options.log ?? (() => {});
  }

  get relayer(): Address {
    return this.#options.relayer.address;
  }

  #now(): number {
    return this.#options.now ? this.#options.now() : Math.floor(Date.now() / 1000);
  }

  /**
   * Checks the chain, then reconciles what a previous run left open: batches signed but not seen
   * mined are re-broadcast and awaited, then their payments are resolved from the chain (nonce used:
   * the settling transaction is found from the token's logs; still valid: queued again; expired:
   * failed). Queued payments are queued again. Returns once the relayer nonce is known; payments
   * of re-broadcast batches resolve in the background (their /settle callers wait for them).
   */
  async start(): Promise<void> {
    const { client, network } = this.#options;
    const chainId = await client.getChainId();
    if (chainId !== network.chainId) {
      throw new FacilitatorConfigurationError("The RPC serves another chain.", {
        details: `chain ${chainId}; the facilitator is configured for ${network.v2}`,
      });
    }
    this.#lastKnownBlock = await client.getBlockNumber();
    const store = this.#options.store;
    const openBatches = store.openBatches();
    for (const batch of openBatches) {
      const receipt = await this.#receiptOrNull(batch.txHash);
      if (!receipt) {
        try {
          await client.request({ method: "eth_sendRawTransaction", params: [batch.rawTx] });
          this.#log(`re-broadcast batch ${batch.id} (${batch.txHash})`);
        } catch (error) {
          this.#log(`re-broadcast of batch ${batch.id} refused: ${errorLine(error)}`);
        }
      }
    }
    this.#relayerNonce = await client.getTransactionCount({
      address: this.relayer,
      blockTag: "pending",
    });
    for (const batch of openBatches) {
      for (const payment of store.paymentsOfBatch(batch.id)) {
        if (payment.status === "submitted") this.#pendingTx.set(payment.id, batch.txHash);
      }
      this.#track(this.#awaitBatch(batch));
    }
    for (const payment of store.openPayments()) {
      if (payment.status === "queued") this.#track(this.#requeueOrResolve(payment));
    }
    if (openBatches.length > 0) this.#log(`reconciling ${openBatches.length} open batch(es)`);
    if (this.#options.blockTimeMs) this.#watchHead();
  }

  /** Polls the head so batches can be aimed just before the next block. */
  #watchHead(): void {
    let seenHead = -1n;
    const poll = async () => {
      try {
        const head = await this.#options.client.getBlockNumber({ cacheTime: 0 });
        if (head > this.#lastKnownBlock) this.#lastKnownBlock = head;
        if (head > seenHead) {
          seenHead = head;
          this.#observeBlock(Date.now());
        }
      } catch {
        // the next poll tries again
      }
      if (!this.#closed) this.#headTimer = setTimeout(poll, this.#pollingIntervalMs);
    };
    void poll();
  }

  /**
   * Keeps an estimate of when blocks are produced (`#headSeenAt`, a time on the block grid). A
   * new block is seen some polling and event-loop delay after it was made; the earliest sighting
   * relative to the grid is the best estimate, so the grid moves earlier at once and later only
   * slowly (a drifting or restarted block producer).
   */
  #observeBlock(seenAt: number): void {
    const blockTimeMs = this.#options.blockTimeMs;
    const anchor = this.#headSeenAt;
    if (!blockTimeMs || anchor === undefined) {
      this.#headSeenAt = seenAt;
      return;
    }
    const periods = Math.round((seenAt - anchor) / blockTimeMs);
    const expected = anchor + periods * blockTimeMs;
    const offset = seenAt - expected;
    if (offset < 0) this.#headSeenAt = anchor + offset;
    else this.#headSeenAt = anchor + Math.round(offset * GRID_CREEP);
  }

  /** Milliseconds a new batch waits: until just before the next block if known, at most maxWaitMs. */
  #flushDelay(): number {
    const blockTimeMs = this.#options.blockTimeMs;
    if (!blockTimeMs || this.#headSeenAt === undefined) return this.#maxWaitMs;
    const margin = this.#options.flushMarginMs ?? 200;
    const now = Date.now();
    let boundary = this.#headSeenAt + blockTimeMs;
    while (boundary <= now) boundary += blockTimeMs;
    // Past the planned send time but the block is not due yet: the late payments are gathered
    // into one more batch, sent LATE_CUTOFF_MS before the block, instead of waiting a whole block.
    if (boundary - margin <= now) {
      const late = boundary - LATE_CUTOFF_MS - now;
      return Math.min(this.#maxWaitMs, late > 0 ? late : boundary + blockTimeMs - margin - now);
    }
    return Math.min(this.#maxWaitMs, boundary - margin - now);
  }

  /** The `/supported` answer. */
  supported(): SupportedResponse {
    return supportedResponse(this.#options.network, this.relayer);
  }

  /** A summary for `/health`. */
  health() {
    const counts = this.#options.store.counts();
    let queued = 0;
    for (const queue of this.#queues.values()) queued += queue.length;
    return {
      status: this.#closed ? "closing" : "ok",
      network: this.#options.network.v2,
      relayer: this.relayer,
      router: this.#options.router,
      payments: counts,
      queued,
      batchesSent: this.#batchesSent,
      batchesMined: this.#batchesMined,
    };
  }

  /** `POST /verify`: 400 for a body that is not a payment request, else 200 with the verdict. */
  async verify(body: unknown): Promise<FacilitatorAnswer<VerifyResponse>> {
    const parsed = parsePaymentRequest(body);
    if (!parsed.ok) {
      const { reason, message, payer } = parsed.rejection;
      return {
        status: 400,
        body: { isValid: false, invalidReason: reason, invalidMessage: message, payer },
      };
    }
    try {
      const { response } = await verifyPayment(this.#verifyContext(), parsed.request);
      if (response.invalidReason) {
        response.invalidReason = reasonForVersion(
          parsed.request.x402Version,
          response.invalidReason,
        );
      }
      return { status: 200, body: response };
    } catch (error) {
      return {
        status: 503,
        body: {
          isValid: false,
          invalidReason: reasons.unexpectedVerifyError,
          invalidMessage: errorLine(error),
          payer: parsed.request.authorization.from,
        },
      };
    }
  }

  /**
   * `POST /settle`: 400 for a body that is not a payment request; otherwise 200 with the payment's
   * own outcome once its batch is mined (or `settlement_pending` after `settleTimeoutMs`).
   */
  async settle(body: unknown): Promise<FacilitatorAnswer<SettleResponse>> {
    const parsed = parsePaymentRequest(body);
    if (!parsed.ok) {
      const { reason, message, payer } = parsed.rejection;
      const network = (body as { paymentRequirements?: { network?: unknown } } | null)
        ?.paymentRequirements?.network;
      return {
        status: 400,
        body: {
          success: false,
          errorReason: reason,
          errorMessage: message,
          payer,
          transaction: "",
          network: typeof network === "string" ? network.slice(0, 64) : "",
        },
      };
    }
    const request = parsed.request;
    const failure = (errorReason: string, errorMessage?: string): SettleResponse => ({
      success: false,
      errorReason: reasonForVersion(request.x402Version, errorReason),
      ...(errorMessage ? { errorMessage } : {}),
      payer: request.authorization.from,
      transaction: "",
      network: request.requirements.network,
    });
    if (this.#closed)
      return { status: 503, body: failure(reasons.unexpectedSettleError, "closing") };
    const store = this.#options.store;
    const id = paymentKey(this.#options.network.chainId, request);
    const print = fingerprint(request);
    const existing = store.getPayment(id);
    if (existing) {
      if (existing.fingerprint !== print) {
        return {
          status: 200,
          body: failure(reasons.nonceAlreadyUsed, "the nonce belongs to another payment"),
        };
      }
      return { status: 200, body: await this.#outcomeOf(id) };
    }
    let verdict;
    try {
      verdict = await verifyPayment(this.#verifyContext(), request, { simulate: false });
    } catch (error) {
      return { status: 503, body: failure(reasons.unexpectedSettleError, errorLine(error)) };
    }
    if (!verdict.response.isValid) {
      // A concurrent identical settle may have been accepted meanwhile (its simulation now fails).
      const raced = store.getPayment(id);
      if (raced && raced.fingerprint === print) {
        return { status: 200, body: await this.#outcomeOf(id) };
      }
      return {
        status: 200,
        body: failure(
          verdict.response.invalidReason ?? reasons.unexpectedSettleError,
          verdict.response.invalidMessage,
        ),
      };
    }
    const { payment, created } = await this.#persist({
      id,
      fingerprint: print,
      x402Version: request.x402Version,
      network: request.requirements.network,
      token: request.requirements.asset,
      payer: request.authorization.from,
      payee: request.authorization.to,
      value: request.authorization.value,
      validAfter: request.authorization.validAfter,
      validBefore: request.authorization.validBefore,
      nonce: request.authorization.nonce,
      signature: verdict.signature,
      contractSignature: verdict.payerHasCode,
      fromBlock: this.#lastKnownBlock,
    });
    if (created) this.#enqueue(payment);
    else if (payment.fingerprint !== print) {
      return {
        status: 200,
        body: failure(reasons.nonceAlreadyUsed, "the nonce belongs to another payment"),
      };
    }
    return { status: 200, body: await this.#outcomeOf(id) };
  }

  /** Stops accepting payments, sends what is queued, waits for batches in flight, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#headTimer) clearTimeout(this.#headTimer);
    // Payments being persisted are written (and answered) before the store closes.
    while (this.#persistQueue.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, PERSIST_GATHER_MS));
    }
    for (const token of [...this.#queues.keys()]) this.#flush(token);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    this.#options.store.close();
  }

  #verifyContext() {
    return {
      client: this.#options.client,
      network: this.#options.network,
      now: this.#options.now,
    };
  }

  #track(promise: Promise<void>): void {
    const tracked = promise
      .catch((error: unknown) => this.#log(`background task failed: ${errorLine(error)}`))
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Waits until the payment is resolved (or `settleTimeoutMs`), then answers from the store. */
  async #outcomeOf(id: string): Promise<SettleResponse> {
    const store = this.#options.store;
    const current = store.getPayment(id);
    if (!current) throw new FacilitatorStoreError("The payment is not stored.", { details: id });
    if (current.status === "settled" || current.status === "failed") {
      return settleResponseOf(current);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.#settleTimeoutMs);
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      waiters.add(done);
      function done() {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      }
    });
    const latest = store.getPayment(id) ?? current;
    return settleResponseOf(latest, this.#pendingTx.get(id));
  }

  /**
   * Persists an accepted payment before it is acknowledged. Payments accepted within the same
   * moment share one SQLite transaction (group commit): one disk sync per group, not per payment.
   */
  #persist(payment: NewPayment): Promise<{ payment: StoredPayment; created: boolean }> {
    return new Promise((resolve, reject) => {
      this.#persistQueue.push({ payment, resolve, reject });
      if (this.#persistQueue.length === 1) {
        setTimeout(() => {
          const group = this.#persistQueue.splice(0);
          try {
            const results = this.#options.store.insertPayments(group.map((entry) => entry.payment));
            group.forEach((entry, index) => entry.resolve(results[index]!));
          } catch (error) {
            for (const entry of group) entry.reject(error);
          }
        }, PERSIST_GATHER_MS);
      }
    });
  }

  #resolve(payment: StoredPayment, outcome: Outcome): void {
    this.#resolveMany([{ payment, outcome }]);
  }

  /** Records outcomes (one SQLite transaction), then answers everyone waiting for them. */
  #resolveMany(entries: readonly { payment: StoredPayment; outcome: Outcome }[]): void {
    if (entries.length === 0) return;
    this.#options.store.resolvePayments(
      entries.map(({ payment, outcome }) => ({ id: payment.id, outcome })),
    );
    for (const { payment } of entries) this.#wake(payment);
  }

  #wake(payment: StoredPayment): void {
    this.#pendingTx.delete(payment.id);
    const waiters = this.#waiters.get(payment.id);
    if (waiters) {
      this.#waiters.delete(payment.id);
      for (const wake of [...waiters]) wake();
    }
  }

  #enqueue(payment: StoredPayment): void {
    const queue = this.#queues.get(payment.token) ?? [];
    this.#queues.set(payment.token, queue);
    queue.push(payment);
    if (queue.length >= this.#maxBatchSize || this.#closed) {
      this.#flush(payment.token);
    } else if (!this.#timers.has(payment.token)) {
      this.#timers.set(
        payment.token,
        setTimeout(() => this.#flush(payment.token), this.#flushDelay()),
      );
    }
  }

  #flush(token: Address): void {
    const timer = this.#timers.get(token);
    if (timer) clearTimeout(timer);
    this.#timers.delete(token);
    const queue = this.#queues.get(token) ?? [];
    while (queue.length > 0) {
      const items = queue.splice(0, this.#maxBatchSize);
      this.#track(this.#submit(token, items));
    }
    this.#queues.delete(token);
  }

  /** Signs, records (write-ahead) and broadcasts one batch, then resolves its payments. */
  async #submit(token: Address, candidates: StoredPayment[]): Promise<void> {
    const now = BigInt(this.#now());
    const items: StoredPayment[] = [];
    for (const payment of candidates) {
      // The token needs block.timestamp < validBefore; one that is (about to be) expired is not sent.
      if (payment.validBefore <= now + 1n) {
        this.#resolve(payment, {
          status: "failed",
          errorReason: reasons.validBeforeExpired,
          errorMessage: "expired before its batch was sent",
        });
      } else items.push(payment);
    }
    if (items.length === 0) return;
    let batch: StoredBatch | undefined;
    try {
      batch = await this.#serialized(() => this.#signRecordBroadcast(token, items));
    } catch (error) {
      this.#log(`batch of ${items.length} not sent: ${errorLine(error)}`);
      // Nothing was broadcast, or the broadcast was refused: the payments are decided from the chain.
      for (const payment of items) await this.#requeueOrResolve(this.#fresh(payment), error);
      return;
    }
    if (batch) await this.#awaitBatch(batch);
  }

  #fresh(payment: StoredPayment): StoredPayment {
    return this.#options.store.getPayment(payment.id) ?? payment;
  }

  /** Runs `task` after every earlier one: relayer nonces are assigned and broadcast in order. */
  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#sendChain.then(task, task);
    this.#sendChain = run.catch(() => {});
    return run;
  }

  async #signRecordBroadcast(token: Address, items: StoredPayment[]): Promise<StoredBatch> {
    const { client, relayer, router, network, store } = this.#options;
    const data = encodeFunctionData({
      abi: settlementRouterAbi,
      functionName: "settle",
      args: [
        token,
        relayer.address,
        encodeItems(
          items.map((payment) => ({
            kind: "direct" as const,
            from: payment.payer,
            to: payment.payee,
            value: payment.value,
            validAfter: payment.validAfter,
            validBefore: payment.validBefore,
            nonce: payment.nonce,
            signature: payment.signature,
            contractSignature: payment.contractSignature,
          })),
        ),
      ],
    });
    // A gas limit from a per-item bound (the router needs ITEM_GAS_LIMIT left before each token
    // call): no estimate round trip on the path to the block. Only gas used is paid for. When the
    // bound exceeds Base's cap, the node's estimate decides.
    const contractItems = BigInt(items.filter((payment) => payment.contractSignature).length);
    let gas =
      GAS_BASE_BOUND +
      GAS_PER_EOA_ITEM_BOUND * (BigInt(items.length) - contractItems) +
      GAS_PER_CONTRACT_ITEM_BOUND * contractItems;
    const [estimate, fees] = await Promise.all([
      gas > TRANSACTION_GAS_CAP
        ? client.estimateGas({ account: relayer.address, to: router, data })
        : Promise.resolve(undefined),
      this.#fees(),
    ]);
    if (estimate !== undefined) gas = (estimate * 12n) / 10n;
    if (gas > TRANSACTION_GAS_CAP) gas = TRANSACTION_GAS_CAP;
    if (this.#relayerNonce === undefined) {
      this.#relayerNonce = await client.getTransactionCount({
        address: relayer.address,
        blockTag: "pending",
      });
    }
    const nonce = this.#relayerNonce;
    const rawTx = await relayer.signTransaction({
      type: "eip1559",
      chainId: network.chainId,
      to: router,
      data,
      gas,
      nonce,
      value: 0n,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const txHash = keccak256(rawTx);
    // Write-ahead: the batch and its payments are recorded before anything leaves the process.
    const batchId = store.recordBatch(
      { txHash, rawTx, relayerNonce: nonce },
      items.map((payment) => payment.id),
    );
    for (const payment of items) this.#pendingTx.set(payment.id, txHash);
    this.#relayerNonce = nonce + 1;
    this.#options.onCheckpoint?.("batchRecorded");
    try {
      await client.request({ method: "eth_sendRawTransaction", params: [rawTx] });
    } catch (error) {
      // The node may already have it (a retried request); otherwise the nonce was not used.
      const known = await client.getTransaction({ hash: txHash }).catch(() => undefined);
      if (!known) {
        this.#relayerNonce = undefined;
        store.closeBatch(batchId, "abandoned");
        for (const payment of items) this.#pendingTx.delete(payment.id);
        throw error;
      }
    }
    this.#options.onCheckpoint?.("batchBroadcast");
    this.#batchesSent += 1;
    this.#log(`batch ${batchId}: ${items.length} payment(s) in ${txHash} (nonce ${nonce})`);
    const batch = store.getBatch(batchId);
    if (!batch) {
      throw new FacilitatorStoreError("The batch is not stored.", { details: String(batchId) });
    }
    return batch;
  }

  /** EIP-1559 fees, refreshed at most every FEES_TTL_MS. */
  async #fees(): Promise<{ maxFeePerGas: bigint; maxPriorityFeePerGas: bigint }> {
    const cached = this.#feeCache;
    if (cached && Date.now() - cached.at < FEES_TTL_MS) return cached.fees;
    const fees = await this.#options.client.estimateFeesPerGas();
    this.#feeCache = { at: Date.now(), fees };
    return fees;
  }

  async #receiptOrNull(hash: Hex): Promise<TransactionReceipt | null> {
    try {
      return await this.#options.client.getTransactionReceipt({ hash });
    } catch {
      return null;
    }
  }

  /** Waits for a batch's receipt and resolves its payments; reconciles them when it never lands. */
  async #awaitBatch(batch: StoredBatch): Promise<void> {
    const { client, store } = this.#options;
    let receipt: TransactionReceipt | null = null;
    try {
      receipt = await client.waitForTransactionReceipt({
        hash: batch.txHash,
        pollingInterval: this.#pollingIntervalMs,
        timeout: Math.max(this.#settleTimeoutMs, 30_000),
        retryCount: 1_000,
      });
    } catch (error) {
      this.#log(`batch ${batch.id} (${batch.txHash}) not mined: ${errorLine(error)}`);
    }
    const payments = store.paymentsOfBatch(batch.id).filter((p) => p.status === "submitted");
    if (!receipt) {
      // Still unknown: only abandon it once the chain shows the relayer nonce taken by another
      // transaction, or the node no longer knows the transaction.
      const known = await client.getTransaction({ hash: batch.txHash }).catch(() => undefined);
      if (known) {
        this.#track(this.#awaitBatch(batch));
        return;
      }
      store.closeBatch(batch.id, "abandoned");
      for (const payment of payments) await this.#requeueOrResolve(payment);
      return;
    }
    this.#options.onCheckpoint?.("batchMined");
    if (receipt.blockNumber > this.#lastKnownBlock) this.#lastKnownBlock = receipt.blockNumber;
    this.#batchesMined += 1;
    const byIndex = new Map<number, { status: number; reason?: Hex }>();
    if (receipt.status === "success") {
      const events = parseEventLogs({
        abi: settlementRouterAbi,
        logs: receipt.logs.filter((log) => isAddressEqual(log.address, this.#options.router)),
      });
      // BatchSettled carries one status byte per item; PaymentFailed the revert data of a failure.
      for (const event of events) {
        if (event.eventName === "BatchSettled") {
          hexToBytes(event.args.results).forEach((status, index) => {
            byIndex.set(index, { status, reason: byIndex.get(index)?.reason });
          });
        } else if (event.eventName === "PaymentFailed") {
          const index = Number(event.args.index);
          byIndex.set(index, { status: event.args.status, reason: event.args.reason });
        }
      }
    }
    const settled = payments.filter(
      (payment) => byIndex.get(payment.batchIndex ?? -1)?.status === ItemStatus.Settled,
    );
    this.#resolveMany(
      settled.map((payment) => ({
        payment,
        outcome: { status: "settled" as const, txHash: batch.txHash },
      })),
    );
    for (const payment of payments) {
      const result = byIndex.get(payment.batchIndex ?? -1);
      if (result?.status === ItemStatus.Settled) continue;
      await this.#resolveFromChain(payment, result?.reason, receipt.status === "reverted");
    }
    store.closeBatch(batch.id, "mined");
    this.#log(`batch ${batch.id} mined in block ${receipt.blockNumber} (${receipt.gasUsed} gas)`);
  }

  /**
   * Decides a payment its batch did not settle from the chain: nonce used → the transaction that
   * used it (from the token's AuthorizationUsed log) if it moved this payment's funds; nonce unused
   * → failed with the token's reason (after a mined batch) or queued again while still valid.
   */
  async #resolveFromChain(payment: StoredPayment, revertData?: Hex, retry = false): Promise<void> {
    const settledBy = await this.#findSettlement(payment);
    if (settledBy) {
      this.#resolve(payment, { status: "settled", txHash: settledBy });
      return;
    }
    const { client } = this.#options;
    const used = await client.readContract({
      address: payment.token,
      abi: eip3009Abi,
      functionName: "authorizationState",
      args: [payment.payer, payment.nonce],
    });
    if (used) {
      this.#resolve(payment, { status: "failed", errorReason: reasons.nonceAlreadyUsed });
      return;
    }
    if (retry && payment.attempts < 3 && payment.validBefore > BigInt(this.#now()) + 2n) {
      this.#options.store.requeuePayment(payment.id);
      this.#pendingTx.delete(payment.id);
      this.#enqueue(this.#fresh(payment));
      return;
    }
    this.#resolve(payment, await this.#diagnose(payment, revertData));
  }

  async #diagnose(payment: StoredPayment, revertData?: Hex): Promise<Outcome> {
    const decoded = revertData ? decodeRevertReason(revertData) : undefined;
    const message = decoded?.errorName
      ? `${decoded.errorName}(${decoded.args.map(String).join(", ")})`.slice(0, 300)
      : undefined;
    const failed = (errorReason: string): Outcome => ({
      status: "failed",
      errorReason,
      ...(message ? { errorMessage: message } : {}),
    });
    // The token said why (decoded from the PaymentFailed event's revert data).
    if (decoded && decoded.reason !== "unknown_revert") return failed(decoded.reason);
    if (payment.validBefore <= BigInt(this.#now()) + 1n) return failed(reasons.validBeforeExpired);
    try {
      const balance = await this.#options.client.readContract({
        address: payment.token,
        abi: eip3009Abi,
        functionName: "balanceOf",
        args: [payment.payer],
      });
      if (balance < payment.value) return failed(reasons.insufficientBalance);
    } catch {
      // fall through to the generic reason
    }
    return failed(reasons.transactionFailed);
  }

  /** The hash of the transaction that consumed the payment's nonce and moved its funds, if any. */
  async #findSettlement(payment: StoredPayment): Promise<Hex | undefined> {
    const { client } = this.#options;
    const logs = await client.getLogs({
      address: payment.token,
      event: getAbiItem({ abi: eip3009Abi, name: "AuthorizationUsed" }),
      args: { authorizer: payment.payer, nonce: payment.nonce },
      fromBlock: payment.fromBlock > 5n ? payment.fromBlock - 5n : 0n,
      toBlock: "latest",
    });
    for (const log of logs) {
      if (!log.transactionHash) continue;
      const receipt = await client.getTransactionReceipt({ hash: log.transactionHash });
      const transfers = parseEventLogs({
        abi: eip3009Abi,
        eventName: "Transfer",
        logs: receipt.logs.filter((entry) => isAddressEqual(entry.address, payment.token)),
      });
      const moved = transfers.some(
        (transfer) =>
          isAddressEqual(transfer.args.from, payment.payer) &&
          isAddressEqual(transfer.args.to, payment.payee) &&
          transfer.args.value === payment.value,
      );
      if (moved) return log.transactionHash;
    }
    return undefined;
  }

  /** A payment not (or no longer) in a live batch: settled elsewhere, expired, or queued again. */
  async #requeueOrResolve(payment: StoredPayment, cause?: unknown): Promise<void> {
    const settledBy = await this.#findSettlement(payment).catch(() => undefined);
    if (settledBy) {
      this.#resolve(payment, { status: "settled", txHash: settledBy });
      return;
    }
    const used = await this.#options.client
      .readContract({
        address: payment.token,
        abi: eip3009Abi,
        functionName: "authorizationState",
        args: [payment.payer, payment.nonce],
      })
      .catch(() => undefined);
    if (used === true) {
      this.#resolve(payment, { status: "failed", errorReason: reasons.nonceAlreadyUsed });
      return;
    }
    if (payment.validBefore <= BigInt(this.#now()) + 2n || payment.attempts >= 5) {
      this.#resolve(payment, {
        status: "failed",
        errorReason:
          payment.validBefore <= BigInt(this.#now()) + 2n
            ? reasons.validBeforeExpired
            : reasons.unexpectedSettleError,
        ...(cause ? { errorMessage: errorLine(cause) } : {}),
      });
      return;
    }
    if (this.#closed) return;
    if (payment.status === "submitted") this.#options.store.requeuePayment(payment.id);
    this.#pendingTx.delete(payment.id);
    this.#enqueue(this.#fresh(payment));
  }
}
