import {
  type Account,
  type Address,
  type Hex,
  type TransactionReceipt,
  encodeFunctionData,
  getAddress,
} from "viem";
import { estimateGas, sendTransaction, waitForTransactionReceipt } from "viem/actions";

import { clearingHouseAbi } from "../abi/clearingHouse.js";
import { BatchGasExceedsCapError } from "../batch/errors.js";
import type { SubmitClient } from "../batch/submitBatch.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { type ClearResult, decodeClearResults } from "./decodeClearResults.js";
import { encodeVouchers } from "./encodeVouchers.js";
import { ClearFailedError, InvalidLedgerInputError } from "./ledgerErrors.js";
import type { SignedVoucher } from "./types.js";

export type SubmitClearParameters = {
  clearingHouse: Address;
  token: Address;
  vouchers: readonly SignedVoucher[];
  /** Sender; default: the client's account. */
  account?: Account;
  /** Gas limit. Default: `estimateGas` plus `gasMarginPercent`, at most the cap. */
  gas?: bigint;
  /** Default 10 (%). */
  gasMarginPercent?: number;
  /** Default 2^24. */
  gasCap?: bigint;
  /** How long to wait for the receipt. Default 60,000 ms. */
  timeoutMs?: number;
};

export type SubmitClearReturnType = {
  receipt: TransactionReceipt;
  transactionHash: Hex;
  /** One per voucher, in order. */
  results: ClearResult[];
};

/**
 * Sends one `ClearingHouse.clear(token, items)` with the packed vouchers, gas from `estimateGas`
 * plus a margin (refusing more than the 2^24 cap with the batch planner's
 * `BatchGasExceedsCapError`), waits for the receipt and decodes the per-voucher results with `decodeClearResults`.
 *
 * @example
 * const { results } = await submitClear(operatorWallet, { clearingHouse, token, vouchers });
 */
export async function submitClear(
  client: SubmitClient,
  parameters: SubmitClearParameters,
): Promise<SubmitClearReturnType> {
  const account = parameters.account ?? client.account;
  if (!account) {
    throw new InvalidLedgerInputError("account", "the client has no account; pass `account`");
  }
  if (parameters.vouchers.length === 0) {
    throw new InvalidLedgerInputError("vouchers", "nothing to clear");
  }
  const clearingHouse = getAddress(parameters.clearingHouse);
  const token = getAddress(parameters.token);
  const data = encodeFunctionData({
    abi: clearingHouseAbi,
    functionName: "clear",
    args: [token, encodeVouchers({ token, vouchers: parameters.vouchers })],
  });
  const cap = parameters.gasCap ?? TRANSACTION_GAS_CAP;
  let gas = parameters.gas;
  if (gas === undefined) {
    const estimate = await estimateGas(client, { account, to: clearingHouse, data });
    if (estimate > cap) {
      throw new BatchGasExceedsCapError(estimate, cap, parameters.vouchers.length);
    }
    const margin = BigInt(Math.round((parameters.gasMarginPercent ?? 10) * 100));
    gas = (estimate * (10_000n + margin)) / 10_000n;
    if (gas > cap) gas = cap;
  } else if (gas > cap) {
    throw new BatchGasExceedsCapError(gas, cap, parameters.vouchers.length);
  }
  const hash = await sendTransaction(client, {
    account,
    chain: client.chain ?? null,
    to: clearingHouse,
    data,
    gas,
  });
  let receipt: TransactionReceipt;
  try {
    receipt = await waitForTransactionReceipt(client, {
      hash,
      timeout: parameters.timeoutMs ?? 60_000,
    });
  } catch (error) {
    throw new ClearFailedError("no receipt", { transactionHash: hash, cause: error });
  }
  if (receipt.status !== "success") {
    throw new ClearFailedError("the transaction reverted", { transactionHash: hash });
  }
  const results = decodeClearResults({ clearingHouse, logs: receipt.logs });
  if (results.length !== parameters.vouchers.length) {
    throw new ClearFailedError(
      `${results.length} results for ${parameters.vouchers.length} vouchers`,
      {
        transactionHash: hash,
      },
    );
  }
  return { receipt, transactionHash: receipt.transactionHash, results };
}
