import { size } from "viem";

import type { SignedAuthorization } from "../authorization/types.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { DIRECT_ITEM_SIZE, ROUTED_ITEM_SIZE } from "./encodeItems.js";
import { InvalidBatchInputError } from "./errors.js";
import { FIAT_TOKEN_V2_2_GAS_PROFILE, type SettleGasProfile } from "./gasProfiles.js";

/** Bytes of `settle(address,address,bytes)` calldata around the packed items. */
const SETTLE_CALLDATA_OVERHEAD = 4 + 32 * 4;

export type PlanBatchesParameters<item extends SignedAuthorization> = {
  /** Signed authorizations, direct and routed mixed. */
  items: readonly item[];
  /** Per-transaction gas model. Default: {@link FIAT_TOKEN_V2_2_GAS_PROFILE}. */
  gasProfile?: SettleGasProfile;
  /** Per-transaction gas cap. Default 2^24 (Base, EIP-7825). */
  gasLimit?: bigint;
  /**
   * Gas kept free under the cap: the router only starts a token call with 200k gas (plus a
   * reserve) left, and estimates vary. Default 400,000.
   */
  reserveGas?: bigint;
  /** Largest settle calldata, in bytes. Default 100,000 (node tx-pool limits are ~128 KB). */
  maxCalldataBytes?: number;
  /** Optional cap on items per batch. */
  maxItemsPerBatch?: number;
};

/** One settle transaction's worth of items, in execution order. */
export type PlannedBatch<item extends SignedAuthorization> = {
  items: item[];
  /** `indices[i]` is the position of `items[i]` in the planner's input. */
  indices: number[];
  /** The gas model's estimate for the transaction (receipt gas). */
  estimatedGas: bigint;
  /** Size of the settle calldata. */
  calldataBytes: number;
  /** Groups of consecutive routed items with the same payee (one payout each). */
  routedGroups: number;
};

export type PlanBatchesReturnType<item extends SignedAuthorization> = {
  batches: PlannedBatch<item>[];
  /** Inputs dropped because an earlier input has the same (from, nonce). */
  duplicates: { index: number; duplicateOf: number }[];
};

/**
 * Splits signed authorizations into settle transactions: drops duplicates of the same
 * (from, nonce), orders direct items first and routed items by payee (so the router nets each
 * payee's items into one payout), and fills batches greedily while the gas model stays under
 * `gasLimit - reserveGas` and the calldata under `maxCalldataBytes`. Pure: nothing is read from
 * the chain; `settleAuthorizations` checks each batch with `estimateGas` before sending.
 *
 * @example
 * const { batches, duplicates } = planBatches({ items: signed });
 * for (const batch of batches) console.log(batch.items.length, batch.estimatedGas);
 */
export function planBatches<item extends SignedAuthorization>(
  parameters: PlanBatchesParameters<item>,
): PlanBatchesReturnType<item> {
  const profile = parameters.gasProfile ?? FIAT_TOKEN_V2_2_GAS_PROFILE;
  const gasLimit = parameters.gasLimit ?? TRANSACTION_GAS_CAP;
  const reserveGas = parameters.reserveGas ?? 400_000n;
  const maxCalldataBytes = parameters.maxCalldataBytes ?? 100_000;
  const maxItems = parameters.maxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  const budget = gasLimit - reserveGas;
  if (budget <= profile.base) {
    throw new InvalidBatchInputError(
      "gasLimit",
      `gasLimit ${gasLimit} minus reserveGas ${reserveGas} leaves no room for the base cost ${profile.base}`,
    );
  }
  if (!(maxItems >= 1)) {
    throw new InvalidBatchInputError("maxItemsPerBatch", `must be at least 1, got ${maxItems}`);
  }

  const firstSeen = new Map<string, number>();
  const duplicates: { index: number; duplicateOf: number }[] = [];
  const direct: number[] = [];
  const routed: number[] = [];
  parameters.items.forEach((item, index) => {
    const key = `${item.from.toLowerCase()}:${item.nonce.toLowerCase()}`;
    const earlier = firstSeen.get(key);
    if (earlier !== undefined) {
      duplicates.push({ index, duplicateOf: earlier });
      return;
    }
    firstSeen.set(key, index);
    (item.kind === "routed" ? routed : direct).push(index);
  });
  const payeeOf = (index: number) => {
    const item = parameters.items[index]!;
    return item.kind === "routed" ? item.payee.toLowerCase() : "";
  };
  // Stable: equal payees keep their input order.
  routed.sort((a, b) => (payeeOf(a) < payeeOf(b) ? -1 : payeeOf(a) > payeeOf(b) ? 1 : a - b));

  const batches: PlannedBatch<item>[] = [];
  let current: PlannedBatch<item> | undefined;
  let itemBytes = 0;
  let lastPayee: string | undefined;
  let directPayees = new Set<string>();
  for (const index of [...direct, ...routed]) {
    const item = parameters.items[index]!;
    const bytes = itemSize(item);
    let gas = profile.perItem[item.kind];
    if (item.contractSignature) gas += profile.perContractSignature + 16n * BigInt(bytes);
    const payee = item.kind === "routed" ? payeeOf(index) : item.to.toLowerCase();
    // What this item adds to `batch` besides its own cost: a new payee, a new routed group.
    const extra = (batch: PlannedBatch<item>) => {
      if (item.kind === "direct") return directPayees.has(payee) ? 0n : profile.perDirectPayee;
      let more = batch.routedGroups === 0 ? profile.routedFixed : 0n;
      if (batch.routedGroups === 0 || payee !== lastPayee) more += profile.perRoutedGroup;
      return more;
    };
    const fits =
      current !== undefined &&
      current.items.length < maxItems &&
      current.estimatedGas + gas + extra(current) <= budget &&
      SETTLE_CALLDATA_OVERHEAD + paddedTo32(itemBytes + bytes) <= maxCalldataBytes;
    if (!fits) {
      current = {
        items: [],
        indices: [],
        estimatedGas: profile.base,
        calldataBytes: 0,
        routedGroups: 0,
      };
      batches.push(current);
      itemBytes = 0;
      lastPayee = undefined;
      directPayees = new Set();
    }
    const batch = current!;
    batch.estimatedGas += gas + extra(batch);
    if (item.kind === "direct") {
      directPayees.add(payee);
    } else {
      if (batch.routedGroups === 0 || payee !== lastPayee) batch.routedGroups += 1;
      lastPayee = payee;
    }
    batch.items.push(item);
    batch.indices.push(index);
    itemBytes += bytes;
    batch.calldataBytes = SETTLE_CALLDATA_OVERHEAD + paddedTo32(itemBytes);
  }
  return { batches, duplicates };
}

/** Packed size of one item (see the router's layout). */
function itemSize(item: SignedAuthorization): number {
  if (!item.contractSignature) return item.kind === "routed" ? ROUTED_ITEM_SIZE : DIRECT_ITEM_SIZE;
  const head = item.kind === "routed" ? ROUTED_ITEM_SIZE - 64 : DIRECT_ITEM_SIZE - 64;
  return head + 2 + size(item.signature);
}

function paddedTo32(bytes: number): number {
  return Math.ceil(bytes / 32) * 32;
}
