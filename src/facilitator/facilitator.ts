import {
  erc20Abi,
  getAddress,
  isAddressEqual,
  parseTransaction,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
} from "viem";

import { getAuthorizationStates } from "../authorization/getAuthorizationStates.js";
import { decodeSettleReceipt, type SettlementResult } from "../batch/decodeSettleReceipt.js";
import { dropFailures } from "../batch/dropFailures.js";
import {
  FIAT_TOKEN_V2_2_GAS_PROFILE,
  maxItemsUnderGasBound,
  settleGasBound,
  type SettleGasProfile,
} from "../batch/gasProfiles.js";
import { decodePermit2SettleReceipt, verifyRouterPermit2Payments } from "../batch/permit2Items.js";
import { simulateBatch } from "../batch/simulateBatch.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import {
  readPermit2ApprovalStates,
  type Permit2Approval,
  type Permit2ApprovalStates,
} from "../permit2/approval.js";
import { Admission } from "./admission.js";
import { ClearingFacilitator, type ClearingFacilitatorOptions } from "./clearing/facilitator.js";
import { isClearingBody } from "./clearing/payload.js";
import {
  answerFor,
  fingerprint,
  paymentIdentifierOf,
  paymentKey,
  settleFailure,
} from "./answers.js";
import { BlockGrid } from "./blockGrid.js";
import { BroadcastRefusedError, FacilitatorConfigurationError } from "./errors.js";
import { GroupCommit } from "./groupCommit.js";
import { settlementItemOf } from "./items.js";
import type { FacilitatorGauges, FacilitatorMetrics } from "./metrics.js";
import { canonicalUsdc, type X402Network } from "./networks.js";
import { reasonForVersion, reasons } from "./reasons.js";
import { Reconciler } from "./reconcile.js";
import { ReceiptTracker } from "./receipts.js";
import { supportedResponse, type SettleResponse, type SupportedResponse } from "./responses.js";
import { parsePaymentRequest, type PaymentRequest } from "./schemas.js";
import { RelayerSender, type FacilitatorCheckpoint } from "./sender.js";
import {
  checkRoutedPermit2Approval,
  checkRoutedPermit2Terms,
  decidePermit2Approval,
  newPermit2Payment,
  parseRoutedPermit2Request,
  permit2Fingerprint,
  permit2ItemOf,
  permit2PaymentKey,
  settlePermit2GasBound,
  type RoutedPermit2Request,
} from "./routedPermit2.js";
import { findPermit2SettlementProof, findSettlementProof } from "./settlementProof.js";
import {
  exactPermit2Reasons,
  parseExactPermit2Request,
  settleExactPermit2,
  verifyExactPermit2,
} from "./exactPermit2.js";
import type {
  FacilitatorStore,
  NewPayment,
  PaymentOutcome,
  StoredBatch,
  StoredPayment,
} from "./store.js";
import { TokenQueues } from "./tokenQueues.js";
import { verifyPayment, type RoutedTerms, type VerifyResponse } from "./verify.js";

export type { FacilitatorCheckpoint } from "./sender.js";

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
  /**
   * Most payments per batch transaction (default 100, at most 300). A batch is also cut to what
   * the worst-case gas bound lets fit under Base's 2^24 cap (68 EOA payments; see
   * `settleGasBound`), so that no payment can make the others run out of gas.
   */
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
  /**
   * How long a `/settle` call waits for its payment's outcome before it is answered
   * `success: false, errorReason: "settlement_pending"` with the batch transaction's hash, when
   * one was sent (default 60 s). That answer means "accepted, not settled yet": the payment is
   * durably queued and may still settle. A server should not serve the resource on it, nor tell the
   * client the payment failed; it calls `/settle` again with the same body (and the same
   * `payment-identifier`, if any) to get the outcome: no success was given yet, so the retry
   * receives it.
   */
  settleTimeoutMs?: number;
  /**
   * Blocks a batch's receipt must have (its own included) before its outcome is trusted and
   * answered (default 1: the block that mined it). Raise it where reorganizations are a concern.
   */
  confirmations?: number;
  /**
   * Tokens accepted (default: Circle's USDC at its canonical address on the network). A payment in
   * any other asset is refused before anything is sent: a token the operator does not know can
   * burn the relayer's gas.
   */
  assets?: readonly Address[];
  /**
   * Smallest payment accepted, in the token's base units (default 1, i.e. 0.000001 USDC: nothing
   * free is settled). The relayer pays about 47k gas per settled payment whatever its value;
   * raise it to the price floor of the resources served.
   */
  minAmount?: bigint;
  /** Most payments of one payer accepted and not yet settled or failed (default 50; then HTTP 429). */
  maxPendingPerPayer?: number;
  /** Most payments accepted and not yet settled or failed, in all (default 10,000; then HTTP 429). */
  maxPending?: number;
  /** Most blocks one `eth_getLogs` request of reconciliation covers (default 2,000). */
  maxLogBlockRange?: bigint;
  /** How long a broadcast batch may stay unmined before it is replaced with higher fees (default 20 s). */
  replaceAfterMs?: number;
  /** Fee increase of each replacement, in percent (default 25; nodes require at least 10). */
  feeBumpPercent?: number;
  /** The token's gas model, for reporting gas spent on payments that did not settle. */
  gasProfile?: SettleGasProfile;
  /**
   * The `routed` scheme's fee, in the token's base units, that every routed payment must commit to
   * at least (`extra.fee`), on top of what its payee receives (default 0: routed payments are
   * served without a fee). `/supported` advertises it.
   */
  fee?: bigint;
  /**
   * Where routed fees are paid: the `feeRecipient` of every `settle` call and of every routed
   * payment's nonce (default: the relayer).
   */
  feeRecipient?: Address;
  /**
   * Assets without EIP-3009 (each also in `assets`): `/supported` lists them in the routed kind's
   * `extra.permit2Assets`, so servers ask for `routed` payments through Permit2 in them. Routed
   * Permit2 payloads are accepted in any allowed asset.
   */
  permit2Assets?: readonly Address[];
  /** Wall clock in seconds (the official facilitator checks time windows against it). */
  now?: () => number;
  /** Called with one line per notable event (batches sent and mined, reconciliation). */
  log?: (line: string) => void;
  /** Receives counters and timings as the facilitator works (see {@link FacilitatorMetrics}). */
  metrics?: FacilitatorMetrics;
  /**
   * Called synchronously at the points where a crash is hardest to recover from: a batch recorded
   * but not yet broadcast, broadcast but not yet mined, mined but its payments not yet resolved.
   * For fault-injection tests (e.g. kill the process there); leave unset in production.
   */
  onCheckpoint?: (checkpoint: FacilitatorCheckpoint) => void;
  /**
   * Serves the `clearing` scheme beside `exact` (see {@link ClearingFacilitator}); unset, it is not
   * offered. When its operator is the relayer, its transactions share the relayer's sender (one
   * nonce order).
   */
  clearing?: Omit<ClearingFacilitatorOptions, "client" | "network" | "sender" | "log" | "now">;
}

/** An HTTP-ready answer: status code and JSON body. */
export interface FacilitatorAnswer<T> {
  status: number;
  body: T;
}

const MAX_BATCH_SIZE_LIMIT = 300;
/** How long `close()` keeps following batches that are not mined before leaving them to `start()`. */
const CLOSE_WAIT_MS = 30_000;
/** Polls that find a batch dropped (re-broadcasting it each time) before it is abandoned. */
const MAX_DROPS = 3;
/** Longest pause between two attempts to read the chain for a payment. */
const MAX_RETRY_DELAY_MS = 10_000;

function errorLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0]!.slice(0, 300);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const itemOf = settlementItemOf;

/**
 * A batch's items in the order they are sent: direct items first, then routed items by payee, so
 * each payee's routed items form one group (one netted payout). Stable otherwise.
 */
function batchOrder(payments: readonly StoredPayment[]): StoredPayment[] {
  const rank = (payment: StoredPayment) =>
    payment.kind === "direct" ? "0:" : `1:${payment.payee.toLowerCase()}`;
  return payments
    .map((payment, index) => ({ payment, index, rank: rank(payment) }))
    .sort((a, b) => (a.rank < b.rank ? -1 : a.rank > b.rank ? 1 : a.index - b.index))
    .map(({ payment }) => payment);
}

/**
 * An x402 facilitator for the `exact` EVM scheme that settles in SettlementRouter batches. It is a
 * few small parts, each with one job: admission ({@link Admission}: assets, minimum, limits,
 * balance reservations), answers ({@link answerFor}: one success per payment, `payment-identifier`
 * retries), group-commit persistence ({@link GroupCommit}), per-token queues ({@link TokenQueues})
 * on the block grid ({@link BlockGrid}), the relayer's sender ({@link RelayerSender}: nonce, fees,
 * write-ahead record, broadcast, replacement), receipt tracking ({@link ReceiptTracker}: only the
 * batch's own hashes) and one reconciliation path ({@link Reconciler}).
 *
 * - `verify` makes every check of the official `@x402/evm` facilitator plus this facilitator's
 *   policy, and refuses a payment it already holds (queued, submitted or settled).
 * - `settle` verifies everything `verify` does, reserves the payment's value against its payer's
 *   balance, persists it (before answering anything), queues it, and answers its own outcome.
 * - Before a batch is signed, its payers' code and nonces are read again and the batch is simulated:
 *   predicted failures are dropped, so the relayer pays for settlements only. Its gas limit covers
 *   the worst any item may burn, so one payment never sinks the others.
 * - A payment is settled only by the transfer its own authorization made; `start()` reconciles
 *   whatever a crash left open against the chain.
 *
 * @example
 * const facilitator = new BatchFacilitator({ client, relayer, network, router, store });
 * await facilitator.start();
 * const { status, body } = await facilitator.settle(requestBody);
 */
export class BatchFacilitator {
  readonly #options: BatchFacilitatorOptions;
  /** Official Permit2 payments being verified or settled, by `owner:nonce`. */
  readonly #permit2InFlight = new Set<string>();
  /**
   * Official Permit2 payments answered `settlement_pending`, by `owner:nonce`: their transaction,
   * kept until it is answered or the payment's deadline passes.
   */
  readonly #permit2Pending = new Map<string, { hash: Hex; deadline: bigint }>();
  readonly #store: FacilitatorStore;
  readonly #maxBatchSize: number;
  readonly #pollingIntervalMs: number;
  readonly #settleTimeoutMs: number;
  readonly #replaceAfterMs: number;
  readonly #gasProfile: SettleGasProfile;
  readonly #routed: RoutedTerms;
  readonly #permit2Assets: readonly Address[];
  readonly #log: (line: string) => void;
  readonly #admission: Admission;
  readonly #grid: BlockGrid;
  readonly #queues: TokenQueues<StoredPayment>;
  readonly #commit: GroupCommit<NewPayment, { payment: StoredPayment; created: boolean }>;
  readonly #sender: RelayerSender;
  readonly #tracker: ReceiptTracker;
  readonly #reconciler: Reconciler;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** Latest transaction hash of the live batch each submitted payment is in. */
  readonly #pendingTx = new Map<string, Hex>();
  /** Batches broadcast and not yet resolved, by id. */
  readonly #live = new Map<number, StoredBatch>();
  readonly #inFlight = new Set<Promise<void>>();
  #lastKnownBlock = 0n;
  #closed = false;
  #closedAt = 0;
  #batchesSent = 0;
  #batchesMined = 0;
  #wastedGas = 0n;
  #headTimer: NodeJS.Timeout | undefined;
  readonly #clearing: ClearingFacilitator | undefined;

  constructor(options: BatchFacilitatorOptions) {
    this.#options = options;
    this.#store = options.store;
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
    const minAmount = options.minAmount ?? 1n;
    if (minAmount < 1n) {
      throw new FacilitatorConfigurationError("minAmount must be above zero.", {
        details: String(minAmount),
      });
    }
    this.#gasProfile = options.gasProfile ?? FIAT_TOKEN_V2_2_GAS_PROFILE;
    const fee = options.fee ?? 0n;
    if (fee < 0n || fee >= 1n << 128n) {
      throw new FacilitatorConfigurationError("fee is out of range.", {
        details: `${fee}; expected 0 ≤ fee < 2^128`,
      });
    }
    const feeRecipient = getAddress(options.feeRecipient ?? options.relayer.address);
    if (isAddressEqual(feeRecipient, options.router)) {
      throw new FacilitatorConfigurationError("The fee recipient is the router.", {
        details: "the router cannot pay fees to itself; pick another fee recipient",
      });
    }
    this.#routed = { router: getAddress(options.router), fee, feeRecipient };
    this.#permit2Assets = (options.permit2Assets ?? []).map((asset) => getAddress(asset));
    this.#maxBatchSize = Math.min(
      maxBatchSize,
      maxItemsUnderGasBound(TRANSACTION_GAS_CAP, this.#gasProfile),
    );
    const maxWaitMs = Math.max(0, options.maxWaitMs ?? 500);
    this.#pollingIntervalMs = Math.max(10, options.pollingIntervalMs ?? 250);
    this.#settleTimeoutMs = Math.max(1, options.settleTimeoutMs ?? 60_000);
    this.#replaceAfterMs = Math.max(1_000, options.replaceAfterMs ?? 20_000);
    this.#log = options.log ?? (() => {});
    const assets = options.assets ?? [canonicalUsdc(options.network)];
    if (assets.length === 0) {
      throw new FacilitatorConfigurationError("No asset is accepted.", {
        details: "pass at least one token in assets",
      });
    }
    for (const asset of this.#permit2Assets) {
      if (!assets.some((allowed) => isAddressEqual(allowed, asset))) {
        throw new FacilitatorConfigurationError("A Permit2 asset is not an allowed asset.", {
          details: `${asset}; add it to assets`,
        });
      }
    }
    this.#admission = new Admission({
      assets: assets.map((asset) => getAddress(asset)),
      minAmount,
      router: options.router,
      maxPendingPerPayer: options.maxPendingPerPayer ?? 50,
      maxPending: options.maxPending ?? 10_000,
    });
    this.#grid = new BlockGrid({
      blockTimeMs: options.blockTimeMs,
      flushMarginMs: options.flushMarginMs,
      maxWaitMs,
    });
    this.#queues = new TokenQueues({
      maxBatchSize: this.#maxBatchSize,
      delay: () => this.#grid.delay(Date.now()),
      send: (token, payments) => this.#track(this.#dispatch(token, payments)),
    });
    this.#commit = new GroupCommit((payments) => this.#store.insertPayments(payments));
    this.#sender = new RelayerSender({
      client: options.client,
      relayer: options.relayer,
      chainId: options.network.chainId,
      router: options.router,
      store: this.#store,
      feeBumpPercent: options.feeBumpPercent,
      onCheckpoint: options.onCheckpoint,
      log: this.#log,
    });
    this.#tracker = new ReceiptTracker({
      client: options.client,
      relayer: options.relayer.address,
      confirmations: options.confirmations,
    });
    this.#reconciler = new Reconciler({
      client: options.client,
      router: options.router,
      maxLogBlockRange: options.maxLogBlockRange,
      now: () => this.#now(),
    });
    this.#clearing =
      options.clearing &&
      new ClearingFacilitator({
        ...options.clearing,
        client: options.client,
        network: options.network,
        ...(isAddressEqual(options.clearing.operator.address, options.relayer.address)
          ? { sender: this.#sender }
          : {}),
        ...(options.now ? { now: options.now } : {}),
        log: this.#log,
      });
  }

  /** The `clearing` part, when configured. */
  get clearing(): ClearingFacilitator | undefined {
    return this.#clearing;
  }

  get relayer(): Address {
    return this.#options.relayer.address;
  }

  #now(): number {
    return this.#options.now ? this.#options.now() : Math.floor(Date.now() / 1000);
  }

  /**
   * Checks the chain, then reconciles what a previous run left open: batches signed but not seen
   * mined are re-broadcast and followed; every other unfinished payment (queued, or submitted in a
   * batch that is closed: an orphan) is decided from the chain (its own transfer found: settled;
   * nonce used otherwise: failed; still valid: queued again; expired: failed). Returns once the
   * relayer nonce is known; the rest runs in the background (`/settle` callers wait for it).
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
    const store = this.#store;
    const openBatches = store.openBatches();
    for (const batch of openBatches) {
      const mined = await this.#tracker
        .poll(store.batchTransactions(batch.id), batch.relayerNonce)
        .catch(() => undefined);
      if (mined?.state === "dropped" || mined?.state === "pending") {
        if (await this.#sender.rebroadcast(batch.rawTx)) {
          this.#log(`re-broadcast batch ${batch.id} (${batch.txHash})`);
        } else this.#log(`re-broadcast of batch ${batch.id} refused`);
      }
    }
    await this.#sender.resync();
    const open = store.openPayments();
    for (const payment of open) this.#admission.restore(payment);
    const live = new Set<number>();
    for (const batch of openBatches) {
      live.add(batch.id);
      this.#live.set(batch.id, batch);
      for (const payment of store.paymentsOfBatch(batch.id)) {
        if (payment.status === "submitted") this.#pendingTx.set(payment.id, batch.txHash);
      }
      this.#track(this.#follow(batch));
    }
    for (const payment of open) {
      if (payment.status === "queued" || payment.batchId === null || !live.has(payment.batchId)) {
        this.#track(this.#reconcile(payment));
      }
    }
    if (openBatches.length > 0) this.#log(`reconciling ${openBatches.length} open batch(es)`);
    if (this.#options.blockTimeMs) this.#watchHead();
    await this.#clearing?.start();
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
          this.#grid.observe(Date.now());
        }
      } catch {
        // the next poll tries again
      }
      if (!this.#closed) this.#headTimer = setTimeout(poll, this.#pollingIntervalMs);
    };
    void poll();
  }

  /** The `/supported` answer: `exact` (v1 and v2) and `routed` (v2, with its terms). */
  supported(): SupportedResponse {
    const response = supportedResponse(this.#options.network, this.relayer, {
      ...this.#routed,
      permit2Assets: this.#permit2Assets,
    });
    if (this.#clearing) response.kinds.push(this.#clearing.supportedKind());
    return response;
  }

  /** `POST /clearing/pair`: the pair's state (404 when `clearing` is not served). */
  async clearingPair(body: unknown): Promise<FacilitatorAnswer<unknown>> {
    if (!this.#clearing) {
      return {
        status: 404,
        body: { error: reasons.unsupportedScheme, message: "the clearing scheme is not served" },
      };
    }
    return this.#clearing.pair(body);
  }

  /** The `routed` scheme's terms: the router, the fee and the fee recipient. */
  get routedTerms(): RoutedTerms {
    return { ...this.#routed };
  }

  /** A summary for `/health`: payments per status (from the store), batches, the relayer's waste. */
  health() {
    return {
      status: this.#closed ? "closing" : "ok",
      network: this.#options.network.v2,
      relayer: this.relayer,
      router: this.#options.router,
      payments: this.#store.counts(),
      batchesSent: this.#batchesSent,
      batchesMined: this.#batchesMined,
      batchesInFlight: this.#live.size,
      /** Gas the relayer paid for payments that did not settle, so far. */
      wastedGas: Number(this.#wastedGas),
      ...(this.#clearing ? { clearing: this.#clearing.health() } : {}),
    };
  }

  /** The live view an operator's metrics scrape (see {@link FacilitatorGauges}). */
  gauges(): FacilitatorGauges {
    return {
      queued: this.#queues.size,
      submitted: this.#pendingTx.size,
      batchesInFlight: this.#live.size,
      relayerNonce: this.#sender.nonce,
    };
  }

  /**
   * `POST /verify`: 400 for a body that is not a payment request; 429 when a pending-payment limit
   * is reached; else 200 with the verdict. A payment this facilitator already holds (queued,
   * submitted or settled) is invalid with the used-nonce reason.
   */
  async verify(body: unknown): Promise<FacilitatorAnswer<VerifyResponse>> {
    const started = Date.now();
    const answer = isClearingBody(body)
      ? await this.#verifyClearing(body)
      : await this.#verify(body);
    this.#options.metrics?.verifyAnswered(answer.body.isValid, Date.now() - started);
    return answer;
  }

  async #verifyClearing(body: unknown): Promise<FacilitatorAnswer<VerifyResponse>> {
    if (!this.#clearing) {
      return {
        status: 200,
        body: {
          isValid: false,
          invalidReason: reasons.unsupportedScheme,
          invalidMessage: "the clearing scheme is not served",
        },
      };
    }
    return this.#clearing.verify(body);
  }

  async #settleClearing(body: unknown): Promise<FacilitatorAnswer<SettleResponse>> {
    if (!this.#clearing) {
      return {
        status: 200,
        body: {
          success: false,
          errorReason: reasons.unsupportedScheme,
          errorMessage: "the clearing scheme is not served",
          transaction: "",
          network: this.#options.network.v2,
        },
      };
    }
    return this.#clearing.settle(body);
  }

  async #verify(body: unknown): Promise<FacilitatorAnswer<VerifyResponse>> {
    const routedPermit2 = parseRoutedPermit2Request(body);
    if (routedPermit2) {
      const answer = await this.#routedPermit2(routedPermit2, body, false);
      const response = answer.body;
      return {
        status: answer.status,
        body: response.success
          ? { isValid: true, payer: response.payer }
          : {
              isValid: false,
              invalidReason: response.errorReason!,
              ...(response.errorMessage ? { invalidMessage: response.errorMessage } : {}),
              ...(response.payer ? { payer: response.payer } : {}),
            },
      };
    }
    const permit2 = parseExactPermit2Request(body);
    if (permit2) {
      const answer = await this.#exactPermit2(permit2, false);
      const response = answer.body;
      return {
        status: answer.status,
        body: response.success
          ? { isValid: true, ...(response.payer ? { payer: response.payer } : {}) }
          : {
              isValid: false,
              invalidReason: response.errorReason!,
              ...(response.errorMessage ? { invalidMessage: response.errorMessage } : {}),
              ...(response.payer ? { payer: response.payer } : {}),
            },
      };
    }
    const parsed = parsePaymentRequest(body);
    if (!parsed.ok) {
      const { reason, message, payer } = parsed.rejection;
      return {
        status: 400,
        body: { isValid: false, invalidReason: reason, invalidMessage: message, payer },
      };
    }
    const request = parsed.request;
    const payer = request.authorization.from;
    const invalid = (status: number, reason: string, message?: string) => ({
      status,
      body: {
        isValid: false,
        invalidReason: reasonForVersion(request.x402Version, reason),
        ...(message ? { invalidMessage: message } : {}),
        payer,
      },
    });
    const id = paymentKey(this.#options.network.chainId, request);
    const held = this.#store.getPayment(id);
    if (held && held.status !== "failed") {
      return invalid(200, reasons.nonceAlreadyUsed, `the payment is already ${held.status}`);
    }
    const unknownAsset = this.#admission.assetPolicy(request.requirements.asset);
    if (unknownAsset)
      return invalid(unknownAsset.status, unknownAsset.reason, unknownAsset.message);
    const admitted = this.#admitted(id, request);
    try {
      const verdict = await verifyPayment(this.#verifyContext(), request);
      const { response } = verdict;
      if (response.invalidReason) {
        response.invalidReason = reasonForVersion(request.x402Version, response.invalidReason);
        return { status: 200, body: response };
      }
      // The rest of the facilitator's policy after the official checks, so their verdicts stay the
      // official's (the asset allow-list came first: an unknown token is never called).
      const refusal = this.#admission.policy(admitted);
      if (refusal) return invalid(refusal.status, refusal.reason, refusal.message);
      const short = this.#admission.reserve(admitted, verdict.balance ?? 0n, false);
      if (short) return invalid(short.status, short.reason, short.message);
      return { status: 200, body: response };
    } catch (error) {
      return invalid(503, reasons.unexpectedVerifyError, errorLine(error));
    }
  }

  /**
   * `POST /settle`: 400 for a body that is not a payment request; 429 when a pending-payment limit
   * is reached; 503 when closing or the chain cannot be read; otherwise 200 with the payment's own
   * outcome once its batch is mined (or `settlement_pending` after `settleTimeoutMs`). Of all calls
   * for one payment exactly one is answered success (and retries of that call carrying the same
   * `payment-identifier`); the others are refused with the used-nonce reason.
   */
  async settle(body: unknown): Promise<FacilitatorAnswer<SettleResponse>> {
    const started = Date.now();
    const answer = isClearingBody(body)
      ? await this.#settleClearing(body)
      : await this.#settle(body);
    const outcome = answer.body.success
      ? "success"
      : answer.body.errorReason === reasons.settlementPending
        ? "pending"
        : "failure";
    this.#options.metrics?.settleAnswered(outcome, Date.now() - started);
    return answer;
  }

  async #settle(body: unknown): Promise<FacilitatorAnswer<SettleResponse>> {
    const routedPermit2 = parseRoutedPermit2Request(body);
    if (routedPermit2) return this.#routedPermit2(routedPermit2, body, true);
    const permit2 = parseExactPermit2Request(body);
    if (permit2) return this.#exactPermit2(permit2, true);
    const parsed = parsePaymentRequest(body);
    const identifier = paymentIdentifierOf(body);
    if (!parsed.ok || !identifier.ok) {
      const rejection = parsed.ok
        ? {
            reason: reasons.invalidPayload,
            message: (identifier as { message: string }).message,
            payer: parsed.request.authorization.from,
          }
        : parsed.rejection;
      const network = (body as { paymentRequirements?: { network?: unknown } } | null)
        ?.paymentRequirements?.network;
      return {
        status: 400,
        body: {
          success: false,
          errorReason: rejection.reason,
          errorMessage: rejection.message,
          payer: rejection.payer,
          transaction: "",
          network: typeof network === "string" ? network.slice(0, 64) : "",
        },
      };
    }
    const request = parsed.request;
    const answerId = identifier.id;
    if (this.#closed) {
      return {
        status: 503,
        body: settleFailure(request, reasons.closing, "the facilitator is closing"),
      };
    }
    const store = this.#store;
    const id = paymentKey(this.#options.network.chainId, request);
    const print = fingerprint(request);
    const existing = store.getPayment(id);
    if (existing) {
      if (existing.fingerprint !== print) {
        return {
          status: 200,
          body: settleFailure(
            request,
            reasons.nonceAlreadyUsed,
            "the nonce belongs to another payment",
          ),
        };
      }
      return { status: 200, body: await this.#outcomeOf(id, answerId) };
    }
    const unknownAsset = this.#admission.assetPolicy(request.requirements.asset);
    if (unknownAsset) {
      return {
        status: unknownAsset.status,
        body: settleFailure(request, unknownAsset.reason, unknownAsset.message),
      };
    }
    const admitted = this.#admitted(id, request);
    let verdict;
    try {
      verdict = await verifyPayment(this.#verifyContext(), request);
    } catch (error) {
      return {
        status: 503,
        body: settleFailure(request, reasons.unexpectedSettleError, errorLine(error)),
      };
    }
    if (!verdict.response.isValid) {
      // A concurrent identical settle may have been accepted meanwhile (its simulation now fails).
      const raced = store.getPayment(id);
      if (raced && raced.fingerprint === print) {
        return { status: 200, body: await this.#outcomeOf(id, answerId) };
      }
      return {
        status: 200,
        body: settleFailure(
          request,
          verdict.response.invalidReason ?? reasons.unexpectedSettleError,
          verdict.response.invalidMessage,
        ),
      };
    }
    const refusal = this.#admission.policy(admitted);
    if (refusal) {
      return {
        status: refusal.status,
        body: settleFailure(request, refusal.reason, refusal.message),
      };
    }
    if (this.#closed) {
      return {
        status: 503,
        body: settleFailure(request, reasons.closing, "the facilitator is closing"),
      };
    }
    const short = this.#admission.reserve(admitted, verdict.balance ?? 0n);
    if (short) {
      return { status: short.status, body: settleFailure(request, short.reason, short.message) };
    }
    let persisted;
    try {
      persisted = await this.#commit.add({
        id,
        fingerprint: print,
        x402Version: request.x402Version,
        network: request.requirements.network,
        token: request.requirements.asset,
        payer: request.authorization.from,
        payee: admitted.payee,
        value: request.authorization.value,
        validAfter: request.authorization.validAfter,
        validBefore: request.authorization.validBefore,
        nonce: request.authorization.nonce,
        signature: verdict.signature,
        contractSignature: verdict.payerHasCode,
        fromBlock: this.#lastKnownBlock,
        ...(isRouted(request)
          ? {
              kind: "routed" as const,
              fee: request.requirements.extra.fee!,
              feeRecipient: request.requirements.extra.feeRecipient!,
              salt: request.salt!,
            }
          : {}),
      });
    } catch (error) {
      if (!store.getPayment(id)) this.#admission.release(id);
      return {
        status: 503,
        body: settleFailure(request, reasons.unexpectedSettleError, errorLine(error)),
      };
    }
    const { payment, created } = persisted;
    if (created) this.#enqueue(payment);
    else if (payment.fingerprint !== print) {
      return {
        status: 200,
        body: settleFailure(
          request,
          reasons.nonceAlreadyUsed,
          "the nonce belongs to another payment",
        ),
      };
    }
    return { status: 200, body: await this.#outcomeOf(id, answerId) };
  }

  /** Stops accepting payments, sends what is queued, waits for batches in flight, closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closedAt = Date.now();
    if (this.#headTimer) clearTimeout(this.#headTimer);
    // Payments being persisted are written (and answered) before the store closes.
    await this.#commit.drain();
    this.#queues.flushAll();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake();
    await this.#clearing?.close();
    this.#store.close();
  }

  /** A payment as admission sees it: a routed one's payee is `payTo`, its value includes the fee. */
  #admitted(id: string, request: PaymentRequest) {
    return {
      id,
      token: request.requirements.asset,
      payer: request.authorization.from,
      payee: isRouted(request) ? request.requirements.payTo : request.authorization.to,
      value: request.authorization.value,
    };
  }

  /**
   * An official `exact` payment through Permit2: verified (and settled, one transaction through
   * x402's proxy, sent in nonce order with the batches) where the proxy is deployed; refused with
   * `permit2_proxy_not_deployed` where it is not. A payment already being settled is refused. A
   * receipt slower than `settleTimeoutMs` is answered `settlement_pending` with the transaction's
   * hash; the same payment's next `/settle` waits for that transaction again instead of sending.
   */
  async #exactPermit2(
    parsed: NonNullable<ReturnType<typeof parseExactPermit2Request>>,
    settle: boolean,
  ): Promise<FacilitatorAnswer<SettleResponse>> {
    const network = this.#options.network.v2;
    if (!parsed.ok) {
      return {
        status: 400,
        body: {
          success: false,
          errorReason: parsed.reason,
          errorMessage: parsed.message,
          transaction: "",
          network,
        },
      };
    }
    const { terms, payload } = parsed.request;
    const payer = payload.permit2Authorization.from;
    const refuse = (status: number, errorReason: string, errorMessage?: string) => ({
      status,
      body: {
        success: false,
        errorReason,
        ...(errorMessage ? { errorMessage } : {}),
        payer,
        transaction: "" as const,
        network,
      },
    });
    if (parsed.request.network !== network) {
      return refuse(200, reasons.invalidNetwork, `this facilitator serves ${network}`);
    }
    if (this.#closed) return refuse(503, reasons.closing, "the facilitator is closing");
    const unknownAsset = this.#admission.assetPolicy(terms.asset);
    if (unknownAsset) return refuse(unknownAsset.status, unknownAsset.reason, unknownAsset.message);
    if (terms.amount < (this.#options.minAmount ?? 1n)) {
      return refuse(200, reasons.amountBelowMinimum);
    }
    const key = `${payer.toLowerCase()}:${payload.permit2Authorization.nonce}`;
    if (this.#permit2InFlight.has(key)) {
      return refuse(200, exactPermit2Reasons.invalidNonce, "the payment is already being settled");
    }
    const context = {
      client: this.#options.client,
      network: this.#options.network,
      now: this.#options.now ?? (() => Date.now() / 1000),
      sender: this.#options.relayer.address,
    };
    this.#permit2InFlight.add(key);
    try {
      if (!settle) {
        const verdict = await verifyExactPermit2(context, terms, payload);
        return verdict.isValid
          ? { status: 200, body: { success: true, payer, transaction: "", network } }
          : refuse(200, verdict.invalidReason!, verdict.invalidMessage);
      }
      const now = BigInt(Math.floor(context.now()));
      for (const [pendingKey, pending] of this.#permit2Pending) {
        if (pending.deadline < now) this.#permit2Pending.delete(pendingKey);
      }
      const sent = this.#permit2Pending.get(key)?.hash;
      const body = await settleExactPermit2(
        {
          ...context,
          send: (call) => this.#sender.sendCall(call),
          timeoutMs: this.#settleTimeoutMs,
          ...(sent ? { sent } : {}),
        },
        terms,
        payload,
      );
      if (body.errorReason === exactPermit2Reasons.settlementPending) {
        this.#permit2Pending.set(key, {
          hash: body.transaction as Hex,
          deadline: payload.permit2Authorization.deadline,
        });
      } else this.#permit2Pending.delete(key);
      return { status: 200, body };
    } catch (error) {
      return refuse(
        503,
        settle ? reasons.unexpectedSettleError : reasons.unexpectedVerifyError,
        errorLine(error),
      );
    } finally {
      this.#permit2InFlight.delete(key);
    }
  }

  /**
   * A `routed` payment through Permit2 (docs/SCHEMES.md): its terms checked offline
   * ({@link checkRoutedPermit2Terms}), the asset allow-list and admission policy, then the
   * toolkit's router Permit2 check (signature offline; nonce, balance and allowance to Permit2 in
   * one Multicall3 read): nothing is sent for a payment that fails any of it. `settle` then
   * reserves, persists (kind `permit2`), queues and answers its outcome as for EIP-3009 payments;
   * its batches are `settlePermit2` calls of their own.
   */
  async #routedPermit2(
    parsed: NonNullable<ReturnType<typeof parseRoutedPermit2Request>>,
    body: unknown,
    settle: boolean,
  ): Promise<FacilitatorAnswer<SettleResponse>> {
    const network = this.#options.network.v2;
    if (!parsed.ok) {
      return {
        status: 400,
        body: {
          success: false,
          errorReason: parsed.reason,
          errorMessage: parsed.message,
          transaction: "",
          network,
        },
      };
    }
    const request: RoutedPermit2Request = parsed.request;
    const payment = request.payment;
    const payer = payment.owner;
    const refuse = (status: number, errorReason: string, errorMessage?: string) => ({
      status,
      body: {
        success: false,
        errorReason,
        ...(errorMessage ? { errorMessage } : {}),
        payer,
        transaction: "" as const,
        network: request.network.slice(0, 64),
      },
    });
    if (request.network !== network) {
      return refuse(200, reasons.invalidNetwork, `this facilitator serves ${network}`);
    }
    if (this.#closed) return refuse(503, reasons.closing, "the facilitator is closing");
    const identifier = settle ? paymentIdentifierOf(body) : { ok: true as const, id: undefined };
    if (!identifier.ok) return refuse(400, reasons.invalidPayload, identifier.message);
    const id = permit2PaymentKey(this.#options.network.chainId, payment);
    const print = permit2Fingerprint(request);
    const existing = this.#store.getPayment(id);
    if (existing) {
      if (existing.fingerprint !== print) {
        return refuse(200, reasons.nonceAlreadyUsed, "the nonce belongs to another payment");
      }
      if (settle) return { status: 200, body: await this.#outcomeOf(id, identifier.id) };
      if (existing.status !== "failed") {
        return refuse(200, reasons.nonceAlreadyUsed, `the payment is already ${existing.status}`);
      }
    }
    if (payment.deadline <= BigInt(this.#now()) + 6n) {
      return refuse(200, "permit2_deadline_expired", "the deadline leaves no time to settle");
    }
    const unknownAsset = this.#admission.assetPolicy(request.asset);
    if (unknownAsset) return refuse(unknownAsset.status, unknownAsset.reason, unknownAsset.message);
    const terms = checkRoutedPermit2Terms(request, this.#routed);
    if (terms) return refuse(200, terms.reason, terms.message);
    const approvalRefusal = checkRoutedPermit2Approval(request, BigInt(this.#now()));
    if (approvalRefusal) return refuse(200, approvalRefusal.reason, approvalRefusal.message);
    const admitted = {
      id,
      token: request.asset,
      payer,
      payee: request.payTo,
      value: payment.amount,
    };
    const policy = this.#admission.policy(admitted);
    if (policy) return refuse(policy.status, policy.reason, policy.message);
    let verdict;
    let balance: bigint;
    let approvalStates: Permit2ApprovalStates | undefined;
    try {
      [[verdict], balance, approvalStates] = await Promise.all([
        verifyRouterPermit2Payments(this.#options.client, {
          chainId: this.#options.network.chainId,
          router: this.#routed.router,
          payments: [payment],
          now: BigInt(this.#now()),
        }),
        this.#options.client.readContract({
          address: request.asset,
          abi: erc20Abi,
          functionName: "balanceOf",
          args: [payer],
        }),
        request.approval
          ? readPermit2ApprovalStates(this.#options.client, {
              token: request.asset,
              owners: [payer],
            })
          : undefined,
      ]);
    } catch (error) {
      return refuse(
        503,
        settle ? reasons.unexpectedSettleError : reasons.unexpectedVerifyError,
        errorLine(error),
      );
    }
    // The payment was checked without its permit: a permit the token will take excuses a short
    // allowance to Permit2, and is carried into the router item.
    let permit: Permit2Approval | undefined;
    if (request.approval && approvalStates) {
      const decision = decidePermit2Approval(
        request.approval,
        {
          domainSeparator: approvalStates.domainSeparator,
          nonce: approvalStates.owners[0]?.nonce,
          allowance: approvalStates.owners[0]?.allowance ?? 0n,
        },
        payment.amount,
      );
      if ("refusal" in decision) {
        return refuse(200, decision.refusal.reason, decision.refusal.message);
      }
      if (decision.use) permit = request.approval;
    }
    if (permit && !verdict!.valid && verdict!.reason === "permit2_allowance_required") {
      verdict = { valid: true as const };
    }
    if (!verdict!.valid) {
      const raced = settle ? this.#store.getPayment(id) : undefined;
      if (raced && raced.fingerprint === print) {
        return { status: 200, body: await this.#outcomeOf(id, identifier.id) };
      }
      return refuse(200, verdict!.reason, verdict!.details);
    }
    const short = this.#admission.reserve(admitted, balance, settle);
    if (short) return refuse(short.status, short.reason, short.message);
    if (!settle) return { status: 200, body: { success: true, payer, transaction: "", network } };
    if (this.#closed) {
      this.#admission.release(id);
      return refuse(503, reasons.closing, "the facilitator is closing");
    }
    let persisted;
    try {
      persisted = await this.#commit.add(
        newPermit2Payment(
          request,
          { id, fingerprint: print, fromBlock: this.#lastKnownBlock },
          permit,
        ),
      );
    } catch (error) {
      if (!this.#store.getPayment(id)) this.#admission.release(id);
      return refuse(503, reasons.unexpectedSettleError, errorLine(error));
    }
    if (persisted.created) this.#enqueue(persisted.payment);
    else if (persisted.payment.fingerprint !== print) {
      return refuse(200, reasons.nonceAlreadyUsed, "the nonce belongs to another payment");
    }
    return { status: 200, body: await this.#outcomeOf(id, identifier.id) };
  }

  #verifyContext() {
    return {
      client: this.#options.client,
      network: this.#options.network,
      now: this.#options.now,
      routed: this.#routed,
    };
  }

  #track(promise: Promise<void>): void {
    const tracked = promise
      .catch((error: unknown) => this.#log(`background task failed: ${errorLine(error)}`))
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  /** Waits until the payment is resolved (or `settleTimeoutMs`), then answers this caller. */
  async #outcomeOf(id: string, answerId: string | undefined): Promise<SettleResponse> {
    const store = this.#store;
    const current = store.getPayment(id);
    if (current && current.status !== "settled" && current.status !== "failed" && !this.#closed) {
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
    }
    const latest = store.getPayment(id) ?? current;
    if (!latest) throw new Error(`payment ${id} is not stored`);
    return answerFor(store, latest, answerId, this.#pendingTx.get(id));
  }

  #enqueue(payment: StoredPayment): void {
    if (this.#closed) return;
    this.#queues.push(payment.token, payment);
  }

  /** Records a payment's outcome, releases its reservation and answers everyone waiting for it. */
  #resolve(payment: StoredPayment, outcome: PaymentOutcome): void {
    this.#store.resolvePayment(payment.id, outcome);
    this.#finished([payment]);
  }

  #finished(payments: readonly StoredPayment[]): void {
    for (const payment of payments) {
      this.#admission.release(payment.id);
      this.#pendingTx.delete(payment.id);
      const waiters = this.#waiters.get(payment.id);
      if (waiters) {
        this.#waiters.delete(payment.id);
        for (const wake of [...waiters]) wake();
      }
    }
  }

  /**
   * Sends one batch of a token's queued payments: expired ones fail at once; the payers' nonces
   * and code are read again and the batch simulated, so predicted failures are dropped before
   * signing (a payer that gained code since it was verified is evicted); the rest is signed with a
   * worst-case gas bound, recorded and broadcast, then followed until it resolves.
   */
  async #dispatch(token: Address, candidates: StoredPayment[]): Promise<void> {
    const now = BigInt(this.#now());
    let items: StoredPayment[] = [];
    for (const candidate of candidates) {
      const payment = this.#store.getPayment(candidate.id) ?? candidate;
      if (payment.status !== "queued") continue;
      // The token needs block.timestamp < validBefore; one that is (about to be) expired is not sent.
      if (payment.validBefore <= now + 1n) {
        this.#resolve(payment, {
          status: "failed",
          errorReason: reasons.validBeforeExpired,
          errorMessage: "expired before its batch was sent",
        });
      } else items.push(payment);
    }
    // Permit2 payments are settled by their own router call (`settlePermit2`).
    const permit2 = items.filter((payment) => payment.kind === "permit2");
    if (permit2.length > 0 && permit2.length < items.length) {
      items = items.filter((payment) => payment.kind !== "permit2");
      this.#track(this.#dispatch(token, permit2));
    }
    const isPermit2 = items[0]?.kind === "permit2";
    const gasBound = (payments: StoredPayment[]) =>
      isPermit2
        ? settlePermit2GasBound(payments, this.#gasProfile)
        : settleGasBound({ items: payments.map(itemOf), profile: this.#gasProfile });
    // Routed payments committed to another fee recipient (a previous configuration) are settled
    // in their own batches, with the recipient their nonces name.
    const feeRecipient = feeRecipientOf(items, this.#routed.feeRecipient);
    const others = items.filter((payment) => !sameFeeRecipient(payment, feeRecipient));
    if (others.length > 0) {
      items = items.filter((payment) => sameFeeRecipient(payment, feeRecipient));
      this.#track(this.#dispatch(token, others));
    }
    items = batchOrder(items);
    // Contract signatures and routed groups make items costlier: cut the batch to what the bound
    // lets fit.
    while (items.length > 1 && gasBound(items) > TRANSACTION_GAS_CAP) {
      const rest = items.splice(Math.ceil(items.length / 2));
      this.#track(this.#dispatch(token, rest));
    }
    if (items.length === 0) return;
    try {
      items = isPermit2
        ? await this.#preparePermit2(feeRecipient, items)
        : await this.#prepare(token, feeRecipient, items);
    } catch (error) {
      this.#log(`batch of ${items.length} not simulated: ${errorLine(error)}`);
      for (const payment of items) this.#track(this.#reconcile(payment, undefined, true));
      return;
    }
    if (items.length === 0) return;
    let batch: StoredBatch;
    try {
      batch = await this.#sender.send(token, feeRecipient, items, gasBound(items));
    } catch (error) {
      this.#log(`batch of ${items.length} not sent: ${errorLine(error)}`);
      if (error instanceof BroadcastRefusedError) await this.#fillGapsBelow();
      // Nothing was broadcast: the payments are decided from the chain (queued again if valid).
      for (const payment of items) this.#track(this.#reconcile(payment, undefined, true));
      return;
    }
    this.#batchesSent += 1;
    this.#options.metrics?.batchSent(token, items.length);
    this.#live.set(batch.id, batch);
    for (const payment of items) this.#pendingTx.set(payment.id, batch.txHash);
    this.#log(
      `batch ${batch.id}: ${items.length} payment(s) in ${batch.txHash} (nonce ${batch.relayerNonce})`,
    );
    await this.#follow(batch);
  }

  /**
   * The last check before signing: nonces and payer code read again (one batched read), then the
   * batch simulated with its gas bound; returns the payments predicted to settle and resolves or
   * reconciles the others. Throws when the chain cannot be read (nothing is decided then).
   */
  async #prepare(
    token: Address,
    feeRecipient: Address,
    payments: StoredPayment[],
  ): Promise<StoredPayment[]> {
    const { client, router, relayer } = this.#options;
    const states = await getAuthorizationStates(client, {
      token,
      items: payments.map((payment) => ({ from: payment.payer, nonce: payment.nonce })),
    });
    const kept: StoredPayment[] = [];
    payments.forEach((payment, index) => {
      const state = states[index]!;
      if (state.nonceUsed) this.#track(this.#reconcile(payment));
      else if (state.payerHasCode && !payment.contractSignature) {
        this.#resolve(payment, {
          status: "failed",
          errorReason: reasons.invalidSignature,
          errorMessage: "the payer gained code after its signature was verified",
        });
      } else kept.push(payment);
    });
    if (kept.length === 0) return kept;
    const simulation = await simulateBatch(client, {
      router,
      token,
      feeRecipient,
      items: kept.map(itemOf),
      account: relayer.address,
      gas: settleGasBound({ items: kept.map(itemOf), profile: this.#gasProfile }),
    });
    const { items, dropped } = dropFailures({ items: kept, simulation });
    for (const { item, outcome } of dropped) {
      if (outcome.itemStatus === "AuthorizationUsed") this.#track(this.#reconcile(item));
      else {
        this.#resolve(item, {
          status: "failed",
          errorReason:
            outcome.reason === "unknown_revert" ? reasons.simulationFailed : outcome.reason,
          errorMessage: "predicted to fail; not sent",
        });
      }
    }
    if (dropped.length > 0) this.#log(`batch: ${dropped.length} payment(s) dropped before signing`);
    return items;
  }

  /**
   * The last check of a `settlePermit2` batch before signing: the toolkit's router Permit2 check
   * again (nonce, balance, allowance, time window, one Multicall3 read); a used nonce is
   * reconciled (it may have been settled by someone else's router call), any other failure
   * resolved failed with its reason. Throws when the chain cannot be read.
   */
  async #preparePermit2(
    feeRecipient: Address,
    payments: StoredPayment[],
  ): Promise<StoredPayment[]> {
    const { client, router, network } = this.#options;
    const verdicts = await verifyRouterPermit2Payments(client, {
      chainId: network.chainId,
      router,
      payments: payments.map((payment) => permit2ItemOf(payment, router)),
      now: BigInt(this.#now()),
    });
    const kept: StoredPayment[] = [];
    payments.forEach((payment, index) => {
      const verdict = verdicts[index]!;
      if (
        verdict.valid &&
        payment.feeRecipient &&
        isAddressEqual(payment.feeRecipient, feeRecipient)
      ) {
        kept.push(payment);
      } else if (!verdict.valid && verdict.reason === "permit2_invalid_nonce") {
        this.#track(this.#reconcile(payment));
      } else {
        this.#resolve(payment, {
          status: "failed",
          errorReason: verdict.valid ? reasons.unexpectedSettleError : verdict.reason,
          errorMessage: verdict.valid ? "fee recipient mismatch" : `${verdict.details}; not sent`,
        });
      }
    });
    const carried = await this.#applyPermits(kept);
    if (carried.length < payments.length) {
      this.#log(
        `batch: ${payments.length - carried.length} Permit2 payment(s) dropped before signing`,
      );
    }
    return carried;
  }

  /**
   * The EIP-2612 permits of a `settlePermit2` batch, decided against the token read again (one
   * Multicall3 call): per payer, in batch order, the allowance to Permit2 is followed as the router
   * will change it. The first permit the token will take (its nonce current, its deadline ahead)
   * is carried and sets the allowance to its value; every other permit of that payer is dropped
   * from its item (its nonce is, or will then be, used: the same permit riding in two payments is
   * run once). Each item then spends its amount from the allowance; one the allowance no longer
   * covers fails `permit2_allowance_required` before signing, while the others go on.
   */
  async #applyPermits(payments: StoredPayment[]): Promise<StoredPayment[]> {
    if (!payments.some((payment) => payment.permit)) return payments;
    const owners = [
      ...new Set(
        payments.filter((payment) => payment.permit).map((payment) => getAddress(payment.payer)),
      ),
    ];
    const { domainSeparator, owners: states } = await readPermit2ApprovalStates(
      this.#options.client,
      { token: payments[0]!.token, owners },
    );
    // A failed read decides nothing: the batch is retried (the caller reconciles its payments).
    if (states.some((state) => state.allowance === undefined)) {
      throw new Error("reading the payers' allowances to Permit2 failed");
    }
    const now = BigInt(this.#now());
    const ledger = new Map(
      owners.map((owner, i) => [
        owner,
        { nonce: states[i]!.nonce, allowance: states[i]!.allowance!, permitted: false },
      ]),
    );
    const kept: StoredPayment[] = [];
    for (const payment of payments) {
      const entry = ledger.get(getAddress(payment.payer));
      if (!entry) {
        kept.push(payment);
        continue;
      }
      let item = payment;
      const permit = payment.permit;
      if (
        permit &&
        !entry.permitted &&
        domainSeparator !== undefined &&
        entry.nonce === permit.nonce &&
        permit.deadline > now + 6n
      ) {
        entry.permitted = true;
        entry.allowance = permit.value;
      } else if (permit) item = { ...payment, permit: null };
      if (entry.allowance >= payment.value) {
        entry.allowance -= payment.value;
        kept.push(item);
      } else {
        this.#resolve(payment, {
          status: "failed",
          errorReason: "permit2_allowance_required",
          errorMessage: `the allowance to Permit2 left by the payer's permit or earlier payments is below ${payment.value}; not sent`,
        });
      }
    }
    return kept;
  }

  /**
   * Follows a broadcast batch until it resolves: mined (its own hashes only, with the configured
   * confirmations) → its payments resolved from its receipt; its nonce taken by another
   * transaction → abandoned and its payments reconciled; dropped by the node → re-broadcast, and
   * abandoned (nonce re-read, gap filled) when that does not help; not mined for `replaceAfterMs`
   * → replaced with higher fees. Read errors are polled through.
   */
  async #follow(batch: StoredBatch): Promise<void> {
    const store = this.#store;
    let lastSent = Date.now();
    let drops = 0;
    for (;;) {
      if (this.#closed && Date.now() - this.#closedAt > CLOSE_WAIT_MS) {
        this.#live.delete(batch.id);
        return; // left open in the store: the next start() follows it
      }
      let state;
      try {
        state = await this.#tracker.poll(store.batchTransactions(batch.id), batch.relayerNonce);
      } catch (error) {
        this.#log(`batch ${batch.id}: chain not read (${errorLine(error)}); polling on`);
        await sleep(this.#pollingIntervalMs);
        continue;
      }
      if (state.state === "mined") {
        await this.#mined(batch, state.receipt);
        return;
      }
      if (state.state === "nonceTaken") {
        this.#log(`batch ${batch.id}: nonce ${batch.relayerNonce} used by another transaction`);
        await this.#abandon(batch);
        return;
      }
      if (state.state === "dropped") {
        drops += 1;
        const latest = store.getBatch(batch.id) ?? batch;
        if (drops <= MAX_DROPS && (await this.#sender.rebroadcast(latest.rawTx))) {
          this.#log(`batch ${batch.id}: dropped by the node, re-broadcast`);
        } else {
          this.#log(`batch ${batch.id}: dropped by the node; abandoned`);
          await this.#abandon(batch);
          return;
        }
      } else if (Date.now() - lastSent >= this.#replaceAfterMs && !this.#closed) {
        await this.#sender.replace(batch).catch(() => undefined);
        lastSent = Date.now();
        const latest = store.getBatch(batch.id);
        if (latest) {
          for (const payment of store.paymentsOfBatch(batch.id)) {
            if (payment.status === "submitted") this.#pendingTx.set(payment.id, latest.txHash);
          }
        }
      }
      await sleep(this.#pollingIntervalMs);
    }
  }

  /** A batch that will never be mined: closed and requeued in one store transaction, then reconciled. */
  async #abandon(batch: StoredBatch): Promise<void> {
    const payments = this.#store
      .paymentsOfBatch(batch.id)
      .filter((payment) => payment.status === "submitted");
    this.#store.abandonBatch(batch.id);
    this.#live.delete(batch.id);
    for (const payment of payments) this.#pendingTx.delete(payment.id);
    await this.#fillGapsBelow();
    for (const payment of payments) this.#track(this.#reconcile(payment));
  }

  /**
   * Re-reads the relayer's pending nonce; when live batches wait behind a nonce no batch holds
   * (an abandoned or refused one), that nonce is filled so they can be mined.
   */
  async #fillGapsBelow(): Promise<void> {
    await this.#sender.resync().catch(() => undefined);
    const mined = await this.#options.client
      .getTransactionCount({ address: this.relayer, blockTag: "latest" })
      .catch(() => undefined);
    if (mined === undefined) return;
    const held = new Set([...this.#live.values()].map((batch) => batch.relayerNonce));
    const highest = Math.max(-1, ...held);
    let filled = false;
    for (let nonce = mined; nonce < highest; nonce++) {
      if (held.has(nonce)) continue;
      await this.#sender.fillGap(nonce);
      filled = true;
    }
    if (filled) await this.#sender.resync().catch(() => undefined);
  }

  /** Resolves a mined batch's payments from its own receipt (toolkit `decodeSettleReceipt`). */
  async #mined(batch: StoredBatch, receipt: TransactionReceipt): Promise<void> {
    const store = this.#store;
    this.#options.onCheckpoint?.("batchMined");
    this.#live.delete(batch.id);
    if (receipt.blockNumber > this.#lastKnownBlock) this.#lastKnownBlock = receipt.blockNumber;
    this.#batchesMined += 1;
    const all = store.paymentsOfBatch(batch.id);
    const payments = all.filter((payment) => payment.status === "submitted");
    const token = all[0]?.token ?? this.#options.router;
    if (receipt.status !== "success") {
      // Nothing in it happened: its payments are queued again (one store transaction) and decided
      // anew; the next batch's simulation drops whichever made this one fail.
      this.#addWaste(receipt.gasUsed);
      this.#options.metrics?.batchMined(token, all.length, 0, receipt.gasUsed);
      this.#log(
        `batch ${batch.id} reverted in block ${receipt.blockNumber} (${receipt.gasUsed} gas)`,
      );
      store.abandonBatch(batch.id);
      for (const payment of payments) this.#pendingTx.delete(payment.id);
      for (const payment of payments) this.#track(this.#reconcile(payment));
      return;
    }
    const permit2Batch = all.some((payment) => payment.kind === "permit2");
    const input = permit2Batch
      ? parseTransaction((store.getBatch(batch.id) ?? batch).rawTx).data
      : undefined;
    let results: SettlementResult[] | undefined;
    try {
      results = permit2Batch
        ? decodePermit2SettleReceipt({
            receipt,
            router: this.#options.router,
            items: [...all]
              .sort((a, b) => (a.batchIndex ?? 0) - (b.batchIndex ?? 0))
              .map((payment) => ({ owner: payment.payer, nonce: BigInt(payment.nonce) })),
          })
        : decodeSettleReceipt({
            receipt,
            router: this.#options.router,
            itemCount: all.length,
          });
    } catch (error) {
      this.#log(`batch ${batch.id}: receipt not decoded (${errorLine(error)}); reconciling`);
    }
    const settled: { payment: StoredPayment; outcome: PaymentOutcome }[] = [];
    const unsettled: { payment: StoredPayment; failure?: { reason?: string; revertData?: Hex } }[] =
      [];
    for (const payment of payments) {
      const result = payment.batchIndex === null ? undefined : results?.[payment.batchIndex];
      const own =
        result?.status === "success" &&
        isAddressEqual(result.from, payment.payer) &&
        result.nonce.toLowerCase() === payment.nonce.toLowerCase() &&
        (payment.kind === "permit2"
          ? input !== undefined &&
            findPermit2SettlementProof({
              receipt,
              input,
              payment,
              router: this.#options.router,
            }) !== undefined
          : findSettlementProof(receipt.logs, payment, this.#options.router) !== undefined);
      if (own)
        settled.push({ payment, outcome: { status: "settled", txHash: receipt.transactionHash } });
      else if (
        result?.status === "failure" &&
        result.itemStatus !== "AuthorizationUsed" &&
        !(payment.kind === "permit2" && result.reason === "permit2_invalid_nonce")
      ) {
        unsettled.push({
          payment,
          failure: { reason: result.reason, revertData: result.revertData },
        });
      } else unsettled.push({ payment });
    }
    store.finishBatch(
      batch.id,
      settled.map(({ payment, outcome }) => ({ id: payment.id, outcome })),
    );
    this.#finished(settled.map(({ payment }) => payment));
    for (const { payment } of unsettled) this.#pendingTx.delete(payment.id);
    this.#options.metrics?.batchMined(token, all.length, settled.length, receipt.gasUsed);
    if (unsettled.length > 0) {
      const expected = expectedGas(
        settled.map(({ payment }) => payment),
        this.#gasProfile,
      );
      this.#addWaste(receipt.gasUsed > expected ? receipt.gasUsed - expected : 0n);
    }
    this.#log(
      `batch ${batch.id} mined in block ${receipt.blockNumber} (${receipt.gasUsed} gas, ${settled.length}/${all.length} settled)`,
    );
    for (const { payment, failure } of unsettled) this.#track(this.#reconcile(payment, failure));
  }

  #addWaste(gas: bigint): void {
    if (gas <= 0n) return;
    this.#wastedGas += gas;
    this.#options.metrics?.wastedGas(gas);
  }

  /**
   * Decides a payment no live batch is settling, through the one reconciliation path: resolved,
   * queued again, or (a failed read) tried again later with a growing pause, never decided on a
   * read error. While closing, an undecided payment is left open in the store for `start()`.
   */
  async #reconcile(
    payment: StoredPayment,
    failure?: { reason?: string; revertData?: Hex },
    pause = false,
  ): Promise<void> {
    if (pause) await sleep(this.#pollingIntervalMs);
    for (let attempt = 0; ; attempt++) {
      const fresh = this.#store.getPayment(payment.id);
      if (!fresh || fresh.status === "settled" || fresh.status === "failed") return;
      const resolution = await this.#reconciler.resolve(fresh, failure);
      if (resolution.action === "resolve") {
        this.#resolve(fresh, resolution.outcome);
        return;
      }
      if (resolution.action === "requeue") {
        if (this.#closed) return;
        if (fresh.status === "submitted") this.#store.requeuePayment(fresh.id);
        this.#pendingTx.delete(fresh.id);
        this.#enqueue(this.#store.getPayment(fresh.id) ?? fresh);
        return;
      }
      this.#log(`payment ${fresh.id}: chain not read (${errorLine(resolution.error)}); retrying`);
      if (this.#closed) return;
      await sleep(
        Math.min(MAX_RETRY_DELAY_MS, this.#pollingIntervalMs * 2 ** Math.min(attempt, 10)),
      );
    }
  }
}

function isRouted(request: PaymentRequest): boolean {
  return request.requirements.scheme === "routed" && request.x402Version === 2;
}

/** The fee recipient of a batch: that of its first routed payment, else the configured one. */
function feeRecipientOf(payments: readonly StoredPayment[], configured: Address): Address {
  const routed = payments.find((payment) => payment.kind !== "direct" && payment.feeRecipient);
  return routed ? getAddress(routed.feeRecipient!) : configured;
}

function sameFeeRecipient(payment: StoredPayment, feeRecipient: Address): boolean {
  return (
    payment.kind === "direct" ||
    (payment.feeRecipient !== null && isAddressEqual(payment.feeRecipient, feeRecipient))
  );
}

/** What the settled payments of a batch cost by the gas model (the rest of its gas was waste). */
function expectedGas(settled: readonly StoredPayment[], profile: SettleGasProfile): bigint {
  if (settled.length === 0) return 0n;
  const direct = settled.filter((payment) => payment.kind === "direct");
  const routed = settled.filter((payment) => payment.kind !== "direct");
  const payees = new Set(direct.map((payment) => payment.payee.toLowerCase())).size;
  const groups = new Set(routed.map((payment) => payment.payee.toLowerCase())).size;
  return (
    profile.base +
    profile.perItem.direct * BigInt(direct.length) +
    profile.perDirectPayee * BigInt(payees) +
    profile.perItem.routed * BigInt(routed.length) +
    (routed.length > 0 ? profile.routedFixed : 0n) +
    profile.perRoutedGroup * BigInt(groups)
  );
}
