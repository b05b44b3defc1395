import { type Address, type Client, type Hex, isAddress, isHex, zeroAddress } from "viem";
import { readContract } from "viem/actions";

import { clearingHouseAbi } from "../abi/clearingHouse.js";
import { type FeeTerms, computeVoucherFee } from "./computeVoucherFee.js";
import type { ClearResult } from "./decodeClearResults.js";
import { getClearingHouseDomain } from "./getClearingHouseDomain.js";
import { getDomainSeparator } from "./getDomainSeparator.js";
import { InvalidLedgerInputError, LedgerStoreError } from "./ledgerErrors.js";
import type { LedgerRejectReason } from "./ledgerRejectReasons.js";
import type { AcceptedVoucherRecord, LedgerStore } from "./ledgerStore.js";
import type { ClearCandidate } from "./planClears.js";
import type { SignedVoucher } from "./types.js";
import { verifyVoucher } from "./verifyVoucher.js";

const MAX_UINT128 = (1n << 128n) - 1n;

/** The ledger's mirror of one account (payer, operator, token) on chain. */
export type LedgerAccount = {
  payer: Address;
  token: Address;
  balance: bigint;
  /** Lowercase; the zero address for none. */
  voucherSigner: Address;
  withdrawalDelay: number;
  /** Zero when no withdrawal is pending. */
  withdrawalAmount: bigint;
  /** Unix seconds; zero when none. */
  withdrawalReadyAt: number;
};

/** What the ledger knows of one pair (payer, payee) under its operator and a token. */
export type LedgerPair = {
  payer: Address;
  payee: Address;
  token: Address;
  /** The pair's cleared totals on chain (mirrored). */
  clearedValue: bigint;
  clearedFee: bigint;
  /** The sum of the prices of the requests accepted for the pair. */
  chargedValue: bigint;
  /** The accepted voucher with the highest cumulative value: the one to clear. */
  best: SignedVoucher | undefined;
};

export type OperatorLedgerParameters = {
  clearingHouse: Address;
  chainId: number;
  /** The operator whose accounts this ledger runs. */
  operator: Address;
  /** The tokens it clears. */
  tokens: readonly Address[];
  /** The fee every voucher's `cumulativeFee` must match. */
  fee: FeeTerms;
  store: LedgerStore;
};

export type AcceptVoucherParameters = {
  voucher: SignedVoucher;
  /** The price of the request this voucher pays for, in token units (> 0). */
  price: bigint;
  /** The payee the request pays; the voucher must name it. */
  payee?: Address;
  /**
   * Set only after checking an ERC-1271 voucher (`contractSignature`) on chain with
   * `verifyContractVoucher`: the ledger cannot check it without RPC.
   */
  contractSignatureVerified?: boolean;
  /** Unix ms for the record. Default `Date.now()`. */
  now?: number;
  /**
   * Check only (x402 `/verify`): every check runs, nothing is appended or applied, and an
   * accepted answer promises nothing (a later accept sees the state of that time).
   */
  dryRun?: boolean;
};

export type AcceptVoucherReturnType =
  | { accepted: true; payer: Address; key: string; chargedValue: bigint; uncleared: bigint }
  | { accepted: false; payer: Address | undefined; reason: LedgerRejectReason };

export type WithdrawalDeadline = {
  payer: Address;
  token: Address;
  /** When the payer can complete the withdrawal (unix seconds): clear before then. */
  readyAt: number;
  withdrawalAmount: bigint;
  /** What the ledger's vouchers for this account would still move on chain. */
  uncleared: bigint;
};

/**
 * The operator's off-chain state machine: a mirror of its accounts and pairs on a ClearingHouse
 * (read with {@link OperatorLedger.syncAccount} or fed by `watchLedger`), and the vouchers it
 * accepted (kept in a {@link LedgerStore}).
 *
 * {@link OperatorLedger.accept} takes a voucher for a request of price `p` only when it is for
 * this operator, a supported token and the request's payee; its fee matches the terms; it is
 * signed (ECDSA, low s, checked offline) by the payer or the account's voucher signer; it was not
 * accepted before; the pair's charged total plus `p` stays within the highest cumulative value
 * the payer has signed for the pair (this voucher included, so vouchers of concurrent requests
 * may arrive in any order); and the account's accepted-but-uncleared total (per pair, the best
 * voucher's value plus fee above the pair's cleared totals) stays within its balance minus any
 * pending withdrawal. Everything else is rejected with a {@link LedgerRejectReason}. It makes no
 * RPC call; accepts for one account are serialized around the store's `append`.
 *
 * @example
 * const ledger = new OperatorLedger({ clearingHouse, chainId: 8453, operator, tokens: [USDC_ADDRESS],
 *   fee: { basisPoints: 100 }, store: createMemoryLedgerStore() });
 * await ledger.load();
 * await ledger.syncAccount(publicClient, { payer, token: USDC_ADDRESS });
 * const result = await ledger.accept({ voucher, price: 10_000n, payee });
 */
export class OperatorLedger {
  readonly clearingHouse: Address;
  readonly operator: Address;
  readonly tokens: readonly Address[];
  readonly fee: FeeTerms;
  readonly #store: LedgerStore;
  readonly #separator: Hex;
  readonly #tokens = new Set<string>();
  readonly #accounts = new Map<string, LedgerAccount>();
  readonly #pairs = new Map<string, LedgerPair>();
  readonly #pairsOfAccount = new Map<string, Set<string>>();
  readonly #accepted = new Set<string>();
  readonly #locks = new Map<string, Promise<unknown>>();

  constructor(parameters: OperatorLedgerParameters) {
    for (const [field, value] of [
      ["clearingHouse", parameters.clearingHouse],
      ["operator", parameters.operator],
      ...parameters.tokens.map((t) => ["tokens", t] as const),
    ] as const) {
      if (!isAddress(value, { strict: false })) {
        throw new InvalidLedgerInputError(field, `${String(value)} is not an address`);
      }
    }
    computeVoucherFee(parameters.fee, 0n);
    this.clearingHouse = parameters.clearingHouse;
    this.operator = lower(parameters.operator);
    this.tokens = parameters.tokens.map(lower);
    for (const token of this.tokens) this.#tokens.add(token);
    this.fee = parameters.fee;
    this.#store = parameters.store;
    this.#separator = getDomainSeparator(
      getClearingHouseDomain({
        chainId: parameters.chainId,
        clearingHouse: parameters.clearingHouse,
      }),
    );
  }

  /** Rebuilds the accepted vouchers (charged totals, best vouchers, voucher keys) from the store. */
  async load(): Promise<void> {
    let records: readonly AcceptedVoucherRecord[];
    try {
      records = await this.#store.load();
    } catch (error) {
      throw new LedgerStoreError("load", error);
    }
    for (const record of records) this.#apply(record);
  }

  /** Reads the account and the cleared totals of its known pairs from the ClearingHouse. */
  async syncAccount(client: Client, { payer, token }: { payer: Address; token: Address }) {
    const account = await readContract(client, {
      address: this.clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getAccount",
      args: [payer, this.operator, token],
    });
    this.setAccount({
      payer,
      token,
      balance: account.balance,
      voucherSigner: account.voucherSigner,
      withdrawalDelay: account.withdrawalDelay,
      withdrawalAmount: account.withdrawalAmount,
      withdrawalReadyAt: account.withdrawalReadyAt,
    });
    const keys = [...(this.#pairsOfAccount.get(accountKey(token, payer)) ?? [])];
    await Promise.all(
      keys.map(async (key) => {
        const pair = this.#pairs.get(key)!;
        const [value, fee] = await readContract(client, {
          address: this.clearingHouse,
          abi: clearingHouseAbi,
          functionName: "getCleared",
          args: [pair.payer, pair.payee, this.operator, pair.token],
        });
        this.setCleared({ ...pair, cumulativeValue: value, cumulativeFee: fee });
      }),
    );
    return this.getAccount({ payer, token });
  }

  /** Re-reads every account the ledger knows. */
  async sync(client: Client): Promise<void> {
    const accounts = [...this.#accounts.values()];
    const fromPairs = [...this.#pairs.values()].map((p) => ({ payer: p.payer, token: p.token }));
    const seen = new Set<string>();
    await Promise.all(
      [...accounts, ...fromPairs].map((a) => {
        const key = accountKey(a.token, a.payer);
        if (seen.has(key)) return undefined;
        seen.add(key);
        return this.syncAccount(client, a);
      }),
    );
  }

  /** Sets the mirror of one account (from a sync or an event). */
  setAccount(account: LedgerAccount): void {
    const entry: LedgerAccount = {
      ...account,
      payer: lower(account.payer),
      token: lower(account.token),
      voucherSigner: lower(account.voucherSigner),
    };
    this.#accounts.set(accountKey(entry.token, entry.payer), entry);
  }

  /** Records a pending withdrawal (the `WithdrawalRequested` event) before any re-read. */
  setWithdrawal(args: { payer: Address; token: Address; amount: bigint; readyAt: number }): void {
    const account = this.#accounts.get(accountKey(lower(args.token), lower(args.payer)));
    if (!account) return;
    account.withdrawalAmount = args.amount;
    account.withdrawalReadyAt = args.readyAt;
  }

  /** Sets a pair's cleared totals on chain (from a sync or a clear's results). */
  setCleared(args: {
    payer: Address;
    payee: Address;
    token: Address;
    cumulativeValue: bigint;
    cumulativeFee: bigint;
  }): void {
    const pair = this.#pair(lower(args.token), lower(args.payer), lower(args.payee));
    pair.clearedValue = args.cumulativeValue;
    pair.clearedFee = args.cumulativeFee;
  }

  getAccount({ payer, token }: { payer: Address; token: Address }): LedgerAccount | undefined {
    const account = this.#accounts.get(accountKey(lower(token), lower(payer)));
    return account && { ...account };
  }

  getPair(args: { payer: Address; payee: Address; token: Address }): LedgerPair | undefined {
    const pair = this.#pairs.get(pairKey(lower(args.token), lower(args.payer), lower(args.payee)));
    return pair && { ...pair };
  }

  /** What the account's accepted vouchers would still move on chain (value plus fee). */
  uncleared({ payer, token }: { payer: Address; token: Address }): bigint {
    return this.#uncleared(accountKey(lower(token), lower(payer)));
  }

  /** Accepts or rejects a voucher for a request of price `price` (see the class). No RPC. */
  async accept(parameters: AcceptVoucherParameters): Promise<AcceptVoucherReturnType> {
    const { voucher, price } = parameters;
    if (typeof price !== "bigint" || price <= 0n) {
      throw new InvalidLedgerInputError("price", "must be a positive bigint");
    }
    if (!wellFormed(voucher)) {
      const raw = (parameters.voucher as { payer?: unknown } | undefined)?.payer;
      const payer = typeof raw === "string" && isAddress(raw) ? lower(raw) : undefined;
      return { accepted: false, payer, reason: "malformed_voucher" };
    }
    const payer = lower(voucher.payer);
    const token = lower(voucher.token);
    const reject = (reason: LedgerRejectReason): AcceptVoucherReturnType => ({
      accepted: false,
      payer,
      reason,
    });
    if (lower(voucher.operator) !== this.operator) return reject("operator_mismatch");
    if (!this.#tokens.has(token)) return reject("token_not_supported");
    if (parameters.payee !== undefined && lower(parameters.payee) !== lower(voucher.payee)) {
      return reject("payee_mismatch");
    }
    if (voucher.cumulativeFee !== computeVoucherFee(this.fee, voucher.cumulativeValue)) {
      return reject("fee_mismatch");
    }
    const key = accountKey(token, payer);
    if (!this.#accounts.get(key)?.withdrawalDelay) return reject("unknown_account");

    const account = this.#accounts.get(key)!;
    const { signature, contractSignature, ...fields } = voucher;
    let signer: Address;
    if (contractSignature) {
      if (parameters.contractSignatureVerified !== true) {
        return reject("contract_signature_unverified");
      }
      signer = payer;
    } else {
      let verified: ReturnType<typeof verifyVoucher>;
      try {
        verified = verifyVoucher({
          domainSeparator: this.#separator,
          voucher: fields,
          signature,
          ...(account.voucherSigner === zeroAddress
            ? {}
            : { voucherSigner: account.voucherSigner }),
        });
      } catch {
        return reject("invalid_signature");
      }
      if (!verified.valid) {
        return reject(
          verified.reason === "wrong_signer" ? "signer_not_authorized" : "invalid_signature",
        );
      }
      signer = lower(verified.signer);
    }
    // Its fields, not its signature (one voucher has many valid encodings), identify a voucher:
    // under one ledger's domain and operator they determine the EIP-712 digest.
    const voucherKey = `${token}:${payer}:${lower(voucher.payee)}:${voucher.cumulativeValue}:${voucher.cumulativeFee}`;

    return this.#serialize(key, async () => {
      // The account's state may have changed while an earlier accept awaited the store.
      const account = this.#accounts.get(key)!;
      if (
        !contractSignature &&
        signer !== payer &&
        (account.voucherSigner === zeroAddress || signer !== account.voucherSigner)
      ) {
        return reject("signer_not_authorized");
      }
      if (this.#accepted.has(voucherKey)) return reject("voucher_already_accepted");
      const pk = pairKey(token, payer, lower(voucher.payee));
      const pair = this.#pairs.get(pk);
      const bestValue = max(pair?.best?.cumulativeValue ?? 0n, pair?.clearedValue ?? 0n);
      const signedValue = max(bestValue, voucher.cumulativeValue);
      const chargedValue = (pair?.chargedValue ?? 0n) + price;
      if (chargedValue > signedValue) return reject("cumulative_too_low");

      const raises =
        pair?.best === undefined || voucher.cumulativeValue > pair.best.cumulativeValue;
      const before = pair ? pairUncleared(pair, pair.best) : 0n;
      const after = pair
        ? pairUncleared(pair, raises ? voucher : pair.best)
        : voucher.cumulativeValue + voucher.cumulativeFee;
      const uncleared = this.#uncleared(key) - before + after;
      if (uncleared > account.balance) return reject("insufficient_balance");
      const available = account.balance - account.withdrawalAmount;
      if (uncleared > (available > 0n ? available : 0n)) return reject("withdrawal_pending");

      if (parameters.dryRun)
        return { accepted: true, payer, key: voucherKey, chargedValue, uncleared };
      const record: AcceptedVoucherRecord = {
        key: voucherKey,
        voucher,
        price,
        signer,
        acceptedAt: parameters.now ?? Date.now(),
      };
      this.#accepted.add(voucherKey);
      try {
        await this.#store.append(record);
      } catch (error) {
        this.#accepted.delete(voucherKey);
        throw new LedgerStoreError("append", error);
      }
      this.#accepted.delete(voucherKey);
      this.#apply(record);
      return { accepted: true, payer, key: voucherKey, chargedValue, uncleared };
    });
  }

  /**
   * The vouchers to clear for `token`: per pair, the best accepted voucher when it is above the
   * pair's cleared totals; `accounts` limits them to some accounts (see {@link withdrawalDeadlines}).
   */
  pendingClears({
    token,
    accounts,
  }: {
    token: Address;
    accounts?: readonly { payer: Address }[];
  }): ClearCandidate[] {
    const only = accounts && new Set(accounts.map((a) => lower(a.payer)));
    const out: ClearCandidate[] = [];
    for (const pair of this.#pairs.values()) {
      if (pair.token !== lower(token) || !pair.best) continue;
      if (only && !only.has(pair.payer)) continue;
      if (pairUncleared(pair, pair.best) === 0n) continue;
      if (
        pair.best.cumulativeValue < pair.clearedValue ||
        pair.best.cumulativeFee < pair.clearedFee
      ) {
        continue;
      }
      out.push({
        voucher: pair.best,
        firstClear: pair.clearedValue === 0n && pair.clearedFee === 0n,
      });
    }
    return out;
  }

  /**
   * Applies a clear's decoded results: a cleared voucher sets its pair's cleared totals and
   * takes the increase from the account's balance. Returns the accounts of failed items, which
   * the caller re-reads with {@link syncAccount}.
   */
  applyClearResults(
    vouchers: readonly SignedVoucher[],
    results: readonly ClearResult[],
  ): { payer: Address; token: Address }[] {
    if (vouchers.length !== results.length) {
      throw new InvalidLedgerInputError("results", "one result per voucher");
    }
    const stale = new Map<string, { payer: Address; token: Address }>();
    vouchers.forEach((voucher, i) => {
      const token = lower(voucher.token);
      const payer = lower(voucher.payer);
      if (results[i]!.status !== "success") {
        stale.set(accountKey(token, payer), { payer, token });
        return;
      }
      const pair = this.#pair(token, payer, lower(voucher.payee));
      const increase =
        voucher.cumulativeValue - pair.clearedValue + (voucher.cumulativeFee - pair.clearedFee);
      pair.clearedValue = voucher.cumulativeValue;
      pair.clearedFee = voucher.cumulativeFee;
      const account = this.#accounts.get(accountKey(token, payer));
      if (account) account.balance -= increase;
    });
    return [...stale.values()];
  }

  /**
   * Accounts with a pending withdrawal and vouchers still to clear, earliest `readyAt` first:
   * the operator must clear them before their withdrawal can complete.
   */
  withdrawalDeadlines(): WithdrawalDeadline[] {
    const out: WithdrawalDeadline[] = [];
    for (const [key, account] of this.#accounts) {
      if (account.withdrawalReadyAt === 0) continue;
      const uncleared = this.#uncleared(key);
      if (uncleared === 0n) continue;
      out.push({
        payer: account.payer,
        token: account.token,
        readyAt: account.withdrawalReadyAt,
        withdrawalAmount: account.withdrawalAmount,
        uncleared,
      });
    }
    return out.sort((a, b) => a.readyAt - b.readyAt);
  }

  #apply(record: AcceptedVoucherRecord): void {
    const { voucher } = record;
    this.#accepted.add(record.key);
    const pair = this.#pair(lower(voucher.token), lower(voucher.payer), lower(voucher.payee));
    pair.chargedValue += record.price;
    if (!pair.best || voucher.cumulativeValue > pair.best.cumulativeValue) pair.best = voucher;
  }

  #pair(token: string, payer: string, payee: string): LedgerPair {
    const key = pairKey(token, payer, payee);
    let pair = this.#pairs.get(key);
    if (!pair) {
      pair = {
        payer: payer as Address,
        payee: payee as Address,
        token: token as Address,
        clearedValue: 0n,
        clearedFee: 0n,
        chargedValue: 0n,
        best: undefined,
      };
      this.#pairs.set(key, pair);
      const account = accountKey(token, payer);
      let set = this.#pairsOfAccount.get(account);
      if (!set) this.#pairsOfAccount.set(account, (set = new Set()));
      set.add(key);
    }
    return pair;
  }

  #uncleared(account: string): bigint {
    let total = 0n;
    for (const key of this.#pairsOfAccount.get(account) ?? []) {
      const pair = this.#pairs.get(key)!;
      total += pairUncleared(pair, pair.best);
    }
    return total;
  }

  async #serialize<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const tail = run.catch(() => undefined);
    this.#locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(key) === tail) this.#locks.delete(key);
    }
  }
}

function pairUncleared(pair: LedgerPair, best: SignedVoucher | undefined): bigint {
  if (!best) return 0n;
  const value = best.cumulativeValue - pair.clearedValue;
  const fee = best.cumulativeFee - pair.clearedFee;
  return (value > 0n ? value : 0n) + (fee > 0n ? fee : 0n);
}

function wellFormed(voucher: SignedVoucher | undefined): voucher is SignedVoucher {
  if (!voucher || typeof voucher !== "object") return false;
  for (const field of ["payer", "payee", "token", "operator"] as const) {
    if (!isAddress(voucher[field], { strict: false })) return false;
  }
  for (const field of ["cumulativeValue", "cumulativeFee"] as const) {
    const v = voucher[field];
    if (typeof v !== "bigint" || v < 0n || v > MAX_UINT128) return false;
  }
  return isHex(voucher.signature, { strict: true });
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

function lower(address: Address): Address {
  return address.toLowerCase() as Address;
}

function accountKey(token: string, payer: string): string {
  return `${token}:${payer}`;
}

function pairKey(token: string, payer: string, payee: string): string {
  return `${token}:${payer}:${payee}`;
}
