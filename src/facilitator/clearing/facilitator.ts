import {
  createWalletClient,
  custom,
  encodeFunctionData,
  isAddressEqual,
  zeroAddress,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";

import { clearingHouseAbi } from "../../abi/clearingHouse.js";
import { readTokenDomain } from "../../authorization/readTokenDomain.js";
import type { TokenDomain } from "../../authorization/types.js";
import { clearPending } from "../../clearing/clearPending.js";
import { computeVoucherFee, type FeeTerms } from "../../clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../clearing/getClearingHouseDomain.js";
import { getDomainSeparator } from "../../clearing/getDomainSeparator.js";
import { OperatorLedger } from "../../clearing/OperatorLedger.js";
import type { SignedVoucher } from "../../clearing/types.js";
import { verifyVoucher } from "../../clearing/verifyVoucher.js";
import { watchLedger } from "../../clearing/watchLedger.js";
import { FacilitatorConfigurationError } from "../errors.js";
import { canonicalUsdc, type X402Network } from "../networks.js";
import { reasons } from "../reasons.js";
import { RelayerSender } from "../sender.js";
import type { FacilitatorStore } from "../store.js";
import {
  checkDepositOffline,
  checkDepositOnChain,
  checkPermit2DepositOffline,
  checkPermit2DepositOnChain,
  DepositBatcher,
  type DepositSender,
} from "./deposits.js";
import {
  CLEARING_SCHEME,
  depositAmount,
  depositKey,
  depositPayer,
  parseClearingRequest,
  type ClearingRequest,
} from "./payload.js";
import { ClearingScheduler } from "./scheduler.js";
import type { ClearingStore } from "./store.js";
import { checksumAddress } from "../../crypto/checksumAddress.js";

/** What sends the operator's transactions: a `RelayerSender` (the relayer's, when the operator is the relayer). */
export interface ClearingSender extends DepositSender {
  reserveNonce(): Promise<number>;
  resync(): Promise<void>;
}

/** Configuration of a {@link ClearingFacilitator}. */
export interface ClearingFacilitatorOptions {
  /** Reads, simulations, receipts, event polling. */
  client: PublicClient;
  network: X402Network;
  /** The ClearingHouse the operator clears on. */
  clearingHouse: Address;
  /** The operator's key: signs clears and deposit batches and pays their gas. */
  operator: LocalAccount;
  /** Where accepted vouchers and deposits are kept. */
  store: ClearingStore;
  /** Tokens cleared (default: Circle's USDC at its canonical address on the network). */
  tokens?: readonly Address[];
  /**
   * Tokens without EIP-3009 (each also in `tokens`, e.g. a USDT-like token): their EIP-712 domain
   * is not read, and `/supported` lists them in the kind's `extra.permit2Assets`, so servers ask
   * for Permit2 deposits in them. Permit2 deposits are accepted in every token cleared.
   */
  permit2Assets?: readonly Address[];
  /** The operator's fee: `cumulativeFee = floor(cumulativeValue × bps / 10,000)` (default 0). */
  feeBasisPoints?: number;
  /**
   * When the operator is not registered on the ClearingHouse, `start()` registers it with this
   * fee recipient (default: the operator) and {@link withdrawalDelaySeconds}.
   */
  feeRecipient?: Address;
  /** The withdrawal delay to register with (seconds, whole minutes, 15 min to 30 days; default 86,400). */
  withdrawalDelaySeconds?: number;
  /** Sends the operator's transactions (default: a `RelayerSender` of `operator`). */
  sender?: ClearingSender;
  /** Clear everything pending this often (default 60,000 ms; 0: never on a timer). */
  clearIntervalMs?: number;
  /** Clear an account once its uncleared total (value plus fee) reaches this (default 1,000,000: 1 USDC; 0n: off). */
  clearThreshold?: bigint;
  /** Clear an account as soon as its payer requests a withdrawal (default true). */
  clearOnWithdrawal?: boolean;
  /** Most deposits per `depositWithAuthorizations` transaction (default 100). */
  maxDepositsPerBatch?: number;
  /** How long the first deposit of a batch waits for others (default 100 ms). */
  depositWaitMs?: number;
  /**
   * How long a `/settle` carrying a deposit waits for it to be mined before it is answered
   * `clearing_deposit_pending` (default 60 s); the same body again waits on (nothing was charged).
   */
  settleTimeoutMs?: number;
  /** How often receipts and ClearingHouse events are polled (default 250 ms). */
  pollingIntervalMs?: number;
  /** Seconds a deposit must stay valid when it is verified (default 30). */
  depositMarginSeconds?: number;
  /** Wall clock in seconds. */
  now?: () => number;
  log?: (line: string) => void;
}

/** The state of one pair, as `extra.pair` and `POST /clearing/pair` give it (docs/SCHEMES.md). */
export interface ClearingPairState {
  payer: Address;
  payee: Address;
  token: Address;
  /** What the operator accepted from the pair so far (the sum of the prices). */
  charged: string;
  /** The highest cumulative value (and its fee) the payer signed for the pair, or cleared. */
  cumulativeValue: string;
  cumulativeFee: string;
  /** The highest voucher the payer signed for the pair, or null. */
  voucher: {
    payer: Address;
    payee: Address;
    token: Address;
    operator: Address;
    cumulativeValue: string;
    cumulativeFee: string;
    signature: Hex;
  } | null;
}

/** `/verify` of a `clearing` payload. */
export interface ClearingVerifyResponse {
  isValid: boolean;
  invalidReason?: string;
  invalidMessage?: string;
  payer?: Address;
  extra?: { pair: ClearingPairState };
}

/** `/settle` of a `clearing` payload (`transaction` is `""`: nothing is sent per request). */
export interface ClearingSettleResponse {
  success: boolean;
  errorReason?: string;
  errorMessage?: string;
  payer?: Address;
  transaction: "";
  network: string;
  extra?:
    | {
        charged: string;
        cumulativeValue: string;
        cumulativeFee: string;
        balance: string;
        uncleared: string;
      }
    | { pair: ClearingPairState };
}

/** The `/supported` kind of the `clearing` scheme. */
export interface ClearingSupportedKind {
  x402Version: 2;
  scheme: "clearing";
  network: string;
  extra: {
    clearingHouse: Address;
    operator: Address;
    feeBasisPoints: number;
    withdrawalDelay: number;
    /** The token domain of the default asset (for the deposit authorization). */
    name?: string;
    version?: string;
    /** Every token cleared with EIP-3009 deposits, with its EIP-712 domain. */
    assets: { asset: Address; name: string; version: string }[];
    /** Tokens whose deposits go through Permit2 (no EIP-3009), when there are any. */
    permit2Assets?: Address[];
  };
}

interface Answer<T> {
  status: number;
  body: T;
}

const DEFAULT_SETTLE_TIMEOUT_MS = 60_000;

/**
 * The facilitator's side of the `clearing` scheme (docs/SCHEMES.md), built from small parts: the
 * toolkit's {@link OperatorLedger} over a durable {@link ClearingStore} (accepts without RPC,
 * group-committed to SQLite before any success), a {@link DepositBatcher} (deposits riding in
 * payloads, checked, then settled on chain in `depositWithAuthorizations` batches, or
 * `depositWithPermit2` ones for Permit2 deposits), a
 * {@link ClearingScheduler} (clears on a timer, past a threshold and on withdrawal requests,
 * through the toolkit's `clearPending`) and `watchLedger` (the chain mirror).
 *
 * - `verify`: the requirements must name this ClearingHouse, operator and fee terms; the voucher
 *   is checked by the ledger (no RPC call); a riding deposit is checked offline and its nonce and
 *   the payer's balance read (for a Permit2 deposit, also the payer's allowance to Permit2). The
 *   ledger is credited with what the ClearingHouse credited: the account is re-read from the
 *   chain once its deposit is mined.
 * - `settle`: a riding deposit is settled first (the call waits for its block), then the voucher
 *   is accepted, written durably and answered `success: true, transaction: ""` with the pair's
 *   totals in `extra`. A voucher is answered success at most once: the same voucher again is
 *   refused (`clearing_voucher_already_accepted`). Refusals carry `clearing_<reason>` and the
 *   pair's state in `extra.pair`.
 * - `start()` rebuilds the ledger from the store and the ClearingHouse, follows deposits left in
 *   flight and clears what is pending: every voucher answered success is cleared exactly once
 *   (vouchers are cumulative, so a clear sent twice moves nothing the second time).
 *
 * @example
 * const clearing = new ClearingFacilitator({ client, network, clearingHouse, operator, store, feeBasisPoints: 50 });
 * await clearing.start();
 * const { body } = await clearing.settle(requestBody);
 */
export class ClearingFacilitator {
  readonly ledger: OperatorLedger;
  readonly #options: ClearingFacilitatorOptions;
  readonly #store: ClearingStore;
  readonly #fee: FeeTerms;
  readonly #tokens: Address[];
  readonly #permit2Assets: Address[];
  readonly #sender: ClearingSender;
  readonly #deposits: DepositBatcher;
  readonly #scheduler: ClearingScheduler;
  readonly #separator: Hex;
  readonly #domains = new Map<string, TokenDomain>();
  readonly #log: (line: string) => void;
  readonly #settleTimeoutMs: number;
  #withdrawalDelay = 0;
  #unwatch: (() => void) | undefined;
  #closed = false;
  #clears = { transactions: 0, cleared: 0, failed: 0 };

  constructor(options: ClearingFacilitatorOptions) {
    this.#options = options;
    this.#store = options.store;
    this.#log = options.log ?? (() => {});
    this.#fee = { basisPoints: options.feeBasisPoints ?? 0 };
    computeVoucherFee(this.#fee, 0n);
    this.#tokens = (options.tokens ?? [canonicalUsdc(options.network)]).map((t) =>
      checksumAddress(t),
    );
    if (this.#tokens.length === 0) {
      throw new FacilitatorConfigurationError("The clearing scheme has no token.", {
        details: "pass at least one token in tokens",
      });
    }
    this.#permit2Assets = (options.permit2Assets ?? []).map((t) => checksumAddress(t));
    for (const asset of this.#permit2Assets) {
      if (!this.#tokens.some((token) => isAddressEqual(token, asset))) {
        throw new FacilitatorConfigurationError("A Permit2 asset is not a cleared token.", {
          details: `${asset}; add it to tokens`,
        });
      }
    }
    this.#settleTimeoutMs = Math.max(1, options.settleTimeoutMs ?? DEFAULT_SETTLE_TIMEOUT_MS);
    this.ledger = new OperatorLedger({
      clearingHouse: options.clearingHouse,
      chainId: options.network.chainId,
      operator: options.operator.address,
      tokens: this.#tokens,
      fee: this.#fee,
      store: options.store,
    });
    this.#separator = getDomainSeparator(
      getClearingHouseDomain({
        chainId: options.network.chainId,
        clearingHouse: options.clearingHouse,
      }),
    );
    this.#sender =
      options.sender ??
      new RelayerSender({
        client: options.client,
        relayer: options.operator,
        chainId: options.network.chainId,
        router: options.clearingHouse,
        // sendCall and reserveNonce, all this part uses, touch neither the router nor the store.
        store: undefined as unknown as FacilitatorStore,
        log: this.#log,
      });
    this.#deposits = new DepositBatcher({
      client: options.client,
      clearingHouse: options.clearingHouse,
      from: options.operator.address,
      sender: this.#sender,
      store: options.store,
      maxBatchSize: options.maxDepositsPerBatch,
      waitMs: options.depositWaitMs,
      pollingIntervalMs: options.pollingIntervalMs,
      now: () => this.#now(),
      log: this.#log,
      onCredited: async (deposit) => {
        await this.ledger.syncAccount(options.client, {
          payer: depositPayer(deposit.deposit),
          token: deposit.token,
        });
      },
    });
    this.#scheduler = new ClearingScheduler({
      ledger: this.ledger,
      intervalMs: options.clearIntervalMs ?? 60_000,
      threshold: options.clearThreshold ?? 1_000_000n,
      onWithdrawal: options.clearOnWithdrawal ?? true,
      log: this.#log,
      clear: (token, accounts) => this.#clear(token, accounts),
    });
  }

  get operator(): Address {
    return this.#options.operator.address;
  }

  get clearingHouse(): Address {
    return this.#options.clearingHouse;
  }

  #now(): number {
    return this.#options.now ? this.#options.now() : Math.floor(Date.now() / 1000);
  }

  /**
   * Reads (or registers) the operator on the ClearingHouse and the tokens' domains, rebuilds the
   * ledger from the store and the chain, follows the deposits a previous run left open, starts
   * watching the ClearingHouse and the scheduler, and clears whatever is pending.
   */
  async start(): Promise<void> {
    const { client, clearingHouse, operator } = this.#options;
    const code = await client.getCode({ address: clearingHouse });
    if (!code || code === "0x") {
      throw new FacilitatorConfigurationError("No ClearingHouse at the configured address.", {
        details: clearingHouse,
      });
    }
    let registration = await client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getOperator",
      args: [operator.address],
    });
    if (registration.feeRecipient === zeroAddress) {
      await this.#register();
      registration = await client.readContract({
        address: clearingHouse,
        abi: clearingHouseAbi,
        functionName: "getOperator",
        args: [operator.address],
      });
    }
    this.#withdrawalDelay = registration.withdrawalDelay;
    for (const token of this.#tokens) {
      if (this.#isPermit2Asset(token)) continue;
      this.#domains.set(token.toLowerCase(), await readTokenDomain(client, { token }));
    }
    await this.ledger.load();
    await this.ledger.sync(client);
    await this.#deposits.recover();
    // Closed while starting: start nothing that close() would have to stop.
    if (this.#closed) return;
    this.#unwatch = watchLedger(client, {
      ledger: this.ledger,
      pollingInterval: this.#options.pollingIntervalMs ?? 250,
      onWithdrawalRequested: (deadlines) => this.#scheduler.withdrawalRequested(deadlines),
      onError: (error) => this.#log(`clearing: watch: ${line(error)}`),
    });
    this.#scheduler.start();
    void this.#scheduler.clearAll();
  }

  async #register(): Promise<void> {
    const { client, clearingHouse, operator } = this.#options;
    const delay = this.#options.withdrawalDelaySeconds ?? 86_400;
    const feeRecipient = this.#options.feeRecipient ?? operator.address;
    const { request } = await client.simulateContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "registerOperator",
      args: [feeRecipient, delay],
      account: operator.address,
    });
    const gas = await client.estimateContractGas(request);
    const hash = await this.#sender.sendCall({
      to: clearingHouse,
      data: encodeFunctionData({
        abi: clearingHouseAbi,
        functionName: "registerOperator",
        args: [feeRecipient, delay],
      }),
      gas: (gas * 12n) / 10n,
    });
    await client.waitForTransactionReceipt({
      hash,
      pollingInterval: this.#options.pollingIntervalMs,
    });
    this.#log(`clearing: registered operator ${operator.address} (withdrawal delay ${delay} s)`);
  }

  /** The `/supported` kind of `clearing`. */
  supportedKind(): ClearingSupportedKind {
    const assets = this.#tokens
      .filter((asset) => !this.#isPermit2Asset(asset))
      .map((asset) => {
        const domain = this.#domains.get(asset.toLowerCase());
        return { asset, name: domain?.name ?? "", version: domain?.version ?? "" };
      });
    return {
      x402Version: 2,
      scheme: CLEARING_SCHEME,
      network: this.#options.network.v2,
      extra: {
        clearingHouse: this.#options.clearingHouse,
        operator: this.operator,
        feeBasisPoints: this.#fee.basisPoints,
        withdrawalDelay: this.#withdrawalDelay,
        ...(assets[0] ? { name: assets[0].name, version: assets[0].version } : {}),
        assets,
        ...(this.#permit2Assets.length > 0 ? { permit2Assets: [...this.#permit2Assets] } : {}),
      },
    };
  }

  /** A summary for `/health`. */
  health() {
    return {
      clearingHouse: this.#options.clearingHouse,
      operator: this.operator,
      vouchers: this.#store.voucherCount(),
      deposits: this.#store.depositCounts(),
      depositsPending: this.#deposits.pending,
      clears: { ...this.#clears, runs: this.#scheduler.runs },
    };
  }

  /** The pair's state (`extra.pair`). */
  pairState(args: { payer: Address; payee: Address; token: Address }): ClearingPairState {
    const pair = this.ledger.getPair(args);
    const best = pair?.best;
    const value = max(best?.cumulativeValue ?? 0n, pair?.clearedValue ?? 0n);
    const fee = max(best?.cumulativeFee ?? 0n, pair?.clearedFee ?? 0n);
    return {
      payer: checksumAddress(args.payer),
      payee: checksumAddress(args.payee),
      token: checksumAddress(args.token),
      charged: (pair?.chargedValue ?? 0n).toString(),
      cumulativeValue: value.toString(),
      cumulativeFee: fee.toString(),
      voucher: best ? voucherJson(best) : null,
    };
  }

  /** `POST /clearing/pair` with `{ payer, payee, token }`: 200 with the pair's state, 400 otherwise. */
  pair(body: unknown): Answer<ClearingPairState | { error: string; message: string }> {
    const b = body as { payer?: unknown; payee?: unknown; token?: unknown } | null;
    const fields = [b?.payer, b?.payee, b?.token ?? this.#tokens[0]];
    if (!fields.every((f) => typeof f === "string" && /^0x[0-9a-fA-F]{40}$/.test(f))) {
      return {
        status: 400,
        body: {
          error: reasons.invalidPayload,
          message: "expected { payer, payee, token } addresses",
        },
      };
    }
    const [payer, payee, token] = fields as Address[];
    return { status: 200, body: this.pairState({ payer: payer!, payee: payee!, token: token! }) };
  }

  /** `POST /verify` of a `clearing` body (see the class). */
  async verify(body: unknown): Promise<Answer<ClearingVerifyResponse>> {
    const parsed = parseClearingRequest(body);
    if (!parsed.ok) {
      return {
        status: 400,
        body: {
          isValid: false,
          invalidReason: parsed.reason,
          invalidMessage: parsed.message,
          ...(parsed.payer ? { payer: parsed.payer } : {}),
        },
      };
    }
    const request = parsed.request;
    const payer = request.voucher.payer;
    const invalid = (reason: string, message?: string, withPair = false) => ({
      status: 200,
      body: {
        isValid: false,
        invalidReason: reason,
        ...(message ? { invalidMessage: message } : {}),
        payer,
        ...(withPair ? { extra: { pair: this.#pairOf(request) } } : {}),
      },
    });
    const mismatch = this.#requirementsMismatch(request);
    if (mismatch) return invalid(mismatch.reason, mismatch.message);
    if (request.deposit) {
      const stored = this.#store.getDeposit(
        depositKey(request.requirements.asset, request.deposit),
      );
      if (!stored || stored.state !== "mined") {
        if (stored?.state === "failed")
          return invalid(stored.errorReason ?? "clearing_deposit_failed");
        const refusal = await this.#checkDeposit(request, !stored).catch((error: unknown) => ({
          reason: reasons.unexpectedVerifyError,
          message: line(error),
        }));
        if (refusal) return invalid(refusal.reason, refusal.message);
        const voucherRefusal = this.#checkVoucherWithDeposit(request);
        if (voucherRefusal) return invalid(voucherRefusal.reason, voucherRefusal.message, true);
        return { status: 200, body: { isValid: true, payer } };
      }
    }
    const result = await this.ledger.accept({
      voucher: request.voucher,
      price: request.requirements.amount,
      payee: request.requirements.payTo,
      dryRun: true,
    });
    if (!result.accepted) return invalid(`clearing_${result.reason}`, undefined, true);
    return { status: 200, body: { isValid: true, payer } };
  }

  /** `POST /settle` of a `clearing` body (see the class). */
  async settle(body: unknown): Promise<Answer<ClearingSettleResponse>> {
    const parsed = parseClearingRequest(body);
    const network = this.#options.network.v2;
    if (!parsed.ok) {
      return {
        status: 400,
        body: {
          success: false,
          errorReason: parsed.reason,
          errorMessage: parsed.message,
          ...(parsed.payer ? { payer: parsed.payer } : {}),
          transaction: "",
          network,
        },
      };
    }
    const request = parsed.request;
    const payer = request.voucher.payer;
    const failure = (status: number, reason: string, message?: string, withPair = false) => ({
      status,
      body: {
        success: false,
        errorReason: reason,
        ...(message ? { errorMessage: message } : {}),
        payer,
        transaction: "" as const,
        network,
        ...(withPair ? { extra: { pair: this.#pairOf(request) } } : {}),
      },
    });
    if (this.#closed) return failure(503, reasons.closing, "the facilitator is closing");
    const mismatch = this.#requirementsMismatch(request);
    if (mismatch) return failure(200, mismatch.reason, mismatch.message);
    if (request.deposit) {
      const token = request.requirements.asset;
      const id = depositKey(token, request.deposit);
      let stored = this.#store.getDeposit(id);
      if (!stored) {
        let refusal;
        try {
          refusal = await this.#checkDeposit(request, true);
        } catch (error) {
          return failure(503, reasons.unexpectedSettleError, line(error));
        }
        if (refusal) return failure(200, refusal.reason, refusal.message);
        const voucherRefusal = this.#checkVoucherWithDeposit(request);
        if (voucherRefusal)
          return failure(200, voucherRefusal.reason, voucherRefusal.message, true);
        stored = await this.#deposits.submit(token, request.deposit, this.#settleTimeoutMs);
      } else if (stored.state !== "mined" && stored.state !== "failed") {
        stored = await this.#deposits.wait(id, this.#settleTimeoutMs);
      }
      if (stored.state === "failed") {
        return failure(200, stored.errorReason ?? "clearing_deposit_failed", "the deposit failed");
      }
      if (stored.state !== "mined") {
        return failure(
          200,
          "clearing_deposit_pending",
          "the deposit is not mined yet; the same request again waits on (nothing was charged)",
        );
      }
    }
    let result = await this.#accept(request);
    if (!result.accepted && "reason" in result && result.reason === "unknown_account") {
      // A deposit made past this facilitator (or before a restart): read the account once.
      try {
        await this.ledger.syncAccount(this.#options.client, {
          payer,
          token: request.voucher.token,
        });
      } catch (error) {
        return failure(503, reasons.unexpectedSettleError, line(error));
      }
      result = await this.#accept(request);
    }
    if ("error" in result) return failure(503, reasons.unexpectedSettleError, result.error);
    if (!result.accepted) return failure(200, `clearing_${result.reason}`, undefined, true);
    try {
      await this.#store.commit();
    } catch (error) {
      return failure(503, reasons.unexpectedSettleError, line(error));
    }
    const account = { payer, token: request.voucher.token };
    this.#scheduler.noteAccepted(account);
    const pair = this.ledger.getPair({ ...account, payee: request.voucher.payee });
    return {
      status: 200,
      body: {
        success: true,
        payer: checksumAddress(payer),
        transaction: "",
        network,
        extra: {
          charged: (pair?.chargedValue ?? result.chargedValue).toString(),
          cumulativeValue: (
            pair?.best?.cumulativeValue ?? request.voucher.cumulativeValue
          ).toString(),
          cumulativeFee: (pair?.best?.cumulativeFee ?? request.voucher.cumulativeFee).toString(),
          balance: (this.ledger.getAccount(account)?.balance ?? 0n).toString(),
          uncleared: this.ledger.uncleared(account).toString(),
        },
      },
    };
  }

  async #accept(request: ClearingRequest) {
    try {
      return await this.ledger.accept({
        voucher: request.voucher,
        price: request.requirements.amount,
        payee: request.requirements.payTo,
      });
    } catch (error) {
      return { accepted: false as const, error: line(error) };
    }
  }

  /** Clears every pending voucher now (what the scheduler does on its timer); resolves when done. */
  clearNow(): Promise<void> {
    return this.#scheduler.clearAll();
  }

  /** Stops the scheduler, the watcher and the deposit batcher, and closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#unwatch?.();
    await this.#scheduler.stop();
    await this.#deposits.close();
    this.#store.close();
  }

  async #clear(token: Address, accounts: readonly { payer: Address }[] | undefined): Promise<void> {
    const { client } = this.#options;
    const sender = this.#sender;
    const operator = this.#options.operator;
    const account: LocalAccount = {
      ...operator,
      nonceManager: {
        consume: () => sender.reserveNonce(),
        increment: () => undefined,
        get: () => sender.reserveNonce(),
        reset: () => void sender.resync().catch(() => undefined),
      },
    };
    const wallet = createWalletClient({
      account,
      chain: client.chain,
      transport: custom({ request: (args) => client.request(args as never) }),
      pollingInterval: this.#options.pollingIntervalMs ?? 250,
    });
    const result = await clearPending(wallet, {
      ledger: this.ledger,
      token,
      publicClient: client,
      ...(accounts ? { accounts } : {}),
    });
    this.#clears.transactions += result.transactions.length;
    this.#clears.cleared += result.cleared;
    this.#clears.failed += result.failed;
    for (const tx of result.transactions) {
      this.#log(
        `clearing: clear ${tx.transactionHash}: ${tx.results.filter((r) => r.status === "success").length}/${tx.vouchers.length} voucher(s) cleared`,
      );
    }
  }

  #pairOf(request: ClearingRequest): ClearingPairState {
    return this.pairState({
      payer: request.voucher.payer,
      payee: request.requirements.payTo,
      token: request.requirements.asset,
    });
  }

  #requirementsMismatch(request: ClearingRequest): { reason: string; message: string } | undefined {
    const r = request.requirements;
    const { network } = this.#options;
    if (r.scheme !== CLEARING_SCHEME || request.payloadScheme !== CLEARING_SCHEME) {
      return { reason: reasons.unsupportedScheme, message: "the scheme must be clearing" };
    }
    if (r.network !== network.v2 || request.payloadNetwork !== network.v2) {
      return { reason: reasons.invalidNetwork, message: `this facilitator serves ${network.v2}` };
    }
    const mismatch = (message: string) => ({ reason: "clearing_requirements_mismatch", message });
    if (!isAddressEqual(r.clearingHouse, this.#options.clearingHouse)) {
      return mismatch(`extra.clearingHouse is not ${this.#options.clearingHouse}`);
    }
    if (!isAddressEqual(r.operator, this.operator)) {
      return mismatch(`extra.operator is not ${this.operator}`);
    }
    if (r.feeBasisPoints !== this.#fee.basisPoints) {
      return mismatch(`extra.feeBasisPoints is not ${this.#fee.basisPoints}`);
    }
    if (r.withdrawalDelay !== undefined && r.withdrawalDelay !== this.#withdrawalDelay) {
      return mismatch(`extra.withdrawalDelay is not ${this.#withdrawalDelay}`);
    }
    if (!this.#tokens.some((token) => isAddressEqual(token, r.asset))) {
      return { reason: "clearing_token_not_supported", message: `${r.asset} is not cleared here` };
    }
    if (!isAddressEqual(request.voucher.token, r.asset)) {
      return { reason: "clearing_asset_mismatch", message: "the voucher's token is not the asset" };
    }
    if (r.amount === 0n) return mismatch("amount must be above zero");
    return undefined;
  }

  #isPermit2Asset(token: Address): boolean {
    return this.#permit2Assets.some((asset) => isAddressEqual(asset, token));
  }

  async #checkDeposit(
    request: ClearingRequest,
    readChain: boolean,
  ): Promise<{ reason: string; message: string } | undefined> {
    const deposit = request.deposit!;
    const token = request.requirements.asset;
    if (deposit.kind === "permit2-deposit") {
      const refusal = checkPermit2DepositOffline({
        deposit,
        payer: request.voucher.payer,
        clearingHouse: this.#options.clearingHouse,
        operator: this.operator,
        token,
        chainId: this.#options.network.chainId,
        now: this.#now(),
        marginSeconds: this.#options.depositMarginSeconds ?? 30,
      });
      if (refusal || !readChain) return refusal;
      return checkPermit2DepositOnChain(this.#options.client, deposit);
    }
    const domain = this.#domains.get(token.toLowerCase());
    if (!domain) {
      return {
        reason: "clearing_deposit_permit2_required",
        message: `${token} has no EIP-3009 here: deposit it through Permit2 (extra.assetTransferMethod "permit2")`,
      };
    }
    const offline = await checkDepositOffline({
      deposit,
      payer: request.voucher.payer,
      clearingHouse: this.#options.clearingHouse,
      operator: this.operator,
      domain,
      now: this.#now(),
      marginSeconds: this.#options.depositMarginSeconds ?? 30,
    });
    if (offline) return offline;
    if (!readChain) return undefined;
    return checkDepositOnChain(this.#options.client, token, deposit);
  }

  /**
   * The voucher riding with a deposit, checked as far as it can be before the deposit is mined:
   * operator, payee, fee terms, the price within its cumulative value, value plus fee within
   * the balance it will have, and its signature by the payer or the deposit's voucher signer.
   */
  #checkVoucherWithDeposit(
    request: ClearingRequest,
  ): { reason: string; message: string } | undefined {
    const { voucher, deposit, requirements } = request;
    if (!isAddressEqual(voucher.operator, this.operator))
      return { reason: "clearing_operator_mismatch", message: "" };
    if (!isAddressEqual(voucher.payee, requirements.payTo))
      return { reason: "clearing_payee_mismatch", message: "" };
    if (voucher.cumulativeFee !== computeVoucherFee(this.#fee, voucher.cumulativeValue)) {
      return { reason: "clearing_fee_mismatch", message: "" };
    }
    const pair = this.ledger.getPair({
      payer: voucher.payer,
      payee: voucher.payee,
      token: voucher.token,
    });
    const signed = max(
      voucher.cumulativeValue,
      max(pair?.best?.cumulativeValue ?? 0n, pair?.clearedValue ?? 0n),
    );
    if ((pair?.chargedValue ?? 0n) + requirements.amount > signed) {
      return { reason: "clearing_cumulative_too_low", message: "" };
    }
    const balance =
      (this.ledger.getAccount({ payer: voucher.payer, token: voucher.token })?.balance ?? 0n) +
      depositAmount(deposit!);
    if (
      voucher.cumulativeValue + voucher.cumulativeFee >
      balance + (pair?.clearedValue ?? 0n) + (pair?.clearedFee ?? 0n)
    ) {
      return {
        reason: "clearing_insufficient_balance",
        message: "the voucher exceeds the deposit",
      };
    }
    let verified;
    try {
      const { signature, contractSignature: _unused, ...fields } = voucher;
      verified = verifyVoucher({
        domainSeparator: this.#separator,
        voucher: fields,
        signature,
        ...(deposit!.voucherSigner !== zeroAddress
          ? { voucherSigner: deposit!.voucherSigner }
          : {}),
      });
    } catch {
      return { reason: "clearing_invalid_signature", message: "" };
    }
    if (!verified.valid) {
      return {
        reason:
          verified.reason === "wrong_signer"
            ? "clearing_signer_not_authorized"
            : "clearing_invalid_signature",
        message: "",
      };
    }
    return undefined;
  }
}

function voucherJson(voucher: SignedVoucher): NonNullable<ClearingPairState["voucher"]> {
  return {
    payer: checksumAddress(voucher.payer),
    payee: checksumAddress(voucher.payee),
    token: checksumAddress(voucher.token),
    operator: checksumAddress(voucher.operator),
    cumulativeValue: voucher.cumulativeValue.toString(),
    cumulativeFee: voucher.cumulativeFee.toString(),
    signature: voucher.signature,
  };
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function line(error: unknown): string {
  const e = error as { shortMessage?: unknown; message?: unknown } | undefined;
  const text = typeof e?.shortMessage === "string" ? e.shortMessage : String(e?.message ?? error);
  return text.split("\n")[0]!.slice(0, 300);
}
