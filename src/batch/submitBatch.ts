import {
  encodeFunctionData,
  getAddress,
  WaitForTransactionReceiptTimeoutError,
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hex,
  type TransactionReceipt,
  type Transport,
} from "viem";
import {
  estimateFeesPerGas,
  estimateGas,
  getTransactionCount,
  sendTransaction,
  waitForTransactionReceipt,
} from "viem/actions";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { decodeRevertReason } from "../errors/decodeRevertReason.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { encodeItems, type SettlementItem } from "./encodeItems.js";
import { bumpFees } from "./bumpFees.js";
import { BatchGasExceedsCapError, InvalidBatchInputError, SettleTimeoutError } from "./errors.js";

/** A client that can send transactions (a WalletClient, or any client with an account). */
export type SubmitClient = Client<Transport, Chain | undefined, Account | undefined>;

export type SubmitBatchParameters = {
  router: Address;
  token: Address;
  feeRecipient: Address;
  /** The items, or already packed `items` bytes (for `settlePermit2`: `encodePermit2Items`). */
  items: readonly SettlementItem[] | Hex;
  /** The router entry point: `settle` (EIP-3009 items, the default) or `settlePermit2`. */
  entryPoint?: "settle" | "settlePermit2";
  /** Sender; default: the client's account. */
  account?: Account;
  /** Explicit account nonce (a relayer sending several batches). Default: the pending count. */
  nonce?: number;
  /** Gas limit. Default: `estimateGas` plus `gasMarginPercent`, at most the 2^24 cap. */
  gas?: bigint;
  /** Default 10 (%). */
  gasMarginPercent?: number;
  /** Per-transaction gas cap. Default 2^24. */
  gasCap?: bigint;
  /** Fees; default: viem `estimateFeesPerGas`. */
  maxFeePerGas?: bigint;
  maxPriorityFeePerGas?: bigint;
  /** How long to wait for each broadcast transaction before replacing it. Default 60,000 ms. */
  timeoutMs?: number;
  /** How many times a stuck transaction is replaced with higher fees. Default 3. */
  maxReplacements?: number;
  /** Fee increase per replacement, in percent (nodes require at least 10). Default 25. */
  feeBumpPercent?: number;
  /** Receipt polling interval. Default: the client's. */
  pollingInterval?: number;
  /** Called after a stuck transaction was replaced. */
  onReplaced?: (info: { previous: Hex; replacement: Hex; nonce: number; attempt: number }) => void;
};

export type SubmitBatchReturnType = {
  receipt: TransactionReceipt;
  transactionHash: Hex;
  /** Every hash broadcast for this nonce, oldest first (the last one, or an earlier one, mined). */
  broadcast: Hex[];
  nonce: number;
  gas: bigint;
};

/**
 * Sends one `settle` (or `settlePermit2`) transaction and waits for its receipt: gas from `estimateGas` (with a
 * margin, refusing batches over the 2^24 cap), EIP-1559 fees from `estimateFeesPerGas`, an
 * explicit nonce, and when no receipt arrives within `timeoutMs` the same nonce is re-sent with
 * fees bumped by `feeBumpPercent` (up to `maxReplacements` times). Whichever of the broadcast
 * transactions is mined, its receipt is returned.
 *
 * @example
 * const { receipt } = await submitBatch(walletClient, {
 *   router, token: USDC_ADDRESS, feeRecipient: walletClient.account.address, items,
 * });
 * const results = decodeSettleReceipt({ receipt, router, items, feeRecipient });
 */
export async function submitBatch(
  client: SubmitClient,
  parameters: SubmitBatchParameters,
): Promise<SubmitBatchReturnType> {
  const account = parameters.account ?? client.account;
  if (!account) {
    throw new InvalidBatchInputError("account", "the client has no account; pass `account`");
  }
  const router = getAddress(parameters.router);
  const entryPoint = parameters.entryPoint ?? "settle";
  if (entryPoint === "settlePermit2" && typeof parameters.items !== "string") {
    throw new InvalidBatchInputError(
      "items",
      "settlePermit2 takes packed items (encodePermit2Items)",
    );
  }
  const packed =
    typeof parameters.items === "string" ? parameters.items : encodeItems(parameters.items);
  if (packed === "0x") throw new InvalidBatchInputError("items", "the batch is empty");
  const data = encodeFunctionData({
    abi: settlementRouterAbi,
    functionName: entryPoint,
    args: [getAddress(parameters.token), getAddress(parameters.feeRecipient), packed],
  });
  const cap = parameters.gasCap ?? TRANSACTION_GAS_CAP;

  let gas = parameters.gas;
  if (gas === undefined) {
    let estimate: bigint;
    try {
      estimate = await estimateGas(client, { account, to: router, data });
    } catch (error) {
      // The router reverts with SettlementRouterInsufficientGas when even the cap is too little.
      const decoded = decodeRevertReason(error);
      if (decoded.reason === "router_insufficient_gas" || decoded.reason === "out_of_gas") {
        const fitting =
          decoded.reason === "router_insufficient_gas"
            ? Number((decoded.args as [bigint])[0])
            : undefined;
        throw new BatchGasExceedsCapError(cap, cap, countHint(parameters.items), fitting);
      }
      throw error;
    }
    const margin = BigInt(Math.round((parameters.gasMarginPercent ?? 10) * 100));
    gas = (estimate * (10_000n + margin)) / 10_000n;
    if (estimate > cap)
      throw new BatchGasExceedsCapError(estimate, cap, countHint(parameters.items));
    if (gas > cap) gas = cap;
  } else if (gas > cap) {
    throw new BatchGasExceedsCapError(gas, cap, countHint(parameters.items));
  }

  let maxFeePerGas = parameters.maxFeePerGas;
  let maxPriorityFeePerGas = parameters.maxPriorityFeePerGas;
  if (maxFeePerGas === undefined || maxPriorityFeePerGas === undefined) {
    const fees = await estimateFeesPerGas(client, { chain: client.chain ?? null, type: "eip1559" });
    maxFeePerGas ??= fees.maxFeePerGas;
    maxPriorityFeePerGas ??= fees.maxPriorityFeePerGas;
  }
  if (maxPriorityFeePerGas > maxFeePerGas) maxPriorityFeePerGas = maxFeePerGas;

  const nonce =
    parameters.nonce ??
    (await getTransactionCount(client, { address: account.address, blockTag: "pending" }));
  const timeoutMs = parameters.timeoutMs ?? 60_000;
  const maxReplacements = parameters.maxReplacements ?? 3;
  const bump = BigInt(Math.max(10, Math.round(parameters.feeBumpPercent ?? 25)));

  const broadcast: Hex[] = [];
  for (let attempt = 0; ; attempt++) {
    const hash = await sendTransaction(client, {
      account,
      chain: client.chain ?? null,
      to: router,
      data,
      gas,
      nonce,
      maxFeePerGas,
      maxPriorityFeePerGas,
    });
    if (broadcast.length > 0) {
      parameters.onReplaced?.({ previous: broadcast.at(-1)!, replacement: hash, nonce, attempt });
    }
    broadcast.push(hash);
    try {
      // viem follows replacements of this nonce, so an earlier broadcast that gets mined is found too.
      const receipt = await waitForTransactionReceipt(client, {
        hash,
        timeout: timeoutMs,
        ...(parameters.pollingInterval !== undefined
          ? { pollingInterval: parameters.pollingInterval }
          : {}),
      });
      return { receipt, transactionHash: receipt.transactionHash, broadcast, nonce, gas };
    } catch (error) {
      if (!(error instanceof WaitForTransactionReceiptTimeoutError)) throw error;
      if (attempt >= maxReplacements) throw new SettleTimeoutError(broadcast, nonce, timeoutMs);
      const current = await estimateFeesPerGas(client, {
        chain: client.chain ?? null,
        type: "eip1559",
      }).catch(() => undefined);
      ({ maxFeePerGas, maxPriorityFeePerGas } = bumpFees(
        { maxFeePerGas, maxPriorityFeePerGas },
        Number(bump),
        current,
      ));
    }
  }
}

function countHint(items: readonly SettlementItem[] | Hex): number {
  return typeof items === "string" ? -1 : items.length;
}
