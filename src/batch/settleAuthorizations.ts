import {
  getAddress,
  isAddress,
  type Address,
  type Client,
  type Hex,
  type TransactionReceipt,
} from "viem";
import { getCode, getTransactionCount } from "viem/actions";

import type { SignedAuthorization } from "../authorization/types.js";
import { decodeSettleReceipt } from "./decodeSettleReceipt.js";
import { dropFailures } from "./dropFailures.js";
import { encodeItems, InvalidSettlementItemError } from "./encodeItems.js";
import { shortMessageOf } from "../errors/shortMessageOf.js";
import {
  BatchGasExceedsCapError,
  InvalidBatchInputError,
  RouterNotDeployedError,
  SettlementNodeError,
  SettleTimeoutError,
} from "./errors.js";
import type { FailedItemStatus } from "../errors/itemStatus.js";
import type { SettlementFailureReason } from "./failureReason.js";
import type { SettleGasProfile } from "./gasProfiles.js";
import { getReceiptL1Data } from "./getReceiptL1Data.js";
import { planBatches, type PlannedBatch } from "./planBatches.js";
import { simulateBatch } from "./simulateBatch.js";
import { submitBatch, type SubmitBatchParameters, type SubmitClient } from "./submitBatch.js";

/** Where a failed authorization was stopped. */
export type SettlementStage = "plan" | "simulate" | "settle";

/** The outcome of one input authorization. */
export type AuthorizationSettlement =
  | { status: "success"; index: number; from: Address; nonce: Hex; transactionHash: Hex }
  | {
      status: "failure";
      index: number;
      from: Address;
      nonce: Hex;
      stage: SettlementStage;
      reason: SettlementFailureReason;
      itemStatus?: FailedItemStatus;
      revertData?: Hex;
      /** Set when the item was part of a sent transaction. */
      transactionHash?: Hex;
      /**
       * For `unexpected_settle_error`: the underlying error's short message (the node's answer,
       * e.g. the sender cannot pay for gas), and the error itself as `cause`.
       */
      message?: string;
      cause?: unknown;
    };

/** One sent settle transaction. */
export type SettlementTransaction = {
  transactionHash: Hex;
  receipt: TransactionReceipt;
  items: number;
  settled: number;
  failed: number;
  gasUsed: bigint;
  /** Estimated compressed bytes posted to L1 (OP-stack receipts), if the receipt has them. */
  l1Bytes?: bigint;
};

export type SettlementProgress = {
  stage: "planned" | "simulated" | "submitted" | "confirmed" | "failed";
  /** 0-based batch number (batches can be split further when a gas estimate exceeds the cap). */
  batch: number;
  batches: number;
  settled: number;
  failed: number;
  total: number;
  transactionHash?: Hex;
};

export type SettleAuthorizationsClients =
  SubmitClient | { publicClient: Client; walletClient: SubmitClient };

export type SettleAuthorizationsParameters = {
  router: Address;
  token: Address;
  /** Fee recipient passed to `settle`; routed items must commit to it. */
  feeRecipient: Address;
  items: readonly SignedAuthorization[];
  /** Simulate each batch and leave predicted failures out. Default true. */
  simulate?: boolean;
  /** Per-transaction gas model for planning. Default: FiatTokenV2_2. */
  gasProfile?: SettleGasProfile;
  gasLimit?: bigint;
  reserveGas?: bigint;
  maxCalldataBytes?: number;
  maxItemsPerBatch?: number;
  onProgress?: (progress: SettlementProgress) => void;
} & Pick<
  SubmitBatchParameters,
  "timeoutMs" | "maxReplacements" | "feeBumpPercent" | "pollingInterval" | "gasMarginPercent"
>;

export type SettleAuthorizationsReturnType = {
  /** One per input item, in input order. */
  results: AuthorizationSettlement[];
  transactions: SettlementTransaction[];
  settled: number;
  failed: number;
};

/**
 * Settles many signed authorizations through the SettlementRouter: plans batches under the gas cap
 * ({@link planBatches}), simulates each one and drops predicted failures ({@link simulateBatch},
 * {@link dropFailures}), sends it with explicit nonces ({@link submitBatch}), splits a batch whose
 * gas estimate exceeds the cap, and decodes the receipt ({@link decodeSettleReceipt}). Every input
 * gets exactly one result; a failing payment, or a failing transaction, never stops the others.
 * A node failure during a batch fails that batch's items with `unexpected_settle_error` and the
 * node's short message (`message`, `cause`). Throws, before anything is sent, an
 * `InvalidBatchInputError` for a malformed router, token or fee recipient address, a
 * `RouterNotDeployedError` when the router has no code, and a `SettlementNodeError` when the node
 * does not answer.
 *
 * @example
 * const { results, transactions } = await settleAuthorizations(walletClient, {
 *   router, token: USDC_ADDRESS, feeRecipient: walletClient.account.address, items: signed,
 *   onProgress: (p) => console.log(`${p.settled + p.failed}/${p.total}`),
 * });
 */
export async function settleAuthorizations(
  clients: SettleAuthorizationsClients,
  parameters: SettleAuthorizationsParameters,
): Promise<SettleAuthorizationsReturnType> {
  const { publicClient, walletClient } =
    "walletClient" in clients ? clients : { publicClient: clients, walletClient: clients };
  const account = walletClient.account;
  if (!account) throw new InvalidBatchInputError("walletClient", "the client has no account");
  const address = (field: "router" | "token" | "feeRecipient"): Address => {
    const value = parameters[field];
    if (typeof value !== "string" || !isAddress(value, { strict: false }))
      throw new InvalidBatchInputError(field, `expected an address, got ${JSON.stringify(value)}`);
    return getAddress(value);
  };
  const router = address("router");
  const token = address("token");
  const feeRecipient = address("feeRecipient");
  const { items } = parameters;
  const total = items.length;
  const results: (AuthorizationSettlement | undefined)[] = new Array(total);
  const transactions: SettlementTransaction[] = [];
  let settled = 0;
  let failed = 0;
  const record = (result: AuthorizationSettlement) => {
    results[result.index] = result;
    if (result.status === "success") settled += 1;
    else failed += 1;
  };
  const itemOf = (index: number) => {
    const { from, nonce } = items[index]!;
    // A malformed `from` is reported as given (the item fails at the plan stage).
    return { index, from: isAddress(from, { strict: false }) ? getAddress(from) : from, nonce };
  };

  // An item the packed layout cannot carry would make the whole settle call invalid: set it aside.
  const encodable: number[] = [];
  items.forEach((item, index) => {
    try {
      encodeItems([item]);
      encodable.push(index);
    } catch (error) {
      const field = error instanceof InvalidSettlementItemError ? error.field : "item";
      record({
        status: "failure",
        ...itemOf(index),
        stage: "plan",
        reason:
          field === "signature"
            ? "invalid_exact_evm_signature"
            : ["value", "fee", "validAfter", "validBefore"].includes(field)
              ? "unsettleable_field_out_of_range"
              : "invalid_payload",
      });
    }
  });

  const plan = planBatches({
    items: encodable.map((index) => items[index]!),
    ...(parameters.gasProfile ? { gasProfile: parameters.gasProfile } : {}),
    ...(parameters.gasLimit !== undefined ? { gasLimit: parameters.gasLimit } : {}),
    ...(parameters.reserveGas !== undefined ? { reserveGas: parameters.reserveGas } : {}),
    ...(parameters.maxCalldataBytes !== undefined
      ? { maxCalldataBytes: parameters.maxCalldataBytes }
      : {}),
    ...(parameters.maxItemsPerBatch !== undefined
      ? { maxItemsPerBatch: parameters.maxItemsPerBatch }
      : {}),
  });
  for (const { index } of plan.duplicates) {
    record({
      status: "failure",
      ...itemOf(encodable[index]!),
      stage: "plan",
      reason: "invalid_exact_evm_nonce_already_used",
      itemStatus: "AuthorizationUsed",
    });
  }

  const queue: Pick<PlannedBatch<SignedAuthorization>, "items" | "indices">[] = plan.batches.map(
    (batch) => ({ items: batch.items, indices: batch.indices.map((index) => encodable[index]!) }),
  );
  let batchNumber = 0;
  let batches = queue.length;
  const progress = (stage: SettlementProgress["stage"], transactionHash?: Hex) =>
    parameters.onProgress?.({
      stage,
      batch: batchNumber,
      batches,
      settled,
      failed,
      total,
      ...(transactionHash ? { transactionHash } : {}),
    });
  progress("planned");

  if (queue.length > 0) {
    let code: Hex | undefined;
    try {
      code = await getCode(publicClient, { address: router });
    } catch (error) {
      throw new SettlementNodeError("eth_getCode for the router", error);
    }
    if (code === undefined || code === "0x") throw new RouterNotDeployedError(router);
  }
  const nodeFailure = (error: unknown) => ({ message: shortMessageOf(error), cause: error });

  let nonce: number | undefined;
  for (; queue.length > 0; batchNumber++) {
    let { items: batchItems, indices } = queue.shift()!;

    /**
     * The batch does not fit one transaction. When the router said how many leading items fit,
     * keep 99% of those and carry the rest over to the front of the next batch (which keeps the
     * payee order and full batches); otherwise halve it.
     */
    const split = (fitting?: number) => {
      const keep =
        fitting !== undefined && fitting > 1
          ? Math.max(1, Math.floor(fitting * 0.99))
          : Math.ceil(batchItems.length / 2);
      const head = { items: batchItems.slice(0, keep), indices: indices.slice(0, keep) };
      const carry = { items: batchItems.slice(keep), indices: indices.slice(keep) };
      const next = queue[0];
      if (fitting !== undefined && next) {
        queue[0] = {
          items: [...carry.items, ...next.items],
          indices: [...carry.indices, ...next.indices],
        };
        queue.unshift(head);
      } else {
        queue.unshift(head, carry);
        batches += 1;
      }
      batchNumber -= 1;
    };

    if (parameters.simulate ?? true) {
      let simulation;
      try {
        simulation = await simulateBatch(publicClient, {
          router,
          token,
          feeRecipient,
          items: batchItems,
          account,
        });
      } catch (error) {
        if (error instanceof BatchGasExceedsCapError && batchItems.length > 1) {
          split(error.fittingItems);
          continue;
        }
        // The node could not simulate: report this batch, keep going with the others.
        for (const index of indices) {
          record({
            status: "failure",
            ...itemOf(index),
            stage: "simulate",
            reason: "unexpected_settle_error",
            ...nodeFailure(error),
          });
        }
        progress("failed");
        continue;
      }
      const kept = dropFailures({ items: batchItems, simulation });
      for (const { outcome } of kept.dropped) {
        record({
          status: "failure",
          ...itemOf(indices[outcome.index]!),
          stage: "simulate",
          reason: outcome.reason,
          itemStatus: outcome.itemStatus,
          ...(outcome.revertData ? { revertData: outcome.revertData } : {}),
        });
      }
      batchItems = kept.items;
      indices = kept.kept.map((position) => indices[position]!);
      progress("simulated");
      if (batchItems.length === 0) continue;
    }

    let submitted;
    try {
      nonce ??= await getTransactionCount(publicClient, {
        address: account.address,
        blockTag: "pending",
      });
      submitted = await submitBatch(walletClient, {
        router,
        token,
        feeRecipient,
        items: batchItems,
        nonce,
        ...submitOptions(parameters),
      });
    } catch (error) {
      if (error instanceof BatchGasExceedsCapError && batchItems.length > 1) {
        split(error.fittingItems);
        continue;
      }
      const pending = error instanceof SettleTimeoutError;
      for (const index of indices) {
        record({
          status: "failure",
          ...itemOf(index),
          stage: "settle",
          reason: pending ? "settlement_pending" : "unexpected_settle_error",
          ...(pending ? { transactionHash: error.transactionHashes.at(-1)! } : nodeFailure(error)),
        });
      }
      // A timed-out transaction holds its nonce; otherwise ask the node which nonce is next.
      nonce = pending ? nonce! + 1 : undefined;
      progress("failed");
      continue;
    }
    nonce += 1;
    const { receipt, transactionHash } = submitted;
    progress("submitted", transactionHash);

    let batchSettled = 0;
    try {
      const outcomes = decodeSettleReceipt({ receipt, router, itemCount: batchItems.length });
      for (const outcome of outcomes) {
        const index = indices[outcome.index]!;
        if (outcome.status === "success") {
          batchSettled += 1;
          record({ ...outcome, index });
        } else {
          record({
            status: "failure",
            ...itemOf(index),
            stage: "settle",
            reason: outcome.reason,
            itemStatus: outcome.itemStatus,
            revertData: outcome.revertData,
            transactionHash,
          });
        }
      }
    } catch (error) {
      for (const index of indices) {
        record({
          status: "failure",
          ...itemOf(index),
          stage: "settle",
          reason: "unexpected_settle_error",
          transactionHash,
          ...nodeFailure(error),
        });
      }
    }
    const l1 = getReceiptL1Data(receipt);
    transactions.push({
      transactionHash,
      receipt,
      items: batchItems.length,
      settled: batchSettled,
      failed: batchItems.length - batchSettled,
      gasUsed: receipt.gasUsed,
      ...(l1 ? { l1Bytes: l1.l1Bytes } : {}),
    });
    progress("confirmed", transactionHash);
  }

  return {
    results: results.map(
      (result, index): AuthorizationSettlement =>
        result ?? {
          status: "failure",
          ...itemOf(index),
          stage: "plan",
          reason: "unexpected_settle_error",
        },
    ),
    transactions,
    settled,
    failed,
  };
}

function submitOptions(
  parameters: SettleAuthorizationsParameters,
): Pick<
  SubmitBatchParameters,
  "timeoutMs" | "maxReplacements" | "feeBumpPercent" | "pollingInterval" | "gasMarginPercent"
> {
  const { timeoutMs, maxReplacements, feeBumpPercent, pollingInterval, gasMarginPercent } =
    parameters;
  return {
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(maxReplacements !== undefined ? { maxReplacements } : {}),
    ...(feeBumpPercent !== undefined ? { feeBumpPercent } : {}),
    ...(pollingInterval !== undefined ? { pollingInterval } : {}),
    ...(gasMarginPercent !== undefined ? { gasMarginPercent } : {}),
  };
}
