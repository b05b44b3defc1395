import type { Address, Client, Hex } from "viem";

import type { SubmitClient } from "../batch/submitBatch.js";
import type { ClearGasProfile } from "./clearGasProfiles.js";
import type { ClearResult } from "./decodeClearResults.js";
import type { OperatorLedger } from "./OperatorLedger.js";
import { planClears } from "./planClears.js";
import { submitClear } from "./submitClear.js";
import type { SignedVoucher } from "./types.js";

export type ClearPendingParameters = {
  ledger: OperatorLedger;
  token: Address;
  /** Reads back the accounts of failed items. Default: the submitting client. */
  publicClient?: Client;
  /** Only these accounts (e.g. `ledger.withdrawalDeadlines()`). Default: all. */
  accounts?: readonly { payer: Address }[];
  gasProfile?: ClearGasProfile;
  gasLimit?: bigint;
  maxCalldataBytes?: number;
  maxItemsPerBatch?: number;
};

export type ClearPendingReturnType = {
  transactions: { transactionHash: Hex; vouchers: SignedVoucher[]; results: ClearResult[] }[];
  cleared: number;
  failed: number;
};

/**
 * Clears the ledger's pending vouchers for `token`: plans them under the gas cap
 * ({@link planClears}), submits each transaction ({@link submitClear}) in turn, applies the
 * decoded results to the ledger's mirror, and re-reads the accounts of failed items.
 *
 * @example
 * const deadlines = ledger.withdrawalDeadlines();
 * await clearPending(operatorWallet, { ledger, token: USDC_ADDRESS, accounts: deadlines });
 */
export async function clearPending(
  client: SubmitClient,
  parameters: ClearPendingParameters,
): Promise<ClearPendingReturnType> {
  const { ledger, token } = parameters;
  const candidates = ledger.pendingClears({
    token,
    ...(parameters.accounts ? { accounts: parameters.accounts } : {}),
  });
  const batches = planClears({
    candidates,
    ...(parameters.gasProfile ? { gasProfile: parameters.gasProfile } : {}),
    ...(parameters.gasLimit !== undefined ? { gasLimit: parameters.gasLimit } : {}),
    ...(parameters.maxCalldataBytes !== undefined
      ? { maxCalldataBytes: parameters.maxCalldataBytes }
      : {}),
    ...(parameters.maxItemsPerBatch !== undefined
      ? { maxItemsPerBatch: parameters.maxItemsPerBatch }
      : {}),
  });
  const out: ClearPendingReturnType = { transactions: [], cleared: 0, failed: 0 };
  for (const batch of batches) {
    const { transactionHash, results } = await submitClear(client, {
      clearingHouse: ledger.clearingHouse,
      token,
      vouchers: batch.vouchers,
    });
    const stale = ledger.applyClearResults(batch.vouchers, results);
    for (const account of stale) {
      await ledger.syncAccount(parameters.publicClient ?? client, account);
    }
    out.transactions.push({ transactionHash, vouchers: batch.vouchers, results });
    for (const result of results) {
      if (result.status === "success") out.cleared++;
      else out.failed++;
    }
  }
  return out;
}
