import { DatabaseSync, type StatementSync } from "node:sqlite";
import { Worker } from "node:worker_threads";

import type { Address, Hex } from "viem";

import type { AcceptedVoucherRecord, LedgerStore } from "../../clearing/ledgerStore.js";
import type { SignedDepositAuthorization, SignedPermit2Deposit } from "../../clearing/types.js";
import { FacilitatorStoreError } from "../errors.js";
import { depositKey } from "./payload.js";

export { depositKey };

/** Where a deposit is in its life: received → submitted (in a signed transaction) → mined | failed. */
export type DepositState = "received" | "submitted" | "mined" | "failed";

/** A deposit the facilitator took from a `clearing` payload, as persisted. */
export interface StoredDeposit {
  /** {@link depositKey}: the EIP-3009 authorization's or the Permit2 permit's identity. */
  id: string;
  token: Address;
  /** An EIP-3009 authorization (`kind: "deposit"`) or a Permit2 one (`kind: "permit2-deposit"`). */
  deposit: SignedDepositAuthorization | SignedPermit2Deposit;
  state: DepositState;
  /** The deposit transaction (set when it is signed, before it is broadcast). */
  txHash: Hex | null;
  /** Why it failed (a `clearing_deposit_*` reason). */
  errorReason: string | null;
  createdAt: number;
}

type Row = Record<string, unknown>;

function toRecord(row: Row): AcceptedVoucherRecord {
  return {
    key: row.key as string,
    voucher: {
      payer: row.payer as Address,
      payee: row.payee as Address,
      token: row.token as Address,
      operator: row.operator as Address,
      cumulativeValue: BigInt(row.cumulative_value as string),
      cumulativeFee: BigInt(row.cumulative_fee as string),
      signature: row.signature as Hex,
      ...(Number(row.contract_signature) === 1 ? { contractSignature: true } : {}),
    },
    price: BigInt(row.price as string),
    signer: row.signer as Address,
    acceptedAt: Number(row.accepted_at),
  };
}

function toDeposit(row: Row): StoredDeposit {
  const common = {
    id: row.id as string,
    token: row.token as Address,
    state: row.state as DepositState,
    txHash: (row.tx_hash as Hex | null) ?? null,
    errorReason: (row.error_reason as string | null) ?? null,
    createdAt: Number(row.created_at),
  };
  if (row.kind === "permit2") {
    return {
      ...common,
      deposit: {
        kind: "permit2-deposit",
        payer: row.payer as Address,
        clearingHouse: row.clearing_house as Address,
        token: row.token as Address,
        operator: row.operator as Address,
        voucherSigner: row.voucher_signer as Address,
        amount: BigInt(row.value as string),
        nonce: BigInt(row.nonce as string),
        deadline: BigInt(row.valid_before as string),
        signature: row.signature as Hex,
      },
    };
  }
  return {
    ...common,
    deposit: {
      kind: "deposit",
      from: row.payer as Address,
      to: row.clearing_house as Address,
      value: BigInt(row.value as string),
      validAfter: BigInt(row.valid_after as string),
      validBefore: BigInt(row.valid_before as string),
      nonce: row.nonce as Hex,
      operator: row.operator as Address,
      voucherSigner: row.voucher_signer as Address,
      salt: row.salt as Hex,
      signature: row.signature as Hex,
    },
  };
}

/** Options of a {@link ClearingStore}. */
export interface ClearingStoreOptions {
  /**
   * How long accepted vouchers are gathered before one SQLite transaction (one disk sync) writes
   * them all (default 2 ms).
   */
  gatherMs?: number;
  /**
   * Where the group transactions run: `thread` (default for a database file) in a worker thread
   * with its own connection, so the disk sync does not block the facilitator's thread and the
   * vouchers accepted during one sync form the next group; `inline` in the calling thread (always
   * for `:memory:`).
   */
  writer?: "thread" | "inline";
}

/** The voucher insert, shared by the inline writer and the writer thread. */
const INSERT_VOUCHER = `INSERT INTO clearing_vouchers (key, token, payer, payee, operator,
  cumulative_value, cumulative_fee, signature, contract_signature, price, signer, accepted_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** A voucher record as the insert's parameters. */
type VoucherRow = [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  number,
  string,
  string,
  number,
];

function voucherRow(record: AcceptedVoucherRecord): VoucherRow {
  const { voucher } = record;
  return [
    record.key,
    voucher.token,
    voucher.payer,
    voucher.payee,
    voucher.operator,
    voucher.cumulativeValue.toString(),
    voucher.cumulativeFee.toString(),
    voucher.signature,
    voucher.contractSignature ? 1 : 0,
    record.price.toString(),
    record.signer,
    record.acceptedAt,
  ];
}

/** `state[0]` of the writer thread's shared word: what its last group came to. */
const GROUP_WRITING = 0;
const GROUP_WRITTEN = 1;
const GROUP_FAILED = 2;
/** Longest {@link ClearingStore.close} waits for the writer thread's group in flight, ms. */
const CLOSE_WAIT_MS = 30_000;

/**
 * The writer thread (plain JavaScript, evaluated: it needs no TypeScript loader): one connection,
 * one transaction per group it is sent, the outcome in the shared word (for a synchronous close)
 * and as a message.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
process.removeAllListeners("warning");
const { DatabaseSync } = require("node:sqlite");
const db = new DatabaseSync(workerData.path);
db.exec("PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;");
const insert = db.prepare(workerData.insert);
const state = new Int32Array(workerData.state);
parentPort.on("message", ({ id, rows, close }) => {
  if (close) {
    db.close();
    Atomics.store(state, 0, ${GROUP_WRITTEN});
    Atomics.notify(state, 0);
    return;
  }
  let error;
  try {
    db.exec("BEGIN IMMEDIATE");
    try {
      for (const row of rows) insert.run(...row);
      db.exec("COMMIT");
    } catch (failure) {
      db.exec("ROLLBACK");
      throw failure;
    }
  } catch (failure) {
    error = failure instanceof Error ? failure : new Error(String(failure));
  }
  Atomics.store(state, 0, error ? ${GROUP_FAILED} : ${GROUP_WRITTEN});
  Atomics.notify(state, 0);
  parentPort.postMessage(error ? { id, error: { message: error.message, code: error.code } } : { id });
});
`;

/** The writer thread, its shared word, and why it went down (undefined while it is up). */
interface WriterThread {
  worker: Worker;
  state: Int32Array;
  nextId: number;
  down: unknown;
}

/** A group handed to the writer thread, awaiting its outcome. */
interface GroupInFlight {
  id: number;
  size: number;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

/**
 * The `clearing` facilitator's durable state in SQLite (`node:sqlite`, WAL, `synchronous=FULL`):
 * the vouchers the operator ledger accepted (a {@link LedgerStore}) and the deposits taken from
 * payloads with their state.
 *
 * Vouchers are written by group commit: {@link append} (called by the ledger inside its accept)
 * queues the record, and every record queued within `gatherMs` is written by one transaction;
 * {@link commit} resolves once every record appended so far is on disk. For a database file the
 * transactions run in a writer thread (`writer`), one group at a time: while a group syncs, the
 * next one gathers. The facilitator answers a
 * voucher only after `commit`, so a crash loses nothing that was answered. A failed write stops
 * the store: that group's callers get the error, and every later `append` throws (the ledger then
 * rejects, nothing more is answered), since the ledger's memory already holds the lost records.
 * Transactions never span an `await`, so the store may share its file with a `FacilitatorStore`.
 *
 * @example
 * const store = new ClearingStore("facilitator.sqlite");
 * const ledger = new OperatorLedger({ ..., store });
 * const result = await ledger.accept({ voucher, price, payee });
 * if (result.accepted) await store.commit(); // durable: answer success now
 */
export class ClearingStore implements LedgerStore {
  readonly #db: DatabaseSync;
  readonly #statements: Record<string, StatementSync>;
  readonly #gatherMs: number;
  #queue: AcceptedVoucherRecord[] = [];
  #waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  #timer: NodeJS.Timeout | undefined;
  #failed: unknown;
  #closed = false;
  #writer: WriterThread | undefined;
  #inFlight: GroupInFlight | undefined;

  constructor(path: string, options: ClearingStoreOptions = {}) {
    this.#gatherMs = Math.max(0, options.gatherMs ?? 2);
    this.#db = new DatabaseSync(path);
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS clearing_vouchers (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        token TEXT NOT NULL,
        payer TEXT NOT NULL,
        payee TEXT NOT NULL,
        operator TEXT NOT NULL,
        cumulative_value TEXT NOT NULL,
        cumulative_fee TEXT NOT NULL,
        signature TEXT NOT NULL,
        contract_signature INTEGER NOT NULL,
        price TEXT NOT NULL,
        signer TEXT NOT NULL,
        accepted_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS clearing_deposits (
        id TEXT PRIMARY KEY,
        token TEXT NOT NULL,
        payer TEXT NOT NULL,
        clearing_house TEXT NOT NULL,
        value TEXT NOT NULL,
        valid_after TEXT NOT NULL,
        valid_before TEXT NOT NULL,
        nonce TEXT NOT NULL,
        operator TEXT NOT NULL,
        voucher_signer TEXT NOT NULL,
        salt TEXT NOT NULL,
        signature TEXT NOT NULL,
        state TEXT NOT NULL,
        tx_hash TEXT,
        error_reason TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        kind TEXT NOT NULL DEFAULT 'eip3009'
      );
      CREATE INDEX IF NOT EXISTS clearing_deposits_open ON clearing_deposits (state)
        WHERE state IN ('received', 'submitted');
    `);
    // A file from before Permit2 deposits: its deposits are all EIP-3009 ones.
    const columns = this.#db.prepare(`PRAGMA table_info(clearing_deposits)`).all() as Row[];
    if (!columns.some((column) => column.name === "kind")) {
      this.#db.exec(
        `ALTER TABLE clearing_deposits ADD COLUMN kind TEXT NOT NULL DEFAULT 'eip3009'`,
      );
    }
    const prepare = (sql: string) => this.#db.prepare(sql);
    this.#statements = {
      insertVoucher: prepare(INSERT_VOUCHER),
      vouchers: prepare(`SELECT * FROM clearing_vouchers ORDER BY seq`),
      insertDeposit: prepare(`INSERT OR IGNORE INTO clearing_deposits (id, token, payer,
        clearing_house, value, valid_after, valid_before, nonce, operator, voucher_signer, salt,
        signature, kind, state, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'received', ?, ?)`),
      getDeposit: prepare(`SELECT * FROM clearing_deposits WHERE id = ?`),
      openDeposits: prepare(
        `SELECT * FROM clearing_deposits WHERE state IN ('received', 'submitted') ORDER BY created_at, id`,
      ),
      setDeposit: prepare(`UPDATE clearing_deposits SET state = ?, tx_hash = COALESCE(?, tx_hash),
        error_reason = ?, updated_at = ? WHERE id = ?`),
      depositCounts: prepare(`SELECT state, COUNT(*) AS n FROM clearing_deposits GROUP BY state`),
      voucherCount: prepare(`SELECT COUNT(*) AS n FROM clearing_vouchers`),
    };
    if ((options.writer ?? "thread") === "thread" && path !== ":memory:" && path !== "") {
      const state = new Int32Array(new SharedArrayBuffer(4));
      const worker = new Worker(WRITER_SOURCE, {
        eval: true,
        workerData: { path, insert: INSERT_VOUCHER, state: state.buffer },
      });
      // Idle, the writer keeps no process alive; a group in flight does (see #flush).
      worker.unref();
      worker.on("message", (answer: { id: number; error?: { message: string; code?: string } }) =>
        this.#written(answer.id, answer.error),
      );
      // A writer thread that fails or exits stops the store: nothing more is answered as written.
      const down = (error: unknown) => {
        writer.down ??= error;
        if (this.#inFlight) this.#written(this.#inFlight.id, error);
      };
      worker.on("error", down);
      worker.on("exit", (code) => {
        if (!this.#closed) down(new Error(`the clearing store's writer thread exited (${code})`));
      });
      const writer: WriterThread = {
        worker,
        state,
        nextId: 1,
        down: undefined,
      };
      this.#writer = writer;
    }
  }

  /** Queues an accepted voucher for the next group write (see the class); throws once the store failed. */
  append(record: AcceptedVoucherRecord): void {
    if (this.#failed !== undefined) {
      throw new FacilitatorStoreError("The clearing store stopped after a failed write.", {
        cause: this.#failed,
      });
    }
    if (this.#closed) throw new FacilitatorStoreError("The clearing store is closed.");
    this.#queue.push(record);
    this.#timer ??= setTimeout(() => this.#flush(), this.#gatherMs);
  }

  /** Resolves once every voucher appended so far is written and synced; rejects if its group failed. */
  commit(): Promise<void> {
    if (this.#failed !== undefined) {
      return Promise.reject(
        new FacilitatorStoreError("The clearing store stopped after a failed write.", {
          cause: this.#failed,
        }),
      );
    }
    if (this.#queue.length === 0) {
      const group = this.#inFlight;
      if (!group) return Promise.resolve();
      return new Promise((resolve, reject) => group.waiters.push({ resolve, reject }));
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Every accepted voucher, in append order (the ledger's `load`). */
  load(): AcceptedVoucherRecord[] {
    return (this.#statements.vouchers!.all() as Row[]).map(toRecord);
  }

  /** Vouchers written so far. */
  voucherCount(): number {
    return Number((this.#statements.voucherCount!.get() as Row).n);
  }

  #flush(): void {
    this.#timer = undefined;
    // One group at a time in the writer thread: this one goes when the one in flight is written.
    if (this.#inFlight) return;
    const group = this.#queue;
    const waiters = this.#waiters;
    this.#queue = [];
    this.#waiters = [];
    if (group.length === 0) {
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    const writer = this.#writer;
    if (writer && !this.#closed) {
      if (writer.down !== undefined) {
        this.#fail(writer.down, group.length, waiters);
        return;
      }
      const id = writer.nextId++;
      this.#inFlight = { id, size: group.length, waiters };
      Atomics.store(writer.state, 0, GROUP_WRITING);
      writer.worker.ref();
      writer.worker.postMessage({ id, rows: group.map(voucherRow) });
      return;
    }
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      try {
        for (const record of group) this.#insertVoucher(record);
        this.#db.exec("COMMIT");
      } catch (error) {
        this.#db.exec("ROLLBACK");
        throw error;
      }
    } catch (error) {
      this.#fail(error, group.length, waiters);
      return;
    }
    for (const waiter of waiters) waiter.resolve();
  }

  /** The writer thread's outcome of group `id` (a message, or read from the shared word on close). */
  #written(id: number, error: unknown): void {
    const group = this.#inFlight;
    if (!group || group.id !== id) return;
    this.#inFlight = undefined;
    this.#writer?.worker.unref();
    if (error !== undefined) {
      const cause = error instanceof Error ? error : Object.assign(new Error(), error);
      // The store stops: the group's callers and those of every record queued behind it.
      this.#fail(cause, group.size, [...group.waiters, ...this.#waiters]);
      this.#waiters = [];
      this.#queue = [];
      return;
    }
    for (const waiter of group.waiters) waiter.resolve();
    if (this.#queue.length > 0 && !this.#timer && !this.#closed) this.#flush();
  }

  #fail(error: unknown, size: number, waiters: GroupInFlight["waiters"]): void {
    this.#failed = error;
    const failure = new FacilitatorStoreError("Accepted vouchers could not be written.", {
      cause: error,
      details: `${size} voucher(s)`,
    });
    for (const waiter of waiters) waiter.reject(failure);
  }

  #insertVoucher(record: AcceptedVoucherRecord): void {
    this.#statements.insertVoucher!.run(...voucherRow(record));
  }

  /**
   * Persists a deposit taken from a payload (state `received`). When one with the same key exists,
   * nothing is written and it is returned with `created: false`. A Permit2 deposit is kept in
   * the same columns: `value` its amount, `valid_before` its deadline, `nonce` Permit2's nonce in
   * decimal, no `salt`.
   */
  insertDeposit(
    token: Address,
    deposit: SignedDepositAuthorization | SignedPermit2Deposit,
  ): { deposit: StoredDeposit; created: boolean } {
    const id = depositKey(token, deposit);
    const now = Date.now();
    const permit2 = deposit.kind === "permit2-deposit";
    const result = this.#statements.insertDeposit!.run(
      id,
      token,
      permit2 ? deposit.payer : deposit.from,
      permit2 ? deposit.clearingHouse : deposit.to,
      (permit2 ? deposit.amount : deposit.value).toString(),
      permit2 ? "0" : deposit.validAfter.toString(),
      (permit2 ? deposit.deadline : deposit.validBefore).toString(),
      permit2 ? deposit.nonce.toString() : deposit.nonce,
      deposit.operator,
      deposit.voucherSigner,
      permit2 ? "" : deposit.salt,
      deposit.signature,
      permit2 ? "permit2" : "eip3009",
      now,
      now,
    );
    const stored = this.getDeposit(id);
    if (!stored) {
      throw new FacilitatorStoreError("The deposit is not stored after its insert.", {
        details: id,
      });
    }
    return { deposit: stored, created: Number(result.changes) === 1 };
  }

  getDeposit(id: string): StoredDeposit | undefined {
    const row = this.#statements.getDeposit!.get(id) as Row | undefined;
    return row ? toDeposit(row) : undefined;
  }

  /** Deposits received or submitted and not yet mined or failed, oldest first. */
  openDeposits(): StoredDeposit[] {
    return (this.#statements.openDeposits!.all() as Row[]).map(toDeposit);
  }

  /** Moves deposits to `state` in one transaction (a transaction hash is kept once set). */
  setDeposits(
    ids: readonly string[],
    state: DepositState,
    extra: { txHash?: Hex; errorReason?: string } = {},
  ): void {
    const now = Date.now();
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const id of ids) {
        this.#statements.setDeposit!.run(
          state,
          extra.txHash ?? null,
          extra.errorReason ?? null,
          now,
          id,
        );
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Number of deposits per state. */
  depositCounts(): Record<DepositState, number> {
    const counts: Record<DepositState, number> = { received: 0, submitted: 0, mined: 0, failed: 0 };
    for (const row of this.#statements.depositCounts!.all() as Row[]) {
      counts[row.state as DepositState] = Number(row.n);
    }
    return counts;
  }

  /**
   * Writes what is queued (after the writer thread's group in flight, waited for), then closes
   * the database.
   */
  close(): void {
    if (this.#closed) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const writer = this.#writer;
    this.#closed = true;
    if (writer) {
      const group = this.#inFlight;
      if (group) {
        Atomics.wait(writer.state, 0, GROUP_WRITING, CLOSE_WAIT_MS);
        const outcome = Atomics.load(writer.state, 0);
        this.#written(
          group.id,
          outcome === GROUP_WRITTEN
            ? undefined
            : new Error(
                outcome === GROUP_FAILED ? "the writer thread's group failed" : "timed out",
              ),
        );
      }
      // The writer closes its connection before this returns (no lock outlives the store).
      if (writer.down === undefined) {
        Atomics.store(writer.state, 0, GROUP_WRITING);
        writer.worker.postMessage({ close: true });
        Atomics.wait(writer.state, 0, GROUP_WRITING, CLOSE_WAIT_MS);
      }
      writer.worker.unref();
      void writer.worker.terminate();
    }
    // What is still queued is written here, in this thread (the store is closed to the writer).
    if (this.#failed === undefined) this.#flush();
    else for (const waiter of this.#waiters.splice(0)) waiter.reject(this.#failed);
    this.#db.close();
  }
}
