import { getAddress, isAddressEqual, type Address } from "viem";

import { reasons } from "./reasons.js";

/** Limits on what the facilitator accepts, so the relayer never pays for a free payment. */
export interface AdmissionOptions {
  /** Tokens accepted (checksummed or not); anything else is refused. */
  assets: readonly Address[];
  /** Smallest `value` accepted, in the token's base units (above zero). */
  minAmount: bigint;
  /** The router: a payment to it would lock its funds there. */
  router: Address;
  /** Most payments of one payer accepted and not yet settled or failed. */
  maxPendingPerPayer: number;
  /** Most payments accepted and not yet settled or failed, in all. */
  maxPending: number;
}

/** A payment as admission sees it. */
export interface AdmittedPayment {
  id: string;
  token: Address;
  payer: Address;
  payee: Address;
  value: bigint;
}

/** Why a payment is not admitted, and the HTTP status to answer with. */
export interface Refusal {
  reason: string;
  message: string;
  status: 200 | 429;
}

/**
 * Admission control: the static policy (allow-listed assets, a minimum amount, no payment to the
 * router) and the reservations of accepted, unfinished payments. Each accepted payment reserves
 * its value against its payer's balance, so a balance that covers one payment never backs a
 * second one queued beside it, and counts against per-payer and global limits (refused with HTTP
 * 429). `reserve` checks and reserves in one synchronous step: concurrent requests cannot both
 * pass on the same balance.
 *
 * @example
 * const refusal = admission.policy(payment) ?? admission.reserve(payment, balance);
 * if (refusal) return answer(refusal.status, refusal.reason);
 */
export class Admission {
  readonly #assets: Set<string>;
  readonly #options: AdmissionOptions;
  readonly #reserved = new Map<string, AdmittedPayment>();
  readonly #byPayer = new Map<string, { value: bigint; count: number }>();

  constructor(options: AdmissionOptions) {
    this.#options = options;
    this.#assets = new Set(options.assets.map((asset) => getAddress(asset).toLowerCase()));
  }

  /** Payments reserved (accepted, not yet settled or failed). */
  get pending(): number {
    return this.#reserved.size;
  }

  /**
   * The asset allow-list, checked before anything reads the chain: a token the operator does not
   * know is never called, not even by a simulation (it could burn gas or stall the reads).
   */
  assetPolicy(token: Address): Refusal | undefined {
    if (this.#assets.has(token.toLowerCase())) return undefined;
    return {
      reason: reasons.assetNotAllowed,
      message: `this facilitator settles ${[...this.#assets].join(", ")}`,
      status: 200,
    };
  }

  /** The static policy: asset, amount, payee. */
  policy(payment: Omit<AdmittedPayment, "id">): Refusal | undefined {
    const asset = this.assetPolicy(payment.token);
    if (asset) return asset;
    if (payment.value < this.#options.minAmount) {
      return {
        reason: reasons.amountBelowMinimum,
        message: `the smallest payment settled is ${this.#options.minAmount} base units`,
        status: 200,
      };
    }
    if (isAddressEqual(payment.payee, this.#options.router)) {
      return {
        reason: reasons.payToIsRouter,
        message: "a payment to the SettlementRouter would lock its funds there",
        status: 200,
      };
    }
    return undefined;
  }

  /** The value reserved by `payer`'s unfinished payments of `token`. */
  reservedOf(token: Address, payer: Address): bigint {
    return this.#byPayer.get(key(token, payer))?.value ?? 0n;
  }

  /**
   * Checks that `balance` covers this payment besides the payer's reserved ones and that no limit
   * is reached; `commit` (default true) then reserves it. A payment already reserved (same id)
   * passes without a second reservation.
   */
  reserve(payment: AdmittedPayment, balance: bigint, commit = true): Refusal | undefined {
    if (this.#reserved.has(payment.id)) return undefined;
    const payerKey = key(payment.token, payment.payer);
    const current = this.#byPayer.get(payerKey) ?? { value: 0n, count: 0 };
    if (current.count >= this.#options.maxPendingPerPayer) {
      return {
        reason: reasons.payerPendingLimit,
        message: `${current.count} payments of this payer are being settled; retry after they are`,
        status: 429,
      };
    }
    if (this.#reserved.size >= this.#options.maxPending) {
      return {
        reason: reasons.pendingLimit,
        message: `${this.#reserved.size} payments are being settled; retry later`,
        status: 429,
      };
    }
    if (current.value + payment.value > balance) {
      return {
        reason: reasons.insufficientBalance,
        message:
          current.value > 0n
            ? `the balance ${balance} does not also cover ${current.value} already being settled`
            : `the balance ${balance} is below ${payment.value}`,
        status: 200,
      };
    }
    if (commit) this.#add(payment);
    return undefined;
  }

  /** Reserves an accepted payment without checks (restoring the open payments of a store). */
  restore(payment: AdmittedPayment): void {
    if (!this.#reserved.has(payment.id)) this.#add(payment);
  }

  /** Releases a payment's reservation (it settled or failed). */
  release(id: string): void {
    const payment = this.#reserved.get(id);
    if (!payment) return;
    this.#reserved.delete(id);
    const payerKey = key(payment.token, payment.payer);
    const current = this.#byPayer.get(payerKey);
    if (!current) return;
    current.value -= payment.value;
    current.count -= 1;
    if (current.count <= 0) this.#byPayer.delete(payerKey);
  }

  #add(payment: AdmittedPayment): void {
    this.#reserved.set(payment.id, payment);
    const payerKey = key(payment.token, payment.payer);
    const current = this.#byPayer.get(payerKey) ?? { value: 0n, count: 0 };
    current.value += payment.value;
    current.count += 1;
    this.#byPayer.set(payerKey, current);
  }
}

function key(token: Address, payer: Address): string {
  return `${token}:${payer}`.toLowerCase();
}
