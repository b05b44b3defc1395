import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";

import type { Hex } from "viem";

import { VoucherStoreError } from "./errors.js";

/** What the client has signed for one pair (payer, payee) of an account. */
export type ClearingPairRecord = {
  /** The highest cumulative value the client signed (or proved it signed) for the pair. */
  cumulativeValue: bigint;
  cumulativeFee: bigint;
  /** The signature of that voucher, when the client holds it. */
  signature?: Hex;
};

/**
 * What the client knows of one account (payer, operator, token) under one ClearingHouse, and the
 * totals of its pairs, keyed by the payee's lowercase address.
 */
export type ClearingAccountRecord = {
  /** Deposits the client signed and believes credited (or in flight). */
  deposited: bigint;
  /** Value plus fee of every voucher signed, summed over the account's pairs. */
  committed: bigint;
  pairs: Record<string, ClearingPairRecord>;
};

/**
 * Where the `clearing` client keeps its cumulative totals. `update` runs `change` on one account's
 * record (undefined when none) and stores what it returns; `change` is synchronous, so concurrent
 * updates in one process never interleave, and `update` resolves once the new record is as
 * durable as the store makes it. Records are the store's: `change` gets a copy.
 */
export interface VoucherStore {
  get(key: string): Promise<ClearingAccountRecord | undefined>;
  update<T>(
    key: string,
    change: (record: ClearingAccountRecord | undefined) => {
      record: ClearingAccountRecord;
      result: T;
    },
  ): Promise<T>;
}

function copy(record: ClearingAccountRecord): ClearingAccountRecord {
  const pairs: Record<string, ClearingPairRecord> = {};
  for (const [payee, pair] of Object.entries(record.pairs)) pairs[payee] = { ...pair };
  return { deposited: record.deposited, committed: record.committed, pairs };
}

/**
 * The default store: in memory, lost with the process (the client then recovers from the 402's
 * pair state, see docs/SCHEMES.md).
 *
 * @example
 * const store = new MemoryVoucherStore();
 */
export class MemoryVoucherStore implements VoucherStore {
  protected readonly records = new Map<string, ClearingAccountRecord>();

  async get(key: string): Promise<ClearingAccountRecord | undefined> {
    await this.ready();
    const record = this.records.get(key);
    return record && copy(record);
  }

  async update<T>(
    key: string,
    change: (record: ClearingAccountRecord | undefined) => {
      record: ClearingAccountRecord;
      result: T;
    },
  ): Promise<T> {
    await this.ready();
    const current = this.records.get(key);
    const { record, result } = change(current && copy(current));
    this.records.set(key, copy(record));
    await this.persist();
    return result;
  }

  /** Resolves once the records are loaded. */
  protected async ready(): Promise<void> {}

  /** Resolves once every change made so far is durable. */
  protected async persist(): Promise<void> {}
}

type FileFormat = {
  version: 1;
  accounts: Record<
    string,
    {
      deposited: string;
      committed: string;
      pairs: Record<string, { cumulativeValue: string; cumulativeFee: string; signature?: Hex }>;
    }
  >;
};

/**
 * A store in one JSON file, for a client that must keep its totals across restarts. Each update
 * resolves only after a write that includes it has reached the disk: the file is written whole to
 * a temporary file, synced and renamed over the old one (atomic on POSIX file systems), and the
 * updates made while a write is in flight share the next write. One process per file.
 *
 * @example
 * const store = new FileVoucherStore("./.x402/clearing-vouchers.json");
 */
export class FileVoucherStore extends MemoryVoucherStore {
  readonly path: string;
  #loading: Promise<void> | undefined;
  #writing: Promise<void> | undefined;
  #next: Promise<void> | undefined;
  #counter = 0;

  constructor(file: string) {
    super();
    this.path = path.resolve(file);
  }

  protected override ready(): Promise<void> {
    this.#loading ??= this.#load();
    return this.#loading;
  }

  protected override persist(): Promise<void> {
    // A write already queued will include this change; otherwise queue one after the current.
    if (this.#next) return this.#next;
    if (!this.#writing) {
      this.#writing = this.#write().finally(() => (this.#writing = undefined));
      return this.#writing;
    }
    const next = this.#writing
      .catch(() => undefined)
      .then(() => {
        this.#next = undefined;
        this.#writing = this.#write().finally(() => (this.#writing = undefined));
        return this.#writing;
      });
    this.#next = next;
    return next;
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw new VoucherStoreError("load", error, this.path);
    }
    try {
      const parsed = JSON.parse(text) as FileFormat;
      if (parsed.version !== 1 || typeof parsed.accounts !== "object") {
        throw new Error("not a version 1 voucher store");
      }
      for (const [key, account] of Object.entries(parsed.accounts)) {
        const pairs: Record<string, ClearingPairRecord> = {};
        for (const [payee, pair] of Object.entries(account.pairs)) {
          pairs[payee] = {
            cumulativeValue: BigInt(pair.cumulativeValue),
            cumulativeFee: BigInt(pair.cumulativeFee),
            ...(pair.signature ? { signature: pair.signature } : {}),
          };
        }
        this.records.set(key, {
          deposited: BigInt(account.deposited),
          committed: BigInt(account.committed),
          pairs,
        });
      }
    } catch (error) {
      throw new VoucherStoreError("load", error, `${this.path} is not a voucher store`);
    }
  }

  async #write(): Promise<void> {
    const data: FileFormat = { version: 1, accounts: {} };
    for (const [key, record] of this.records) {
      const pairs: FileFormat["accounts"][string]["pairs"] = {};
      for (const [payee, pair] of Object.entries(record.pairs)) {
        pairs[payee] = {
          cumulativeValue: pair.cumulativeValue.toString(),
          cumulativeFee: pair.cumulativeFee.toString(),
          ...(pair.signature ? { signature: pair.signature } : {}),
        };
      }
      data.accounts[key] = {
        deposited: record.deposited.toString(),
        committed: record.committed.toString(),
        pairs,
      };
    }
    const temporary = `${this.path}.${process.pid}.${++this.#counter}.tmp`;
    try {
      await mkdir(path.dirname(this.path), { recursive: true });
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(JSON.stringify(data));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
    } catch (error) {
      await rm(temporary, { force: true }).catch(() => undefined);
      throw new VoucherStoreError("save", error, this.path);
    }
  }
}
