import { DatabaseSync, type StatementSync } from "node:sqlite";

import type { Address, Hex } from "viem";

import type { Permit2Approval } from "../permit2/approval.js";
import { FacilitatorStoreError } from "./errors.js";

/** Where a payment is in its life: queued → submitted (in a signed batch) → settled | failed. */
export type PaymentStatus = "queued" | "submitted" | "settled" | "failed";

/** One accepted payment as persisted before the facilitator acknowledges it. */
export interface StoredPayment {
  /** Idempotency key: `chainId:token:from:nonce`, lower case. */
  id: string;
  /** Hash of everything the settle request carried; a replay with other content is not this payment. */
  fingerprint: Hex;
  x402Version: 1 | 2;
  /** The requirements' network string, echoed in the settle response. */
  network: string;
  token: Address;
  payer: Address;
  /** Direct: the authorization's `to`. Routed: the payee its nonce commits to (`payTo`). */
  payee: Address;
  /**
   * Direct (`exact`: `transferWithAuthorization` to the payee), routed (through the router) or
   * permit2 (a routed payment through Permit2: the router's `settlePermit2`; `validBefore` is
   * Permit2's deadline and `nonce` its nonce as 32 bytes).
   */
  kind: "direct" | "routed" | "permit2";
  /** Everything the payer authorized; routed: `amount + fee`. */
  value: bigint;
  /** Routed: the fee paid to `feeRecipient` out of `value`; direct: 0. */
  fee: bigint;
  /** Routed: the fee recipient its nonce commits to; direct: null. */
  feeRecipient: Address | null;
  /** Routed: the salt of its nonce; direct: null. */
  salt: Hex | null;
  /** Permit2: the payer's EIP-2612 permit approving Permit2 that its item carries; else null. */
  permit: Permit2Approval | null;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
  signature: Hex;
  /** The payer had code when verified: the signature goes through ERC-1271. */
  contractSignature: boolean;
  /** A block at or before acceptance: where to start searching logs for the settling transaction. */
  fromBlock: bigint;
  status: PaymentStatus;
  batchId: number | null;
  /** Position of the payment's item in its batch's calldata. */
  batchIndex: number | null;
  txHash: Hex | null;
  errorReason: string | null;
  errorMessage: string | null;
  attempts: number;
  createdAt: number;
  /** A `/settle` caller was answered success for this payment (at most one ever is). */
  answered: boolean;
  /** The `payment-identifier` of the request answered success: its retries get the same answer. */
  answerId: string | null;
}

/**
 * What a newly accepted payment is stored with; the rest is set as it moves along. `kind`, `fee`,
 * `feeRecipient` and `salt` default to a direct payment's.
 */
export type NewPayment = Omit<
  StoredPayment,
  | "kind"
  | "fee"
  | "feeRecipient"
  | "salt"
  | "permit"
  | "status"
  | "batchId"
  | "batchIndex"
  | "txHash"
  | "errorReason"
  | "errorMessage"
  | "attempts"
  | "createdAt"
  | "answered"
  | "answerId"
> &
  Partial<Pick<StoredPayment, "kind" | "fee" | "feeRecipient" | "salt" | "permit">>;

/** A batch transaction, recorded (write-ahead) after signing and before broadcasting. */
export interface StoredBatch {
  id: number;
  txHash: Hex;
  rawTx: Hex;
  relayerNonce: number;
  status: "signed" | "mined" | "abandoned";
  createdAt: number;
}

type Row = Record<string, unknown>;

function permitOf(text: string | null | undefined): Permit2Approval | null {
  if (!text) return null;
  const permit = JSON.parse(text) as Record<keyof Permit2Approval, string>;
  return {
    owner: permit.owner as Address,
    value: BigInt(permit.value),
    nonce: BigInt(permit.nonce),
    deadline: BigInt(permit.deadline),
    signature: permit.signature as Hex,
  };
}

function permitText(permit: Permit2Approval | null | undefined): string | null {
  if (!permit) return null;
  return JSON.stringify({
    owner: permit.owner,
    value: permit.value.toString(),
    nonce: permit.nonce.toString(),
    deadline: permit.deadline.toString(),
    signature: permit.signature,
  });
}

function toPayment(row: Row): StoredPayment {
  return {
    id: row.id as string,
    fingerprint: row.fingerprint as Hex,
    x402Version: Number(row.x402_version) as 1 | 2,
    network: row.network as string,
    token: row.token as Address,
    payer: row.payer as Address,
    payee: row.payee as Address,
    kind: row.kind === "routed" || row.kind === "permit2" ? row.kind : "direct",
    value: BigInt(row.value as string),
    fee: BigInt((row.fee as string | null) ?? "0"),
    feeRecipient: (row.fee_recipient as Address | null) ?? null,
    salt: (row.salt as Hex | null) ?? null,
    permit: permitOf(row.permit as string | null | undefined),
    validAfter: BigInt(row.valid_after as string),
    validBefore: BigInt(row.valid_before as string),
    nonce: row.nonce as Hex,
    signature: row.signature as Hex,
    contractSignature: Number(row.contract_signature) === 1,
    fromBlock: BigInt(row.from_block as string),
    status: row.status as PaymentStatus,
    batchId: row.batch_id === null ? null : Number(row.batch_id),
    batchIndex: row.batch_index === null ? null : Number(row.batch_index),
    txHash: (row.tx_hash as Hex | null) ?? null,
    errorReason: (row.error_reason as string | null) ?? null,
    errorMessage: (row.error_message as string | null) ?? null,
    attempts: Number(row.attempts),
    createdAt: Number(row.created_at),
    answered: Number(row.answered) === 1,
    answerId: (row.answer_id as string | null) ?? null,
  };
}

function toBatch(row: Row): StoredBatch {
  return {
    id: Number(row.id),
    txHash: row.tx_hash as Hex,
    rawTx: row.raw_tx as Hex,
    relayerNonce: Number(row.relayer_nonce),
    status: row.status as StoredBatch["status"],
    createdAt: Number(row.created_at),
  };
}

/** What a payment ended as. */
export type PaymentOutcome =
  | { status: "settled"; txHash: Hex }
  | { status: "failed"; errorReason: string; errorMessage?: string; txHash?: Hex };

/** One signed transaction of a batch: the first, or a replacement with higher fees (same nonce). */
export interface BatchTransaction {
  txHash: Hex;
  rawTx: Hex;
}

/** What {@link FacilitatorStore.claimSuccess} decided for one `/settle` caller. */
export type SuccessClaim =
  /** This caller is the first to be answered success. */
  | "claimed"
  /** A retry of the request already answered success (same `payment-identifier`). */
  | "repeat"
  /** Another caller was answered success: this one is refused. */
  | "refused";

/**
 * The facilitator's durable state in SQLite (`node:sqlite`, WAL, `synchronous=FULL`): every accepted
 * payment and every batch transaction. A payment row is written before the facilitator answers
 * for it and a batch row (with the signed raw transaction) before the transaction is broadcast, so
 * a crash at any point leaves enough to reconcile against the chain.
 *
 * @example
 * const store = new FacilitatorStore("facilitator.sqlite");
 * const { payment, created } = store.insertPayment(record);
 */
export class FacilitatorStore {
  readonly #db: DatabaseSync;
  readonly #statements: Record<string, StatementSync>;
  #closed = false;
  #inTransaction = false;

  constructor(path: string) {
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS payments (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        x402_version INTEGER NOT NULL,
        network TEXT NOT NULL,
        token TEXT NOT NULL,
        payer TEXT NOT NULL,
        payee TEXT NOT NULL,
        value TEXT NOT NULL,
        valid_after TEXT NOT NULL,
        valid_before TEXT NOT NULL,
        nonce TEXT NOT NULL,
        signature TEXT NOT NULL,
        contract_signature INTEGER NOT NULL,
        from_block TEXT NOT NULL,
        status TEXT NOT NULL,
        batch_id INTEGER,
        batch_index INTEGER,
        tx_hash TEXT,
        error_reason TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS payments_open ON payments (status) WHERE status IN ('queued', 'submitted');
      CREATE TABLE IF NOT EXISTS batches (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        tx_hash TEXT NOT NULL,
        raw_tx TEXT NOT NULL,
        relayer_nonce INTEGER NOT NULL,
        status TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS batch_transactions (
        batch_id INTEGER NOT NULL,
        tx_hash TEXT NOT NULL,
        raw_tx TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS batch_transactions_batch ON batch_transactions (batch_id);
    `);
    // Stores written before success answers were recorded gain the columns.
    const columns = new Set(
      (this.#db.prepare("PRAGMA table_info(payments)").all() as Row[]).map((c) => c.name),
    );
    if (!columns.has("answered")) {
      this.#db.exec("ALTER TABLE payments ADD COLUMN answered INTEGER NOT NULL DEFAULT 0");
    }
    if (!columns.has("answer_id")) this.#db.exec("ALTER TABLE payments ADD COLUMN answer_id TEXT");
    // Stores written before routed payments gain their columns (existing rows are direct).
    if (!columns.has("kind")) {
      this.#db.exec("ALTER TABLE payments ADD COLUMN kind TEXT NOT NULL DEFAULT 'direct'");
    }
    if (!columns.has("fee"))
      this.#db.exec("ALTER TABLE payments ADD COLUMN fee TEXT NOT NULL DEFAULT '0'");
    if (!columns.has("fee_recipient")) {
      this.#db.exec("ALTER TABLE payments ADD COLUMN fee_recipient TEXT");
    }
    if (!columns.has("salt")) this.#db.exec("ALTER TABLE payments ADD COLUMN salt TEXT");
    if (!columns.has("permit")) this.#db.exec("ALTER TABLE payments ADD COLUMN permit TEXT");
    const prepare = (sql: string) => this.#db.prepare(sql);
    this.#statements = {
      insert:
        prepare(`INSERT OR IGNORE INTO payments (id, fingerprint, x402_version, network, token,
        payer, payee, value, valid_after, valid_before, nonce, signature, contract_signature,
        from_block, kind, fee, fee_recipient, salt, permit, status, attempts, created_at,
        updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?)`),
      get: prepare(`SELECT * FROM payments WHERE id = ?`),
      open: prepare(
        `SELECT * FROM payments WHERE status IN ('queued', 'submitted') ORDER BY created_at, id`,
      ),
      byBatch: prepare(`SELECT * FROM payments WHERE batch_id = ? ORDER BY batch_index`),
      insertBatch: prepare(`INSERT INTO batches (tx_hash, raw_tx, relayer_nonce, status, created_at)
        VALUES (?, ?, ?, 'signed', ?)`),
      assign: prepare(`UPDATE payments SET status = 'submitted', batch_id = ?, batch_index = ?,
        attempts = attempts + 1, updated_at = ? WHERE id = ? AND status = 'queued'`),
      resolve: prepare(`UPDATE payments SET status = ?, tx_hash = ?, error_reason = ?,
        error_message = ?, updated_at = ? WHERE id = ? AND status IN ('queued', 'submitted')`),
      requeue: prepare(`UPDATE payments SET status = 'queued', batch_id = NULL, updated_at = ?
        WHERE id = ? AND status = 'submitted'`),
      closeBatch: prepare(`UPDATE batches SET status = ? WHERE id = ? AND status = 'signed'`),
      requeueBatch: prepare(`UPDATE payments SET status = 'queued', batch_id = NULL, updated_at = ?
        WHERE batch_id = ? AND status = 'submitted'`),
      claim: prepare(`UPDATE payments SET answered = 1, answer_id = ?, updated_at = ?
        WHERE id = ? AND status = 'settled' AND answered = 0`),
      insertBatchTx: prepare(`INSERT INTO batch_transactions (batch_id, tx_hash, raw_tx, created_at)
        VALUES (?, ?, ?, ?)`),
      replaceBatchTx: prepare(`UPDATE batches SET tx_hash = ?, raw_tx = ? WHERE id = ?`),
      batchTxs: prepare(
        `SELECT tx_hash, raw_tx FROM batch_transactions WHERE batch_id = ? ORDER BY rowid`,
      ),
      getBatch: prepare(`SELECT * FROM batches WHERE id = ?`),
      openBatches: prepare(
        `SELECT * FROM batches WHERE status = 'signed' ORDER BY relayer_nonce, id`,
      ),
      counts: prepare(`SELECT status, COUNT(*) AS n FROM payments GROUP BY status`),
    };
  }

  /**
   * Persists newly accepted payments (status `queued`) in one SQLite transaction: one disk sync
   * for the whole group. For a payment whose key exists, nothing is written and the existing row
   * is returned with `created: false`.
   */
  insertPayments(payments: readonly NewPayment[]): { payment: StoredPayment; created: boolean }[] {
    return this.#transaction(() => payments.map((payment) => this.insertPayment(payment)));
  }

  /**
   * Persists a newly accepted payment (status `queued`). When a payment with the same key exists,
   * nothing is written and the existing row is returned with `created: false`.
   */
  insertPayment(payment: NewPayment): { payment: StoredPayment; created: boolean } {
    const now = Date.now();
    const result = this.#statements.insert.run(
      payment.id,
      payment.fingerprint,
      payment.x402Version,
      payment.network,
      payment.token,
      payment.payer,
      payment.payee,
      payment.value.toString(),
      payment.validAfter.toString(),
      payment.validBefore.toString(),
      payment.nonce,
      payment.signature,
      payment.contractSignature ? 1 : 0,
      payment.fromBlock.toString(),
      payment.kind ?? "direct",
      (payment.fee ?? 0n).toString(),
      payment.feeRecipient ?? null,
      payment.salt ?? null,
      permitText(payment.permit),
      now,
      now,
    );
    const stored = this.getPayment(payment.id);
    if (!stored) {
      throw new FacilitatorStoreError("The payment is not stored after its insert.", {
        details: payment.id,
      });
    }
    return { payment: stored, created: Number(result.changes) === 1 };
  }

  getPayment(id: string): StoredPayment | undefined {
    const row = this.#statements.get.get(id) as Row | undefined;
    return row ? toPayment(row) : undefined;
  }

  /** Payments not yet settled or failed, oldest first. */
  openPayments(): StoredPayment[] {
    return (this.#statements.open.all() as Row[]).map(toPayment);
  }

  /** The payments of a batch, in the order of its items. */
  paymentsOfBatch(batchId: number): StoredPayment[] {
    return (this.#statements.byBatch.all(batchId) as Row[]).map(toPayment);
  }

  /**
   * Write-ahead record of a signed batch transaction and the payments it carries (in calldata
   * order), in one SQLite transaction, before the transaction is broadcast.
   */
  recordBatch(batch: { txHash: Hex; rawTx: Hex; relayerNonce: number }, ids: string[]): number {
    const now = Date.now();
    return this.#transaction(() => {
      const result = this.#statements.insertBatch.run(
        batch.txHash,
        batch.rawTx,
        batch.relayerNonce,
        now,
      );
      const batchId = Number(result.lastInsertRowid);
      this.#statements.insertBatchTx.run(batchId, batch.txHash, batch.rawTx, now);
      ids.forEach((id, index) => this.#statements.assign.run(batchId, index, now, id));
      return batchId;
    });
  }

  /** Runs `work` in one SQLite transaction (nested calls join the outer one). */
  #transaction<T>(work: () => T): T {
    if (this.#inTransaction) return work();
    this.#db.exec("BEGIN IMMEDIATE");
    this.#inTransaction = true;
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    } finally {
      this.#inTransaction = false;
    }
  }

  /** Final outcomes of several payments, in one SQLite transaction. */
  resolvePayments(outcomes: readonly { id: string; outcome: PaymentOutcome }[]): void {
    this.#transaction(() => {
      for (const { id, outcome } of outcomes) this.resolvePayment(id, outcome);
    });
  }

  /** Final outcome of a payment; a payment already resolved is never changed. */
  resolvePayment(id: string, outcome: PaymentOutcome): void {
    this.#statements.resolve.run(
      outcome.status,
      outcome.txHash ?? null,
      outcome.status === "failed" ? outcome.errorReason : null,
      outcome.status === "failed" ? (outcome.errorMessage?.slice(0, 500) ?? null) : null,
      Date.now(),
      id,
    );
  }

  /** Puts submitted payments back in the queue (their batch did not settle them). */
  requeuePayment(id: string): void {
    this.#statements.requeue.run(Date.now(), id);
  }

  closeBatch(batchId: number, status: "mined" | "abandoned"): void {
    this.#statements.closeBatch.run(status, batchId);
  }

  /**
   * Closes a batch that will never be mined as `abandoned` and puts its still-submitted payments
   * back in the queue, in one SQLite transaction: a crash leaves either both or neither.
   */
  abandonBatch(batchId: number): void {
    this.#transaction(() => {
      this.#statements.closeBatch.run("abandoned", batchId);
      this.#statements.requeueBatch.run(Date.now(), batchId);
    });
  }

  /**
   * Records the payments' outcomes of a mined batch and closes it as `mined`, in one SQLite
   * transaction. Payments left out stay submitted (their reconciliation decides them).
   */
  finishBatch(batchId: number, outcomes: readonly { id: string; outcome: PaymentOutcome }[]): void {
    this.#transaction(() => {
      for (const { id, outcome } of outcomes) this.resolvePayment(id, outcome);
      this.#statements.closeBatch.run("mined", batchId);
    });
  }

  /**
   * Write-ahead record of a replacement transaction of a batch (same nonce, higher fees), before
   * it is broadcast. The batch's receipt may then come from any of its transactions.
   */
  recordReplacement(batchId: number, transaction: BatchTransaction): void {
    this.#transaction(() => {
      this.#statements.insertBatchTx.run(
        batchId,
        transaction.txHash,
        transaction.rawTx,
        Date.now(),
      );
      this.#statements.replaceBatchTx.run(transaction.txHash, transaction.rawTx, batchId);
    });
  }

  /** Every transaction signed for a batch, oldest first. */
  batchTransactions(batchId: number): BatchTransaction[] {
    const rows = this.#statements.batchTxs.all(batchId) as Row[];
    if (rows.length === 0) {
      const batch = this.getBatch(batchId);
      return batch ? [{ txHash: batch.txHash, rawTx: batch.rawTx }] : [];
    }
    return rows.map((row) => ({ txHash: row.tx_hash as Hex, rawTx: row.raw_tx as Hex }));
  }

  /**
   * Records that a `/settle` caller is answered success for a settled payment, unless another was:
   * the first caller claims it (with its `payment-identifier`, if any); later callers with the
   * same identifier are retries of that request; everyone else is refused.
   */
  claimSuccess(id: string, identifier: string | undefined): SuccessClaim {
    return this.#transaction(() => {
      const claimed = this.#statements.claim.run(identifier ?? null, Date.now(), id);
      if (Number(claimed.changes) === 1) return "claimed";
      const payment = this.getPayment(id);
      if (payment?.answered && identifier !== undefined && payment.answerId === identifier) {
        return "repeat";
      }
      return "refused";
    });
  }

  getBatch(batchId: number): StoredBatch | undefined {
    const row = this.#statements.getBatch.get(batchId) as Row | undefined;
    return row ? toBatch(row) : undefined;
  }

  /** Batches signed but not yet known to be mined or abandoned, in relayer-nonce order. */
  openBatches(): StoredBatch[] {
    return (this.#statements.openBatches.all() as Row[]).map(toBatch);
  }

  /** Number of payments per status. */
  counts(): Record<PaymentStatus, number> {
    const counts: Record<PaymentStatus, number> = {
      queued: 0,
      submitted: 0,
      settled: 0,
      failed: 0,
    };
    for (const row of this.#statements.counts.all() as Row[]) {
      counts[row.status as PaymentStatus] = Number(row.n);
    }
    return counts;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#db.close();
  }
}
