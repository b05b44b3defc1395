import { size } from "viem";

import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { type ClearGasProfile, FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE } from "./clearGasProfiles.js";
import { VOUCHER_EOA_SIZE } from "./encodeVouchers.js";
import { InvalidLedgerInputError } from "./ledgerErrors.js";
import type { SignedVoucher } from "./types.js";

/** Bytes of `clear(address,bytes)` calldata around the packed vouchers. */
const CLEAR_CALLDATA_OVERHEAD = 4 + 32 * 3;

/** A voucher to clear, and whether its pair has never been cleared (a costlier first write). */
export type ClearCandidate = { voucher: SignedVoucher; firstClear: boolean };

export type PlanClearsParameters = {
  candidates: readonly ClearCandidate[];
  /** Default: {@link FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE}. */
  gasProfile?: ClearGasProfile;
  /** Per-transaction gas cap. Default 2^24 (Base, EIP-7825). */
  gasLimit?: bigint;
  /** Gas kept free under the cap for estimate drift. Default 400,000. */
  reserveGas?: bigint;
  /** Largest clear calldata, in bytes. Default 100,000 (node tx-pool limits are ~128 KB). */
  maxCalldataBytes?: number;
  /** Optional cap on vouchers per transaction. */
  maxItemsPerBatch?: number;
};

/** One clear transaction's vouchers, grouped by payee (one netted payout each). */
export type PlannedClear = {
  vouchers: SignedVoucher[];
  /** `indices[i]` is the position of `vouchers[i]` in the candidates. */
  indices: number[];
  /** The gas model's estimate (receipt gas). */
  estimatedGas: bigint;
  calldataBytes: number;
};

/**
 * Splits vouchers into `clear` transactions under the gas cap: orders them by payee (the
 * ClearingHouse nets each payee's items into one transfer per call) and fills each transaction
 * greedily while the {@link ClearGasProfile} model stays under `gasLimit - reserveGas` and the
 * calldata under `maxCalldataBytes`. Pure; a candidate that alone exceeds the budget throws.
 *
 * @example
 * const plan = planClears({ candidates: ledger.pendingClears({ token }) });
 * for (const batch of plan) await submitClear(wallet, { clearingHouse, token, vouchers: batch.vouchers });
 */
export function planClears(parameters: PlanClearsParameters): PlannedClear[] {
  const profile = parameters.gasProfile ?? FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE;
  const budget = (parameters.gasLimit ?? TRANSACTION_GAS_CAP) - (parameters.reserveGas ?? 400_000n);
  const maxBytes = parameters.maxCalldataBytes ?? 100_000;
  const maxItems = parameters.maxItemsPerBatch ?? Number.POSITIVE_INFINITY;
  if (budget <= profile.base) {
    throw new InvalidLedgerInputError("gasLimit", "leaves no gas for any voucher");
  }
  const order = parameters.candidates
    .map((candidate, index) => ({ candidate, index }))
    .sort((a, b) => {
      const x = a.candidate.voucher.payee.toLowerCase();
      const y = b.candidate.voucher.payee.toLowerCase();
      return x < y ? -1 : x > y ? 1 : a.index - b.index;
    });

  const batches: PlannedClear[] = [];
  let current: PlannedClear | undefined;
  let payers = new Set<string>();
  let payees = new Set<string>();
  for (const { candidate, index } of order) {
    const { voucher } = candidate;
    const bytes = voucher.contractSignature
      ? VOUCHER_EOA_SIZE - 64 + 2 + size(voucher.signature)
      : VOUCHER_EOA_SIZE;
    const itemGas =
      profile.perPair +
      (candidate.firstClear ? profile.perFirstPair : 0n) +
      (voucher.contractSignature
        ? profile.perContractSignature + 16n * BigInt(size(voucher.signature))
        : 0n);
    const payer = voucher.payer.toLowerCase();
    const payee = voucher.payee.toLowerCase();
    const cost = (set: Set<string>, key: string, per: bigint) => (set.has(key) ? 0n : per);
    const fits =
      current !== undefined &&
      current.vouchers.length < maxItems &&
      current.calldataBytes + bytes <= maxBytes &&
      current.estimatedGas +
        itemGas +
        cost(payers, payer, profile.perPayer) +
        cost(payees, payee, profile.perPayee) <=
        budget;
    if (!fits) {
      current = {
        vouchers: [],
        indices: [],
        estimatedGas: profile.base,
        calldataBytes: CLEAR_CALLDATA_OVERHEAD,
      };
      payers = new Set();
      payees = new Set();
      batches.push(current);
    }
    const batch = current!;
    batch.estimatedGas +=
      itemGas + cost(payers, payer, profile.perPayer) + cost(payees, payee, profile.perPayee);
    batch.calldataBytes += bytes;
    if (batch.estimatedGas > budget || batch.calldataBytes > maxBytes) {
      throw new InvalidLedgerInputError(
        "candidates",
        `voucher ${index} alone exceeds the gas or calldata budget of one transaction`,
      );
    }
    payers.add(payer);
    payees.add(payee);
    batch.vouchers.push(voucher);
    batch.indices.push(index);
  }
  return batches;
}
