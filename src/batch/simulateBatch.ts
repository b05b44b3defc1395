import {
  decodeFunctionResult,
  encodeFunctionData,
  getAddress,
  hexToBytes,
  parseSignature,
  size,
  type Account,
  type Address,
  type BlockTag,
  type Client,
  type Hex,
} from "viem";
import { call } from "viem/actions";

import { fiatTokenV2_2Abi } from "../abi/fiatTokenV2_2.js";
import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { computeRoutedNonce } from "../authorization/computeRoutedNonce.js";
import { TRANSACTION_GAS_CAP } from "../chain/base.js";
import { encodeItems, type SettlementItem } from "./encodeItems.js";
import { BatchGasExceedsCapError, InvalidBatchInputError } from "./errors.js";
import { decodeRevertReason } from "../errors/decodeRevertReason.js";
import { findRevertData } from "../errors/findRevertData.js";
import { failedItemReason, failedItemStatus, type FailedItemStatus } from "../errors/itemStatus.js";
import type { RevertReason } from "../errors/reasons.js";

export type SimulateBatchParameters = {
  router: Address;
  token: Address;
  /** The fee recipient `settle` will be called with (bound by routed items' nonces). */
  feeRecipient: Address;
  items: readonly SettlementItem[];
  /** Who would send the transaction (settle is permissionless; only the gas accounting changes). */
  account?: Account | Address;
  /** Gas for the simulated call. Default: the 2^24 transaction cap. */
  gas?: bigint;
  /**
   * For items predicted `TokenReverted`, replay the token call alone (from the router) to read
   * its revert data and name the reason. Up to this many items (true = 64). Default true.
   */
  explainFailures?: boolean | number;
  blockNumber?: bigint;
  blockTag?: BlockTag;
};

/** What the router would do with one item. */
export type PredictedOutcome =
  | { status: "success"; index: number; from: Address; nonce: Hex }
  | {
      status: "failure";
      index: number;
      from: Address;
      nonce: Hex;
      itemStatus: FailedItemStatus;
      reason: RevertReason;
      /** The token's revert data, when `explainFailures` replayed the call. */
      revertData?: Hex;
    };

export type SimulateBatchReturnType = {
  /** One per item, in item order. */
  outcomes: PredictedOutcome[];
  settled: number;
  failed: number;
};

/**
 * Runs `settle` as an `eth_call` and decodes the returned `results` (one status byte per item)
 * into predicted per-item outcomes, so failures can be dropped before paying for them
 * ({@link dropFailures}). Token reverts are explained by replaying the single token call from the
 * router against the state before the batch (an item that fails only because of an earlier item of
 * the same batch, e.g. the same payer's second payment draining the balance, replays cleanly and is
 * reported `unknown_revert`). A batch that does not fit the gas throws
 * {@link BatchGasExceedsCapError} (with the number of leading items that fit, when the router says).
 * A call that reverts as a whole for another reason (malformed items, no token code) throws viem's
 * call error; a status byte outside the router's enum throws {@link UnknownItemStatusError}.
 *
 * @example
 * const simulation = await simulateBatch(publicClient, { router, token: USDC_ADDRESS, feeRecipient, items });
 * const { items: good, dropped } = dropFailures({ items, simulation });
 */
export async function simulateBatch(
  client: Client,
  parameters: SimulateBatchParameters,
): Promise<SimulateBatchReturnType> {
  const { items } = parameters;
  if (items.length === 0) throw new InvalidBatchInputError("items", "the batch is empty");
  const router = getAddress(parameters.router);
  const token = getAddress(parameters.token);
  const feeRecipient = getAddress(parameters.feeRecipient);
  const block =
    parameters.blockNumber !== undefined
      ? { blockNumber: parameters.blockNumber }
      : { blockTag: parameters.blockTag ?? ("latest" as const) };

  const request = {
    ...(parameters.account ? { account: parameters.account } : {}),
    to: router,
    data: encodeFunctionData({
      abi: settlementRouterAbi,
      functionName: "settle",
      args: [token, feeRecipient, encodeItems(items)],
    }),
    gas: parameters.gas ?? TRANSACTION_GAS_CAP,
    ...block,
  };
  let data: Hex | undefined;
  try {
    ({ data } = await call(client, request));
  } catch (error) {
    // The router stops when it cannot give an item its gas (SettlementRouterInsufficientGas(index),
    // the items before `index` fit); running out in the router's own code is the same problem.
    const decoded = decodeRevertReason(error);
    if (decoded.reason === "router_insufficient_gas") {
      const [index] = decoded.args as [bigint];
      throw new BatchGasExceedsCapError(request.gas, request.gas, items.length, Number(index));
    }
    if (decoded.reason === "out_of_gas") {
      throw new BatchGasExceedsCapError(request.gas, request.gas, items.length);
    }
    throw error;
  }
  const results = hexToBytes(
    decodeFunctionResult({ abi: settlementRouterAbi, functionName: "settle", data: data ?? "0x" }),
  );
  if (results.length !== items.length) {
    throw new InvalidBatchInputError(
      "items",
      `the router reported ${results.length} results for ${items.length} items`,
    );
  }

  const limit =
    parameters.explainFailures === false
      ? 0
      : typeof parameters.explainFailures === "number"
        ? parameters.explainFailures
        : 64;
  let explained = 0;
  const outcomes = await Promise.all(
    items.map(async (item, index): Promise<PredictedOutcome> => {
      const from = getAddress(item.from);
      const nonce =
        item.kind === "routed"
          ? computeRoutedNonce({ payee: item.payee, fee: item.fee, feeRecipient, salt: item.salt })
          : item.nonce;
      if (results[index] === 0) return { status: "success", index, from, nonce };
      const itemStatus = failedItemStatus(results[index]!);
      let revertData: Hex | undefined;
      if (itemStatus === "TokenReverted" && explained < limit) {
        explained += 1;
        revertData = await replayTokenCall(client, { router, token, item, nonce, block });
      }
      return {
        status: "failure",
        index,
        from,
        nonce,
        itemStatus,
        reason: failedItemReason(itemStatus, revertData),
        ...(revertData !== undefined ? { revertData } : {}),
      };
    }),
  );
  const settled = outcomes.filter((outcome) => outcome.status === "success").length;
  return { outcomes, settled, failed: outcomes.length - settled };
}

/** The token call the router makes for `item`, sent alone from the router; its revert data. */
async function replayTokenCall(
  client: Client,
  args: {
    router: Address;
    token: Address;
    item: SettlementItem;
    nonce: Hex;
    block: { blockNumber: bigint } | { blockTag: BlockTag };
  },
): Promise<Hex | undefined> {
  const { item, router } = args;
  const functionName =
    item.kind === "routed" ? "receiveWithAuthorization" : "transferWithAuthorization";
  const to = item.kind === "routed" ? router : item.to;
  const head = [item.from, to, item.value, item.validAfter, item.validBefore, args.nonce] as const;
  let data: Hex;
  if (item.contractSignature || size(item.signature) !== 65) {
    const signature = item.contractSignature ? item.signature : expandCompact(item.signature);
    data = encodeFunctionData({ abi: fiatTokenV2_2Abi, functionName, args: [...head, signature] });
  } else {
    const { r, s, yParity } = parseSignature(item.signature);
    data = encodeFunctionData({
      abi: fiatTokenV2_2Abi,
      functionName,
      args: [...head, 27 + (yParity ?? 0), r, s],
    });
  }
  try {
    await call(client, { account: router, to: args.token, data, ...args.block });
    return undefined;
  } catch (error) {
    return findRevertData(error);
  }
}

/** 64-byte EIP-2098 `r ‖ yParityAndS` to 65-byte `r ‖ s ‖ v`. */
function expandCompact(signature: Hex): Hex {
  if (size(signature) !== 64) return signature;
  const word = BigInt(`0x${signature.slice(66, 130)}`);
  const v = 27n + (word >> 255n);
  const s = word & ((1n << 255n) - 1n);
  return `${signature.slice(0, 66)}${s.toString(16).padStart(64, "0")}${v.toString(16)}` as Hex;
}
