import {
  encodeFunctionData,
  erc20Abi,
  hexToBytes,
  isAddressEqual,
  parseEventLogs,
  parseSignature,
  recoverTypedDataAddress,
  size,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
} from "viem";

import { clearingHouseAbi } from "../../abi/clearingHouse.js";
import { receiveWithAuthorizationTypes } from "../../authorization/eip712Types.js";
import type { TokenDomain } from "../../authorization/types.js";
import { TRANSACTION_GAS_CAP } from "../../chain/base.js";
import { computeDepositNonce } from "../../clearing/computeDepositNonce.js";
import { encodeDeposits } from "../../clearing/encodeDeposits.js";
import { encodePermit2Deposits } from "../../clearing/encodePermit2Deposits.js";
import type { SignedDepositAuthorization, SignedPermit2Deposit } from "../../clearing/types.js";
import { verifyPermit2Deposit } from "../../clearing/verifyPermit2Deposit.js";
import { permit2Allowance } from "../../permit2/approve.js";
import { isPermit2NonceUsed } from "../../permit2/nonces.js";
import { eip3009Abi } from "../abi.js";
import type { ClearingStore, StoredDeposit } from "./store.js";

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const UINT48_MAX = 2n ** 48n - 1n;
const UINT128_MAX = 2n ** 128n - 1n;

/** `IClearingHouse.DepositStatus`, as the reasons a failed deposit is answered with. */
export const DEPOSIT_STATUS_REASONS = [
  undefined,
  "clearing_deposit_unknown_operator",
  "clearing_deposit_signer_mismatch",
  "clearing_deposit_balance_overflow",
  "clearing_deposit_authorization_failed",
  "clearing_deposit_nothing_received",
] as const;

/** Why a deposit riding in a `clearing` payload is refused before anything is sent. */
export type DepositCheckReason =
  | "clearing_deposit_payer_mismatch"
  | "clearing_deposit_recipient_mismatch"
  | "clearing_deposit_nonce_mismatch"
  | "clearing_deposit_invalid_value"
  | "clearing_deposit_expired"
  | "clearing_deposit_not_yet_valid"
  | "clearing_deposit_invalid_signature"
  | "clearing_deposit_nonce_used"
  | "clearing_deposit_insufficient_funds"
  | "clearing_deposit_spender_mismatch"
  | "clearing_deposit_token_mismatch"
  | "clearing_deposit_operator_mismatch"
  | "clearing_deposit_permit2_allowance_required";

/**
 * The offline checks of a deposit authorization: it is from the voucher's payer, to the
 * ClearingHouse, its nonce commits to this operator, the voucher signer and the salt
 * (`computeDepositNonce`), its value is in (0, 2^128), its window is open for at least
 * `marginSeconds`, and it is signed (ECDSA, low s) by `from` as `ReceiveWithAuthorization` under
 * the token's domain. Returns undefined when it passes.
 */
export async function checkDepositOffline(parameters: {
  deposit: SignedDepositAuthorization;
  payer: Address;
  clearingHouse: Address;
  operator: Address;
  domain: TokenDomain;
  now: number;
  marginSeconds: number;
}): Promise<{ reason: DepositCheckReason; message: string } | undefined> {
  const { deposit, domain } = parameters;
  if (!isAddressEqual(deposit.from, parameters.payer)) {
    return {
      reason: "clearing_deposit_payer_mismatch",
      message: `the deposit is from ${deposit.from}, the voucher's payer is ${parameters.payer}`,
    };
  }
  if (!isAddressEqual(deposit.to, parameters.clearingHouse)) {
    return {
      reason: "clearing_deposit_recipient_mismatch",
      message: `the deposit is to ${deposit.to}, not the ClearingHouse ${parameters.clearingHouse}`,
    };
  }
  const commitment = computeDepositNonce({
    operator: parameters.operator,
    voucherSigner: deposit.voucherSigner,
    salt: deposit.salt,
  });
  if (commitment.toLowerCase() !== deposit.nonce.toLowerCase()) {
    return {
      reason: "clearing_deposit_nonce_mismatch",
      message: "nonce is not depositNonce(operator, voucherSigner, salt) for this operator",
    };
  }
  if (deposit.value === 0n || deposit.value > UINT128_MAX) {
    return { reason: "clearing_deposit_invalid_value", message: "value must be in (0, 2^128)" };
  }
  const now = BigInt(parameters.now);
  if (deposit.validBefore > UINT48_MAX || deposit.validAfter > UINT48_MAX) {
    return { reason: "clearing_deposit_invalid_value", message: "times must fit uint48" };
  }
  if (deposit.validBefore < now + BigInt(parameters.marginSeconds)) {
    return {
      reason: "clearing_deposit_expired",
      message: `validBefore ${deposit.validBefore} is earlier than now ${now} + ${parameters.marginSeconds} s`,
    };
  }
  if (deposit.validAfter >= now) {
    return {
      reason: "clearing_deposit_not_yet_valid",
      message: `validAfter ${deposit.validAfter} is not before now ${now}`,
    };
  }
  let signer: Address;
  try {
    const bytes = size(deposit.signature);
    if (bytes !== 65 && bytes !== 64) throw new Error(`${bytes}-byte signature`);
    const signature = parseSignature(deposit.signature);
    if (BigInt(signature.s) > HALF_N) throw new Error("high s");
    signer = await recoverTypedDataAddress({
      domain: {
        name: domain.name,
        version: domain.version,
        chainId: domain.chainId,
        verifyingContract: domain.verifyingContract,
      },
      types: receiveWithAuthorizationTypes,
      primaryType: "ReceiveWithAuthorization",
      message: {
        from: deposit.from,
        to: deposit.to,
        value: deposit.value,
        validAfter: deposit.validAfter,
        validBefore: deposit.validBefore,
        nonce: deposit.nonce,
      },
      signature: deposit.signature,
    });
  } catch (error) {
    return {
      reason: "clearing_deposit_invalid_signature",
      message: `signature not recovered: ${(error as Error).message.split("\n")[0]}`,
    };
  }
  if (!isAddressEqual(signer, deposit.from)) {
    return {
      reason: "clearing_deposit_invalid_signature",
      message: `signed by ${signer}, not by ${deposit.from}`,
    };
  }
  return undefined;
}

/**
 * The chain checks of a deposit before it is queued: its EIP-3009 nonce is unused and the payer
 * holds `value` (one batched read). Throws when the chain cannot be read.
 */
export async function checkDepositOnChain(
  client: PublicClient,
  token: Address,
  deposit: SignedDepositAuthorization,
): Promise<{ reason: DepositCheckReason; message: string } | undefined> {
  const [used, balance] = await Promise.all([
    client.readContract({
      address: token,
      abi: eip3009Abi,
      functionName: "authorizationState",
      args: [deposit.from, deposit.nonce],
    }),
    client.readContract({
      address: token,
      abi: eip3009Abi,
      functionName: "balanceOf",
      args: [deposit.from],
    }),
  ]);
  if (used) {
    return { reason: "clearing_deposit_nonce_used", message: "the authorization is used" };
  }
  if (balance < deposit.value) {
    return {
      reason: "clearing_deposit_insufficient_funds",
      message: `balance ${balance} is below the deposit ${deposit.value}`,
    };
  }
  return undefined;
}

/**
 * The offline checks of a Permit2 deposit: it is from the voucher's payer, its spender is the
 * ClearingHouse, its token is the requirements' asset, its witness names this operator, its
 * amount is in (0, 2^128), its deadline fits uint48 and is at least `marginSeconds` away, and it
 * is signed by the payer under Permit2's domain on this chain (the toolkit's
 * `verifyPermit2Deposit`, no RPC call). Returns undefined when it passes.
 */
export function checkPermit2DepositOffline(parameters: {
  deposit: SignedPermit2Deposit;
  payer: Address;
  clearingHouse: Address;
  operator: Address;
  token: Address;
  chainId: number;
  now: number;
  marginSeconds: number;
}): { reason: DepositCheckReason; message: string } | undefined {
  const { deposit } = parameters;
  if (!isAddressEqual(deposit.payer, parameters.payer)) {
    return {
      reason: "clearing_deposit_payer_mismatch",
      message: `the deposit is from ${deposit.payer}, the voucher's payer is ${parameters.payer}`,
    };
  }
  if (!isAddressEqual(deposit.clearingHouse, parameters.clearingHouse)) {
    return {
      reason: "clearing_deposit_spender_mismatch",
      message: `the permit's spender is ${deposit.clearingHouse}, not the ClearingHouse ${parameters.clearingHouse}`,
    };
  }
  if (!isAddressEqual(deposit.token, parameters.token)) {
    return {
      reason: "clearing_deposit_token_mismatch",
      message: `the permit moves ${deposit.token}, not the asset ${parameters.token}`,
    };
  }
  if (!isAddressEqual(deposit.operator, parameters.operator)) {
    return {
      reason: "clearing_deposit_operator_mismatch",
      message: `the witness credits operator ${deposit.operator}, not ${parameters.operator}`,
    };
  }
  if (deposit.amount === 0n || deposit.amount > UINT128_MAX) {
    return { reason: "clearing_deposit_invalid_value", message: "amount must be in (0, 2^128)" };
  }
  if (deposit.deadline > UINT48_MAX) {
    return { reason: "clearing_deposit_invalid_value", message: "deadline must fit uint48" };
  }
  const now = BigInt(parameters.now);
  if (deposit.deadline < now + BigInt(parameters.marginSeconds)) {
    return {
      reason: "clearing_deposit_expired",
      message: `deadline ${deposit.deadline} is earlier than now ${now} + ${parameters.marginSeconds} s`,
    };
  }
  const verified = verifyPermit2Deposit({ chainId: parameters.chainId, deposit });
  if (!verified.valid) {
    return {
      reason: "clearing_deposit_invalid_signature",
      message: verified.signer
        ? `signed by ${verified.signer}, not by ${deposit.payer} (for this spender, witness and chain)`
        : `signature not recovered: ${verified.reason}`,
    };
  }
  return undefined;
}

/**
 * The chain checks of a Permit2 deposit before it is queued, in one round of reads (the client
 * batches them): its Permit2 nonce is unused, the payer holds `amount`, and the payer's allowance
 * to Permit2 covers it. Throws when the chain cannot be read.
 */
export async function checkPermit2DepositOnChain(
  client: PublicClient,
  deposit: SignedPermit2Deposit,
): Promise<{ reason: DepositCheckReason; message: string } | undefined> {
  const [used, balance, allowance] = await Promise.all([
    isPermit2NonceUsed(client, { owner: deposit.payer, nonce: deposit.nonce }),
    client.readContract({
      address: deposit.token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [deposit.payer],
    }),
    permit2Allowance(client, { token: deposit.token, owner: deposit.payer }),
  ]);
  if (used) {
    return { reason: "clearing_deposit_nonce_used", message: "the Permit2 nonce is used" };
  }
  if (balance < deposit.amount) {
    return {
      reason: "clearing_deposit_insufficient_funds",
      message: `balance ${balance} is below the deposit ${deposit.amount}`,
    };
  }
  if (allowance < deposit.amount) {
    return {
      reason: "clearing_deposit_permit2_allowance_required",
      message: `the payer allows Permit2 ${allowance} of the token, below the deposit ${deposit.amount}: the payer approves Permit2 once (approvePermit2)`,
    };
  }
  return undefined;
}

/** The per-item statuses of a deposit transaction's receipt (its one `DepositsProcessed`). */
export function decodeDepositResults(
  clearingHouse: Address,
  receipt: TransactionReceipt,
): number[] | undefined {
  const events = parseEventLogs({
    abi: clearingHouseAbi,
    eventName: "DepositsProcessed",
    logs: receipt.logs,
  }).filter((log) => isAddressEqual(log.address, clearingHouse));
  if (events.length !== 1) return undefined;
  return [...hexToBytes(events[0]!.args.results)];
}

/** What sends the deposit transactions: the relayer's sender (`RelayerSender.sendCall`). */
export interface DepositSender {
  sendCall(
    call: { to: Address; data: Hex; gas: bigint },
    onSigned?: (txHash: Hex) => void,
  ): Promise<Hex>;
}

/** Options of a {@link DepositBatcher}. */
export interface DepositBatcherOptions {
  client: PublicClient;
  clearingHouse: Address;
  /** The sending account (simulations run from it). */
  from: Address;
  sender: DepositSender;
  store: ClearingStore;
  /** Most deposits per transaction (default 100). */
  maxBatchSize?: number;
  /** How long the first deposit of a batch waits for others (default 100 ms). */
  waitMs?: number;
  pollingIntervalMs?: number;
  /** Unix seconds. */
  now: () => number;
  log: (line: string) => void;
  /** Called for each deposit found credited, before its waiters are woken (the ledger re-reads the account). */
  onCredited: (deposit: StoredDeposit) => Promise<void>;
}

/** Polls without a receipt or a node that knows the transaction before it counts as dropped. */
const DROPPED_AFTER_POLLS = 20;
/** Failed attempts to simulate or send before a deposit is given up. */
const MAX_ATTEMPTS = 5;

/**
 * The deposit part of the `clearing` facilitator: deposits taken from payloads are persisted
 * (`received`), gathered per token and sent in one `ClearingHouse.depositWithAuthorizations`
 * transaction at a time per token (so at most one per block for any number of deposits). Before
 * signing, the batch is simulated and every item the ClearingHouse would refuse is dropped with
 * its reason (no gas is spent on it); the transaction's hash is recorded (`submitted`) before it
 * is broadcast; its receipt's `DepositsProcessed` decides each item (`mined` or `failed`). A
 * deposit whose EIP-3009 nonce is found used has been credited (only the ClearingHouse can use
 * it, and it credits the account the nonce names), whoever sent it.
 *
 * @example
 * const batcher = new DepositBatcher({ client, clearingHouse, from, sender, store, now, log, onCredited });
 * const deposit = await batcher.submit(token, signedDeposit, 60_000);
 */
export class DepositBatcher {
  readonly #options: DepositBatcherOptions;
  readonly #maxBatchSize: number;
  readonly #waitMs: number;
  readonly #pollingIntervalMs: number;
  /** Per token and kind (`queueKey`): EIP-3009 and Permit2 deposits go in separate calls. */
  readonly #queues = new Map<string, StoredDeposit[]>();
  readonly #queued = new Set<string>();
  readonly #busy = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #waiters = new Map<string, Set<() => void>>();
  readonly #attempts = new Map<string, number>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: DepositBatcherOptions) {
    this.#options = options;
    this.#maxBatchSize = Math.max(1, Math.min(options.maxBatchSize ?? 100, 300));
    this.#waitMs = Math.max(0, options.waitMs ?? 100);
    this.#pollingIntervalMs = Math.max(10, options.pollingIntervalMs ?? 250);
  }

  /** Deposits queued or in a transaction not yet mined. */
  get pending(): number {
    return this.#queued.size;
  }

  /**
   * Persists and queues a deposit (once: the same authorization again joins the first) and waits
   * for its outcome at most `timeoutMs`; returns its stored state then.
   */
  async submit(
    token: Address,
    deposit: SignedDepositAuthorization | SignedPermit2Deposit,
    timeoutMs: number,
  ): Promise<StoredDeposit> {
    const { deposit: stored, created } = this.#options.store.insertDeposit(token, deposit);
    if (created) this.#enqueue(stored);
    return this.wait(stored.id, timeoutMs);
  }

  /** Waits for a stored deposit to be mined or failed, at most `timeoutMs`; returns its state then. */
  async wait(id: string, timeoutMs: number): Promise<StoredDeposit> {
    const current = this.#options.store.getDeposit(id);
    if (!current) throw new Error(`deposit ${id} is not stored`);
    if (current.state === "mined" || current.state === "failed" || this.#closed) return current;
    await new Promise<void>((resolve) => {
      const waiters = this.#waiters.get(id) ?? new Set();
      this.#waiters.set(id, waiters);
      const done = () => {
        clearTimeout(timer);
        waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      waiters.add(done);
    });
    return this.#options.store.getDeposit(id) ?? current;
  }

  /**
   * Follows what a previous run left open: a deposit whose nonce is used is credited; one in a
   * transaction the node still knows is followed; every other one is queued again.
   */
  async recover(): Promise<void> {
    const open = this.#options.store.openDeposits();
    const byTx = new Map<Hex, StoredDeposit[]>();
    for (const deposit of open) {
      const used = await this.#nonceUsed(deposit);
      if (used) {
        await this.#credited([deposit]);
        continue;
      }
      if (deposit.state === "submitted" && deposit.txHash) {
        const known = await this.#options.client
          .getTransaction({ hash: deposit.txHash })
          .then(() => true)
          .catch(() => false);
        if (known) {
          byTx.set(deposit.txHash, [...(byTx.get(deposit.txHash) ?? []), deposit]);
          continue;
        }
      }
      this.#enqueue(deposit);
    }
    for (const [txHash, deposits] of byTx) {
      const key = queueKey(deposits[0]!);
      for (const deposit of deposits) this.#queued.add(deposit.id);
      this.#busy.add(key);
      this.#track(
        this.#follow(txHash, deposits).finally(() => {
          this.#busy.delete(key);
          this.#schedule(key);
        }),
      );
    }
    if (open.length > 0) this.#options.log(`clearing: recovering ${open.length} open deposit(s)`);
  }

  /** Stops sending; waits for transactions in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    for (const waiters of this.#waiters.values()) for (const wake of [...waiters]) wake();
  }

  #enqueue(deposit: StoredDeposit): void {
    if (this.#closed || this.#queued.has(deposit.id)) return;
    this.#queued.add(deposit.id);
    const key = queueKey(deposit);
    const queue = this.#queues.get(key) ?? [];
    queue.push(deposit);
    this.#queues.set(key, queue);
    this.#schedule(key);
  }

  #schedule(key: string): void {
    if (this.#closed || this.#busy.has(key) || this.#timers.has(key)) return;
    if ((this.#queues.get(key)?.length ?? 0) === 0) return;
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.#busy.add(key);
        this.#track(
          this.#dispatch(key).finally(() => {
            this.#busy.delete(key);
            this.#schedule(key);
          }),
        );
      }, this.#waitMs),
    );
  }

  #track(promise: Promise<void>): void {
    const tracked = promise
      .catch((error: unknown) => this.#options.log(`clearing: deposit task failed: ${line(error)}`))
      .finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
  }

  async #dispatch(key: string): Promise<void> {
    const { client, clearingHouse, from, store } = this.#options;
    const queue = this.#queues.get(key) ?? [];
    const taken = queue.splice(0, this.#maxBatchSize);
    const now = BigInt(this.#options.now());
    let items: StoredDeposit[] = [];
    for (const deposit of taken) {
      if (expiresAt(deposit) <= now + 2n) {
        this.#fail([deposit], "clearing_deposit_expired");
      } else items.push(deposit);
    }
    if (items.length === 0) return;
    const token = items[0]!.token;
    let statuses: readonly number[];
    try {
      const { result } = await client.simulateContract({
        address: clearingHouse,
        abi: clearingHouseAbi,
        ...depositCall(token, items),
        account: from,
      });
      statuses = [...hexToBytes(result)];
    } catch (error) {
      this.#options.log(`clearing: deposit batch not simulated: ${line(error)}`);
      this.#retry(items);
      return;
    }
    const dropped: { deposit: StoredDeposit; status: number }[] = [];
    items = items.filter((deposit, index) => {
      if (statuses[index] === 0) return true;
      dropped.push({ deposit, status: statuses[index] ?? 4 });
      return false;
    });
    for (const { deposit, status } of dropped) {
      // A used nonce: credited already (only the ClearingHouse can use it).
      if (status === 4 && (await this.#nonceUsed(deposit).catch(() => false))) {
        await this.#credited([deposit]);
      } else {
        this.#fail([deposit], DEPOSIT_STATUS_REASONS[status] ?? "clearing_deposit_failed");
      }
    }
    if (items.length === 0) return;
    const data = encodeFunctionData({ abi: clearingHouseAbi, ...depositCall(token, items) });
    let txHash: Hex;
    try {
      const estimate = await client.estimateGas({ account: from, to: clearingHouse, data });
      let gas = (estimate * 125n) / 100n;
      if (gas > TRANSACTION_GAS_CAP) gas = TRANSACTION_GAS_CAP;
      const ids = items.map((item) => item.id);
      txHash = await this.#options.sender.sendCall({ to: clearingHouse, data, gas }, (hash) =>
        store.setDeposits(ids, "submitted", { txHash: hash }),
      );
    } catch (error) {
      this.#options.log(`clearing: deposit batch not sent: ${line(error)}`);
      store.setDeposits(
        items.map((item) => item.id),
        "received",
      );
      this.#retry(items);
      return;
    }
    this.#options.log(`clearing: ${items.length} deposit(s) in ${txHash}`);
    await this.#follow(txHash, items);
  }

  /** Follows a deposit transaction to its receipt; a dropped one has its deposits queued again. */
  async #follow(txHash: Hex, items: StoredDeposit[]): Promise<void> {
    const { client, clearingHouse } = this.#options;
    let misses = 0;
    for (;;) {
      const receipt = await client.getTransactionReceipt({ hash: txHash }).catch(() => undefined);
      if (receipt) {
        const statuses =
          receipt.status === "success" ? decodeDepositResults(clearingHouse, receipt) : undefined;
        const credited: StoredDeposit[] = [];
        for (const [index, deposit] of items.entries()) {
          const status = statuses?.[index];
          if (status === 0) credited.push(deposit);
          else if (status !== undefined && status !== 4) {
            this.#fail([deposit], DEPOSIT_STATUS_REASONS[status] ?? "clearing_deposit_failed");
          } else if (await this.#nonceUsed(deposit).catch(() => false)) credited.push(deposit);
          else if (status === 4) this.#fail([deposit], "clearing_deposit_authorization_failed");
          else this.#retry([deposit]);
        }
        await this.#credited(credited);
        this.#options.log(
          `clearing: deposit transaction ${txHash} mined (${credited.length}/${items.length} credited)`,
        );
        return;
      }
      const known = await client
        .getTransaction({ hash: txHash })
        .then(() => true)
        .catch(() => false);
      if (!known && ++misses >= DROPPED_AFTER_POLLS) {
        this.#options.log(`clearing: deposit transaction ${txHash} dropped; queued again`);
        this.#options.store.setDeposits(
          items.map((item) => item.id),
          "received",
        );
        for (const item of items) this.#queued.delete(item.id);
        for (const item of items) this.#enqueue(item);
        return;
      }
      if (this.#closed && !known) return;
      await sleep(this.#pollingIntervalMs);
    }
  }

  #retry(items: readonly StoredDeposit[]): void {
    for (const item of items) {
      const attempts = (this.#attempts.get(item.id) ?? 0) + 1;
      this.#attempts.set(item.id, attempts);
      this.#queued.delete(item.id);
      if (attempts >= MAX_ATTEMPTS) this.#fail([item], "clearing_deposit_failed");
      else setTimeout(() => this.#enqueue(item), this.#pollingIntervalMs * attempts).unref?.();
    }
  }

  /**
   * Whether the deposit's nonce is spent: the EIP-3009 authorization's (only the ClearingHouse
   * can use it, and it credits the account the nonce names), or the payer's Permit2 nonce (spent
   * by this permit, which only the ClearingHouse can pull, or by another of the payer's). Either
   * way the deposit cannot run again; the account is then re-read from the chain, so the ledger
   * holds what the account holds.
   */
  async #nonceUsed(deposit: StoredDeposit): Promise<boolean> {
    const signed = deposit.deposit;
    if (signed.kind === "permit2-deposit") {
      return isPermit2NonceUsed(this.#options.client, {
        owner: signed.payer,
        nonce: signed.nonce,
      });
    }
    return this.#options.client.readContract({
      address: deposit.token,
      abi: eip3009Abi,
      functionName: "authorizationState",
      args: [signed.from, signed.nonce],
    });
  }

  async #credited(deposits: readonly StoredDeposit[]): Promise<void> {
    if (deposits.length === 0) return;
    for (const deposit of deposits) {
      try {
        await this.#options.onCredited(deposit);
      } catch (error) {
        this.#options.log(`clearing: account of deposit ${deposit.id} not re-read: ${line(error)}`);
      }
    }
    this.#options.store.setDeposits(
      deposits.map((deposit) => deposit.id),
      "mined",
    );
    this.#wake(deposits);
  }

  #fail(deposits: readonly StoredDeposit[], reason: string): void {
    this.#options.store.setDeposits(
      deposits.map((deposit) => deposit.id),
      "failed",
      { errorReason: reason },
    );
    this.#wake(deposits);
  }

  #wake(deposits: readonly StoredDeposit[]): void {
    for (const deposit of deposits) {
      this.#queued.delete(deposit.id);
      this.#attempts.delete(deposit.id);
      const waiters = this.#waiters.get(deposit.id);
      if (waiters) {
        this.#waiters.delete(deposit.id);
        for (const wake of [...waiters]) wake();
      }
    }
  }
}

/** The queue of a deposit: its token and kind (one call takes deposits of one kind). */
function queueKey(deposit: StoredDeposit): string {
  return `${deposit.token.toLowerCase()}:${deposit.deposit.kind}`;
}

/** The last second a deposit can run: EIP-3009's `validBefore` (exclusive), Permit2's deadline. */
function expiresAt(deposit: StoredDeposit): bigint {
  const signed = deposit.deposit;
  return signed.kind === "permit2-deposit" ? signed.deadline + 1n : signed.validBefore;
}

/** The ClearingHouse call of a batch of deposits of one token and kind. */
function depositCall(token: Address, items: readonly StoredDeposit[]) {
  const permit2: SignedPermit2Deposit[] = [];
  const eip3009: SignedDepositAuthorization[] = [];
  for (const item of items) {
    if (item.deposit.kind === "permit2-deposit") permit2.push(item.deposit);
    else eip3009.push(item.deposit);
  }
  if (permit2.length > 0 && eip3009.length > 0) {
    throw new Error("a deposit batch mixes EIP-3009 and Permit2 deposits");
  }
  return permit2.length > 0
    ? {
        functionName: "depositWithPermit2" as const,
        args: [token, encodePermit2Deposits({ token, deposits: permit2 })] as const,
      }
    : {
        functionName: "depositWithAuthorizations" as const,
        args: [token, encodeDeposits(eip3009)] as const,
      };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function line(error: unknown): string {
  const e = error as { shortMessage?: unknown; message?: unknown } | undefined;
  const text = typeof e?.shortMessage === "string" ? e.shortMessage : String(e?.message ?? error);
  return text.split("\n")[0]!.slice(0, 300);
}
