import type {
  PaymentPayloadContext,
  PaymentPayloadResult,
  PaymentRequirements,
  SchemeClientHooks,
  SchemeNetworkClient,
} from "@x402/core/types";
import type { PaymentResponseContext } from "@x402/core/client";
import { type Address, type Client, type Hex, isAddress, isAddressEqual, zeroAddress } from "viem";

import { getTokenDomain } from "../../authorization/getTokenDomain.js";
import { USDC_DECIMALS } from "../../chain/base.js";

import { buildDepositAuthorization } from "../../clearing/buildDepositAuthorization.js";
import { buildPermit2Deposit } from "../../clearing/buildPermit2Deposit.js";
import { computeVoucherFee } from "../../clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../clearing/getClearingHouseDomain.js";
import { getDomainSeparator } from "../../clearing/getDomainSeparator.js";
import { signDepositAuthorization } from "../../clearing/signDepositAuthorization.js";
import { signPermit2Deposit } from "../../clearing/signPermit2Deposit.js";
import type {
  ClearingHouseDomain,
  SignedDepositAuthorization,
  SignedPermit2Deposit,
  SignedVoucher,
} from "../../clearing/types.js";
import { permit2Allowance } from "../../permit2/approve.js";
import { verifyVoucher } from "../../clearing/verifyVoucher.js";
import { ClearingClientError } from "./errors.js";
import {
  CLEARING_SCHEME,
  type ClearingPairState,
  decodeClearingPayload,
  decodePairState,
  encodeClearingPayload,
} from "./payload.js";
import {
  CLEARING_NETWORKS,
  type ClearingTerms,
  parseClearingRequirements,
} from "./requirements.js";
import {
  type ClearingSignerInput,
  type VoucherSigner,
  createVoucherSigner,
} from "./voucherSigner.js";
import {
  type ClearingAccountRecord,
  MemoryVoucherStore,
  type VoucherStore,
} from "./voucherStore.js";

/**
 * How much the client deposits when an account has too little for the next payment: `amount`
 * base units, or `payments` times the price (plus the operator's fee on it); never less than the
 * payment needs, never more than `max`.
 */
export type ClearingDepositPolicy = { amount?: bigint; payments?: number; max?: bigint };

/** The terms the client accepts; a requirement outside them is refused (`untrusted_terms`). */
export type ClearingTrustPolicy = {
  /** ClearingHouses the client pays through. Default: any. */
  clearingHouses?: readonly Address[];
  /** Operators the client pays through. Default: any. */
  operators?: readonly Address[];
  /** Default 100 (1%). */
  maxFeeBasisPoints?: number;
  /** The longest withdrawal delay the client accepts, seconds. Default 7 days. */
  maxWithdrawalDelay?: number;
  /** The highest price of one request, base units. Default: no cap beyond the x402 client's. */
  maxPrice?: bigint;
};

export type ClearingClientSchemeOptions = {
  /** The payer: a private key (vouchers signed natively, fastest) or a viem local account. */
  signer: ClearingSignerInput;
  /**
   * A session key named in the deposit as the account's voucher signer; it then signs the
   * vouchers. Default: the payer signs them (the deposit names no voucher signer).
   */
  voucherSigner?: ClearingSignerInput;
  /** Default `{ payments: 100 }`. */
  deposit?: ClearingDepositPolicy;
  trust?: ClearingTrustPolicy;
  /** Default: a {@link MemoryVoucherStore}. */
  store?: VoucherStore;
  /**
   * How long a payment waits for the answer to a deposit in flight for its account before it
   * goes ahead, ms. Default 60,000.
   */
  depositWaitMs?: number;
  /**
   * A client of the payment's chain. Given, the payer's allowance to Permit2 is read before a
   * Permit2 deposit is signed, and a payment whose deposit it does not cover is refused
   * (`permit2_approval_required`) instead of being refused by the facilitator. Without it, the
   * facilitator checks (`clearing_deposit_permit2_allowance_required`).
   */
  publicClient?: Client;
};

type SignedDeposit = SignedDepositAuthorization | SignedPermit2Deposit;

type Reservation = {
  voucher: Omit<SignedVoucher, "signature">;
  deposit: bigint;
  previous: { cumulativeValue: bigint; cumulativeFee: bigint; committed: bigint };
};

type Gate = { promise: Promise<void>; release: () => void; deposit?: string };

const DEFAULT_MAX_FEE_BASIS_POINTS = 100;
const DEFAULT_MAX_WITHDRAWAL_DELAY = 7 * 24 * 3600;
const RETRYABLE_DEPOSIT_REASONS = new Set([
  "clearing_unknown_account",
  "clearing_insufficient_balance",
  "clearing_withdrawal_pending",
]);
/** Refusals after which a deposit riding with the voucher is still credited (or still pending). */
const DEPOSIT_KEPT_REASONS = new Set([
  "clearing_cumulative_too_low",
  "clearing_voucher_already_accepted",
  "clearing_deposit_pending",
]);

/**
 * The `clearing` scheme for the official `@x402/core` client: pays with cumulative vouchers to a
 * ClearingHouse operator (docs/SCHEMES.md).
 *
 * Per (payer, payee, operator, token) under one ClearingHouse it keeps the highest cumulative it
 * signed in a {@link VoucherStore}; each payment reserves the next total atomically (`total +
 * price`), so concurrent payments never sign the same cumulative and each pays once, whatever
 * order they reach the facilitator in. The first payment to an operator, and any payment the
 * account's known balance does not cover, carries a deposit (EIP-3009 `ReceiveWithAuthorization`
 * to the ClearingHouse, or, when the requirements say `extra.assetTransferMethod: "permit2"` or
 * carry no token domain, Permit2's `PermitWitnessTransferFrom` with the ClearingHouse as spender,
 * sized by the {@link ClearingDepositPolicy}); payments to that account wait for its answer. A
 * Permit2 deposit needs the payer's one-time approval of Permit2 on the token, which stays the
 * payer's to give (`approvePermit2` makes it). When a refusal or a 402 carries the pair's state (`extra.pair`), the client
 * checks that its voucher is its own signature and resumes from the higher proven total, so it
 * never signs more than the price above a total it can prove it signed; it then asks the
 * transport to retry once.
 *
 * @example
 * const client = new x402Client().register("eip155:8453",
 *   new ClearingClientScheme({ signer: payerKey, deposit: { payments: 200 } }));
 * const pay = wrapFetchWithPayment(fetch, client);
 */
export class ClearingClientScheme implements SchemeNetworkClient {
  readonly scheme = CLEARING_SCHEME;
  readonly schemeHooks: SchemeClientHooks;
  /**
   * USDC on Base and Base Sepolia, for the `x402Client`'s USD spend controls (as `@x402/evm`'s
   * `exact` reports it); other tokens need an `allowedAssets` entry there.
   */
  readonly findDefaultAsset = (asset: string, network: string) => {
    const chainId = CLEARING_NETWORKS[network];
    if (chainId === undefined || !isAddress(asset, { strict: false })) return undefined;
    const usdc = getTokenDomain({ chainId });
    if (!isAddressEqual(asset, usdc.verifyingContract)) return undefined;
    return { asset: usdc.verifyingContract, decimals: USDC_DECIMALS, symbol: "USDC" };
  };
  readonly payer: Address;
  readonly store: VoucherStore;
  readonly #payer: VoucherSigner;
  readonly #voucherSigner: VoucherSigner;
  readonly #namedSigner: Address;
  readonly #deposit: ClearingDepositPolicy;
  readonly #trust: ClearingTrustPolicy;
  readonly #depositWaitMs: number;
  readonly #publicClient: Client | undefined;
  readonly #gates = new Map<string, Gate>();
  readonly #separators = new Map<string, Hex>();

  constructor(options: ClearingClientSchemeOptions) {
    this.#payer = createVoucherSigner(options.signer);
    this.payer = this.#payer.address;
    this.#voucherSigner = options.voucherSigner
      ? createVoucherSigner(options.voucherSigner)
      : this.#payer;
    this.#namedSigner = options.voucherSigner ? this.#voucherSigner.address : zeroAddress;
    this.#deposit = options.deposit ?? { payments: 100 };
    const { amount, payments, max } = this.#deposit;
    if (amount === undefined && payments === undefined) {
      throw new ClearingClientError(
        "deposit_too_small",
        "give deposit.amount or deposit.payments",
        {
          field: "deposit",
        },
      );
    }
    if (
      (amount !== undefined && (typeof amount !== "bigint" || amount <= 0n)) ||
      (payments !== undefined && (!Number.isSafeInteger(payments) || payments < 1)) ||
      (max !== undefined && (typeof max !== "bigint" || max <= 0n))
    ) {
      throw new ClearingClientError(
        "deposit_too_small",
        "deposit.amount and deposit.max must be positive bigints, deposit.payments a positive integer",
        { field: "deposit" },
      );
    }
    this.#trust = options.trust ?? {};
    this.store = options.store ?? new MemoryVoucherStore();
    this.#depositWaitMs = options.depositWaitMs ?? 60_000;
    this.#publicClient = options.publicClient;
    this.schemeHooks = { onPaymentResponse: (ctx) => this.#onPaymentResponse(ctx) };
  }

  /** The address that signs this client's vouchers: the payer, or its session key. */
  get voucherSignerAddress(): Address {
    return this.#voucherSigner.address;
  }

  /** Signs the next voucher (and a deposit when the account needs one) for `requirements`. */
  async createPaymentPayload(
    x402Version: number,
    requirements: PaymentRequirements,
    context?: PaymentPayloadContext,
  ): Promise<PaymentPayloadResult> {
    const terms = this.#checkTerms(requirements, context);
    const key = this.#accountKey(terms);
    const domain = getClearingHouseDomain({
      chainId: terms.chainId,
      clearingHouse: terms.clearingHouse,
    });
    const separator = this.#separator(domain);
    const pair = readPair(requirements.extra?.pair);
    if (pair) await this.#recover(terms, separator, pair);

    let reservation: Reservation | undefined;
    let gate: Gate | undefined;
    while (!reservation) {
      const waiting = this.#gates.get(key);
      if (waiting) {
        await waiting.promise;
        continue;
      }
      reservation = await this.store.update(key, (record) => {
        // Synchronous: a deposit in flight, seen here, cannot be missed by a concurrent payment.
        if (this.#gates.has(key)) return { record: record ?? emptyAccount(), result: undefined };
        const next = reserve(this.payer, record, terms, this.#depositValue.bind(this));
        if (next.result.deposit > 0n) gate = this.#openGate(key);
        return next;
      });
    }

    let signed: { voucher: SignedVoucher; deposit?: SignedDeposit };
    try {
      signed = await this.#sign(terms, domain, separator, reservation);
    } catch (error) {
      await this.#rollback(key, terms, reservation).catch(() => undefined);
      if (gate) this.#closeGate(key, gate);
      throw error;
    }
    if (gate && signed.deposit) gate.deposit = depositIdentity(signed.deposit);
    return { x402Version, payload: encodeClearingPayload(signed) };
  }

  /** The totals the client holds for one pair, or undefined when it has signed nothing for it. */
  async getPair(terms: {
    network: string;
    clearingHouse: Address;
    operator: Address;
    token: Address;
    payee: Address;
  }): Promise<{ cumulativeValue: bigint; cumulativeFee: bigint; deposited: bigint } | undefined> {
    const record = await this.store.get(this.#accountKey(terms));
    const pair = record?.pairs[terms.payee.toLowerCase()];
    return pair && { ...pair, deposited: record!.deposited };
  }

  #checkTerms(requirements: PaymentRequirements, context?: PaymentPayloadContext): ClearingTerms {
    const terms = parseClearingRequirements(requirements);
    const trust = this.#trust;
    const refuse = (field: string, details: string): never => {
      throw new ClearingClientError("untrusted_terms", details, { field });
    };
    if (
      trust.clearingHouses &&
      !trust.clearingHouses.some((a) => isAddressEqual(a, terms.clearingHouse))
    ) {
      refuse("extra.clearingHouse", `${terms.clearingHouse} is not a trusted ClearingHouse`);
    }
    if (trust.operators && !trust.operators.some((a) => isAddressEqual(a, terms.operator))) {
      refuse("extra.operator", `${terms.operator} is not a trusted operator`);
    }
    const maxBps = trust.maxFeeBasisPoints ?? DEFAULT_MAX_FEE_BASIS_POINTS;
    if (terms.feeBasisPoints > maxBps) {
      refuse("extra.feeBasisPoints", `${terms.feeBasisPoints} is above the cap of ${maxBps}`);
    }
    const maxDelay = trust.maxWithdrawalDelay ?? DEFAULT_MAX_WITHDRAWAL_DELAY;
    if (terms.withdrawalDelay > maxDelay) {
      refuse(
        "extra.withdrawalDelay",
        `${terms.withdrawalDelay} s is above the cap of ${maxDelay} s`,
      );
    }
    if (trust.maxPrice !== undefined && terms.price > trust.maxPrice) {
      refuse("amount", `${terms.price} is above the cap of ${trust.maxPrice}`);
    }
    const cap = context?.maxAmountPerPayment;
    if (cap !== undefined && /^[0-9]+$/.test(cap) && terms.price > BigInt(cap)) {
      refuse("amount", `${terms.price} is above the client's spend cap of ${cap}`);
    }
    return terms;
  }

  #depositValue(terms: ClearingTerms, needed: bigint): bigint {
    const { amount, payments, max } = this.#deposit;
    let value = amount ?? 0n;
    if (payments !== undefined) {
      const total = terms.price * BigInt(payments);
      const byPayments = total + computeVoucherFee({ basisPoints: terms.feeBasisPoints }, total);
      if (byPayments > value) value = byPayments;
    }
    if (value < needed) value = needed;
    if (max !== undefined && value > max) {
      if (needed > max) {
        throw new ClearingClientError(
          "deposit_too_small",
          `the payment needs a deposit of ${needed}, above deposit.max ${max}`,
          { field: "deposit.max" },
        );
      }
      value = max;
    }
    return value;
  }

  async #sign(
    terms: ClearingTerms,
    domain: ClearingHouseDomain,
    separator: Hex,
    reservation: Reservation,
  ): Promise<{ voucher: SignedVoucher; deposit?: SignedDeposit }> {
    if (reservation.deposit > 0n && terms.assetTransferMethod === "permit2") {
      await this.#checkPermit2Allowance(terms, reservation.deposit);
    }
    const signature = await this.#voucherSigner.sign({
      domain,
      domainSeparator: separator,
      voucher: reservation.voucher,
    });
    const voucher: SignedVoucher = { ...reservation.voucher, signature };
    if (reservation.deposit === 0n) return { voucher };
    if (terms.assetTransferMethod === "permit2") {
      const deposit = buildPermit2Deposit({
        payer: this.payer,
        clearingHouse: terms.clearingHouse,
        token: terms.token,
        operator: terms.operator,
        voucherSigner: this.#namedSigner,
        amount: reservation.deposit,
        deadline: BigInt(Math.floor(Date.now() / 1000) + terms.maxTimeoutSeconds),
      });
      return {
        voucher,
        deposit: await signPermit2Deposit(this.#payer.account, { chainId: terms.chainId, deposit }),
      };
    }
    const authorization = buildDepositAuthorization({
      from: this.payer,
      clearingHouse: terms.clearingHouse,
      operator: terms.operator,
      voucherSigner: this.#namedSigner,
      value: reservation.deposit,
      maxTimeoutSeconds: terms.maxTimeoutSeconds,
    });
    const deposit = await signDepositAuthorization(this.#payer.account, {
      domain: {
        name: terms.tokenName,
        version: terms.tokenVersion,
        chainId: terms.chainId,
        verifyingContract: terms.token,
      },
      authorization,
    });
    return { voucher, deposit };
  }

  /** Refuses a Permit2 deposit the payer's allowance to Permit2 does not cover (with a client). */
  async #checkPermit2Allowance(terms: ClearingTerms, amount: bigint): Promise<void> {
    if (!this.#publicClient) return;
    let allowance: bigint;
    try {
      allowance = await permit2Allowance(this.#publicClient, {
        token: terms.token,
        owner: this.payer,
      });
    } catch (cause) {
      throw new ClearingClientError(
        "permit2_approval_required",
        `the payer's allowance to Permit2 on ${terms.token} could not be read`,
        { field: "asset", cause },
      );
    }
    if (allowance < amount) {
      throw new ClearingClientError(
        "permit2_approval_required",
        `the deposit of ${amount} pulls ${terms.token} through Permit2, but the payer ${this.payer} allows Permit2 only ${allowance}: approve Permit2 once (approvePermit2 from x402-clearing)`,
        { field: "asset" },
      );
    }
  }

  /** Undoes a reservation whose voucher was never signed, when nothing was reserved after it. */
  async #rollback(key: string, terms: ClearingTerms, reservation: Reservation): Promise<void> {
    await this.store.update(key, (record) => {
      const account = record ?? emptyAccount();
      const pair = account.pairs[terms.payee.toLowerCase()];
      if (pair && pair.cumulativeValue === reservation.voucher.cumulativeValue) {
        account.committed -=
          pair.cumulativeValue -
          reservation.previous.cumulativeValue +
          (pair.cumulativeFee - reservation.previous.cumulativeFee);
        pair.cumulativeValue = reservation.previous.cumulativeValue;
        pair.cumulativeFee = reservation.previous.cumulativeFee;
        delete pair.signature;
      }
      account.deposited -= reservation.deposit;
      return { record: account, result: undefined };
    });
  }

  /**
   * Raises the pair's total to the pair voucher's when it is the client's own signature (payer or
   * voucher signer) for this pair under these terms and above what the store holds. Returns
   * whether the total rose. Anything else in `pair` is ignored: it is not proof.
   */
  async #recover(terms: ClearingTerms, separator: Hex, pair: ClearingPairState): Promise<boolean> {
    const voucher = pair.voucher;
    if (!voucher || !isAddressEqual(pair.payer, this.payer)) return false;
    if (pair.payee && !isAddressEqual(pair.payee, terms.payee)) return false;
    if (pair.token && !isAddressEqual(pair.token, terms.token)) return false;
    if (
      !isAddressEqual(voucher.payer, this.payer) ||
      !isAddressEqual(voucher.payee, terms.payee) ||
      !isAddressEqual(voucher.operator, terms.operator) ||
      !isAddressEqual(voucher.token, terms.token) ||
      voucher.cumulativeFee !==
        computeVoucherFee({ basisPoints: terms.feeBasisPoints }, voucher.cumulativeValue)
    ) {
      return false;
    }
    const { signature, ...fields } = voucher;
    const verified = verifyVoucher({
      domainSeparator: separator,
      voucher: fields,
      signature,
      ...(this.#namedSigner === zeroAddress ? {} : { voucherSigner: this.#namedSigner }),
    });
    if (!verified.valid) return false;
    return this.store.update(this.#accountKey(terms), (record) => {
      const account = record ?? emptyAccount();
      const payee = terms.payee.toLowerCase();
      const current = account.pairs[payee] ?? { cumulativeValue: 0n, cumulativeFee: 0n };
      if (voucher.cumulativeValue <= current.cumulativeValue) {
        return { record: account, result: false };
      }
      account.committed +=
        voucher.cumulativeValue -
        current.cumulativeValue +
        (voucher.cumulativeFee - current.cumulativeFee);
      account.pairs[payee] = {
        cumulativeValue: voucher.cumulativeValue,
        cumulativeFee: voucher.cumulativeFee,
        signature: voucher.signature,
      };
      return { record: account, result: true };
    });
  }

  async #onPaymentResponse(ctx: PaymentResponseContext): Promise<void | { recovered: true }> {
    if (ctx.requirements.scheme !== CLEARING_SCHEME) return;
    let terms: ClearingTerms;
    let sent: ReturnType<typeof decodeClearingPayload>;
    try {
      terms = parseClearingRequirements(ctx.requirements);
      sent = decodeClearingPayload(ctx.paymentPayload.payload);
    } catch {
      return;
    }
    if (!isAddressEqual(sent.voucher.payer, this.payer)) return;
    const key = this.#accountKey(terms);
    const gate = this.#gates.get(key);
    const ownsGate =
      gate !== undefined &&
      sent.deposit !== undefined &&
      gate.deposit === depositIdentity(sent.deposit);
    try {
      if (ctx.settleResponse?.success) return;
      if (!ctx.settleResponse && !ctx.paymentRequired) return; // a transport error: nothing is known
      const reason = ctx.settleResponse?.errorReason ?? ctx.paymentRequired?.error ?? "";
      let changed = false;
      if (sent.deposit && !DEPOSIT_KEPT_REASONS.has(reason)) {
        // The deposit was refused with its voucher: the next payment carries one again.
        const value = depositAmount(sent.deposit);
        await this.store.update(key, (record) => {
          const account = record ?? emptyAccount();
          account.deposited -= value;
          return { record: account, result: undefined };
        });
        changed = true;
      } else if (RETRYABLE_DEPOSIT_REASONS.has(reason)) {
        // The operator holds less than the client believed: the next payment tops the account up.
        changed = await this.store.update(key, (record) => {
          const account = record ?? emptyAccount();
          if (account.deposited <= account.committed) return { record: account, result: false };
          account.deposited = account.committed;
          return { record: account, result: true };
        });
      }
      const pair = findPair(ctx, terms);
      if (pair) {
        const domain = getClearingHouseDomain({
          chainId: terms.chainId,
          clearingHouse: terms.clearingHouse,
        });
        if (await this.#recover(terms, this.#separator(domain), pair)) changed = true;
      }
      return changed ? { recovered: true } : undefined;
    } finally {
      if (ownsGate) this.#closeGate(key, gate);
    }
  }

  #openGate(key: string): Gate {
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    const gate: Gate = { promise, release };
    this.#gates.set(key, gate);
    const timer = setTimeout(() => this.#closeGate(key, gate), this.#depositWaitMs);
    timer.unref?.();
    void promise.then(() => clearTimeout(timer));
    return gate;
  }

  #closeGate(key: string, gate: Gate): void {
    if (this.#gates.get(key) === gate) this.#gates.delete(key);
    gate.release();
  }

  #accountKey(terms: {
    network: string;
    clearingHouse: Address;
    operator: Address;
    token: Address;
  }): string {
    return [terms.network, terms.clearingHouse, terms.operator, terms.token, this.payer]
      .map((part) => part.toLowerCase())
      .join(":");
  }

  #separator(domain: ClearingHouseDomain): Hex {
    const key = `${domain.chainId}:${domain.verifyingContract}`;
    let separator = this.#separators.get(key);
    if (!separator) this.#separators.set(key, (separator = getDomainSeparator(domain)));
    return separator;
  }
}

/** What identifies a deposit once signed: its EIP-3009 nonce, or its Permit2 nonce. */
function depositIdentity(deposit: SignedDeposit): string {
  return deposit.kind === "permit2-deposit" ? `permit2:${deposit.nonce}` : deposit.nonce;
}

function depositAmount(deposit: SignedDeposit): bigint {
  return deposit.kind === "permit2-deposit" ? deposit.amount : deposit.value;
}

function emptyAccount(): ClearingAccountRecord {
  return { deposited: 0n, committed: 0n, pairs: {} };
}

/** The next voucher of the pair and the deposit it needs, applied to the account's record. */
function reserve(
  payer: Address,
  record: ClearingAccountRecord | undefined,
  terms: ClearingTerms,
  depositValue: (terms: ClearingTerms, needed: bigint) => bigint,
): { record: ClearingAccountRecord; result: Reservation } {
  const account = record ?? emptyAccount();
  const payee = terms.payee.toLowerCase();
  const pair = account.pairs[payee] ?? { cumulativeValue: 0n, cumulativeFee: 0n };
  const cumulativeValue = pair.cumulativeValue + terms.price;
  const cumulativeFee = computeVoucherFee({ basisPoints: terms.feeBasisPoints }, cumulativeValue);
  const cost = cumulativeValue - pair.cumulativeValue + (cumulativeFee - pair.cumulativeFee);
  const available = account.deposited - account.committed;
  const deposit = available >= cost ? 0n : depositValue(terms, cost - available);
  const previous = { ...pair, committed: account.committed };
  account.pairs[payee] = { cumulativeValue, cumulativeFee };
  account.committed += cost;
  account.deposited += deposit;
  return {
    record: account,
    result: {
      voucher: {
        payer,
        payee: terms.payee,
        token: terms.token,
        operator: terms.operator,
        cumulativeValue,
        cumulativeFee,
      },
      deposit,
      previous,
    },
  };
}

function readPair(raw: unknown): ClearingPairState | undefined {
  if (raw === undefined || raw === null) return undefined;
  try {
    return decodePairState(raw);
  } catch {
    return undefined;
  }
}

/** The pair state of a refusal: the settle answer's `extra.pair`, or the 402's matching offer's. */
function findPair(
  ctx: PaymentResponseContext,
  terms: ClearingTerms,
): ClearingPairState | undefined {
  const fromSettle = readPair(ctx.settleResponse?.extra?.pair);
  if (fromSettle) return fromSettle;
  for (const accept of ctx.paymentRequired?.accepts ?? []) {
    if (accept.scheme !== CLEARING_SCHEME || accept.network !== terms.network) continue;
    if (typeof accept.payTo !== "string" || !isAddressEqual(accept.payTo as Address, terms.payee)) {
      continue;
    }
    const pair = readPair(accept.extra?.pair);
    if (pair) return pair;
  }
  return undefined;
}
