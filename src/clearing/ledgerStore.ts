import type { Address } from "viem";

import type { SignedVoucher } from "./types.js";

/** What the ledger persists for each accepted voucher. */
export type AcceptedVoucherRecord = {
  /**
   * `token:payer:payee:cumulativeValue:cumulativeFee` (addresses lowercase): under one ledger's
   * ClearingHouse and operator it determines the voucher's EIP-712 digest, and makes acceptance
   * once-only whatever the signature's encoding. A durable store's primary key.
   */
  key: string;
  voucher: SignedVoucher;
  /** The price of the request it paid for, in token units. */
  price: bigint;
  /** The recovered signer (lowercase), or the payer for a verified contract signature. */
  signer: Address;
  /** Unix milliseconds. */
  acceptedAt: number;
};

/**
 * Where the operator ledger keeps what only it knows: the vouchers it accepted (the chain
 * mirror is re-read from the ClearingHouse). `append` is awaited before the ledger answers a
 * voucher, so a durable store (SQLite, with the facilitator) writes and syncs it first; when
 * `append` throws, the voucher is rejected and the ledger's state is unchanged. `load` returns
 * every record, in append order, to rebuild the ledger after a restart.
 */
export interface LedgerStore {
  append(record: AcceptedVoucherRecord): Promise<void> | void;
  load(): Promise<readonly AcceptedVoucherRecord[]> | readonly AcceptedVoucherRecord[];
}

/**
 * An in-memory {@link LedgerStore} (tests, benchmarks, a single process that may lose its
 * state): `records` is the append log.
 *
 * @example
 * const store = createMemoryLedgerStore();
 * const ledger = new OperatorLedger({ ..., store });
 */
export function createMemoryLedgerStore(): LedgerStore & {
  readonly records: AcceptedVoucherRecord[];
} {
  const records: AcceptedVoucherRecord[] = [];
  return {
    records,
    append(record) {
      records.push(record);
    },
    load() {
      return [...records];
    },
  };
}
