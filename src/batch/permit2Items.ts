import {
  decodeFunctionResult,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  hexToBytes,
  isAddressEqual,
  numberToHex,
  parseEventLogs,
  type Address,
  type Client,
  type Hex,
  type TransactionReceipt,
} from "viem";
import { readContract } from "viem/actions";

import { multicall3Abi } from "../abi/multicall3.js";
import { permit2Abi } from "../abi/permit2.js";
import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { MULTICALL3_ADDRESS, PERMIT2_ADDRESS } from "../chain/base.js";
import { failedItemReason, failedItemStatus } from "../errors/itemStatus.js";
import type { RevertReason } from "../errors/reasons.js";
import { permit2NoncePosition } from "../permit2/nonces.js";
import {
  encodePermit2Items,
  verifyRouterPermit2Signature,
  type SignedRouterPermit2Payment,
} from "../permit2/router.js";
import type { SettlementResult } from "./decodeSettleReceipt.js";
import {
  InvalidBatchInputError,
  SettleReceiptMismatchError,
  SettleTransactionRevertedError,
} from "./errors.js";
import { submitBatch, type SubmitBatchParameters, type SubmitClient } from "./submitBatch.js";

/** A Permit2 item the router settled or reported failed, by batch index. */
export type Permit2SettlementResult = SettlementResult;

/**
 * Plans `settlePermit2` batches: the payments of one token, router and fee recipient, ordered so
 * that each payee's payments are adjacent (one netted payout per payee and batch), in batches of
 * at most `maxItemsPerBatch` items. A payer's EIP-2612 permit stays on the first of its payments.
 *
 * @example
 * const batches = planPermit2Batches({ items: signed, maxItemsPerBatch: 100 });
 */
export function planPermit2Batches({
  items,
  maxItemsPerBatch,
}: {
  items: readonly SignedRouterPermit2Payment[];
  maxItemsPerBatch: number;
}): SignedRouterPermit2Payment[][] {
  if (!Number.isInteger(maxItemsPerBatch) || maxItemsPerBatch < 1) {
    throw new InvalidBatchInputError(
      "maxItemsPerBatch",
      `must be a positive integer, got ${maxItemsPerBatch}`,
    );
  }
  const first = items[0];
  if (!first) return [];
  for (const [i, item] of items.entries()) {
    for (const field of ["token", "router", "feeRecipient"] as const) {
      if (!isAddressEqual(item[field], first[field])) {
        throw new InvalidBatchInputError(`items[${i}].${field}`, `differs from items[0].${field}`);
      }
    }
  }
  const byPayee = new Map<string, SignedRouterPermit2Payment[]>();
  for (const item of items) {
    const key = getAddress(item.payee);
    const group = byPayee.get(key);
    if (group) group.push(item);
    else byPayee.set(key, [item]);
  }
  const ordered = [...byPayee.values()].flat();
  const batches: SignedRouterPermit2Payment[][] = [];
  for (let i = 0; i < ordered.length; i += maxItemsPerBatch) {
    batches.push(ordered.slice(i, i + maxItemsPerBatch));
  }
  return batches;
}

export type SubmitPermit2BatchParameters = Omit<
  SubmitBatchParameters,
  "items" | "entryPoint" | "router" | "token" | "feeRecipient"
> & {
  /** The signed payments of one token, router and fee recipient. */
  items: readonly SignedRouterPermit2Payment[];
};

/**
 * Sends one `settlePermit2` transaction for `items` through {@link submitBatch} (gas estimate,
 * fees, replacement of a stuck transaction) and decodes its per-item results.
 *
 * @example
 * const { receipt, results } = await submitPermit2Batch(walletClient, { items: batch });
 */
export async function submitPermit2Batch(
  client: SubmitClient,
  { items, ...parameters }: SubmitPermit2BatchParameters,
) {
  const first = items[0];
  if (!first) throw new InvalidBatchInputError("items", "the batch is empty");
  planPermit2Batches({ items, maxItemsPerBatch: items.length });
  const submitted = await submitBatch(client, {
    ...parameters,
    router: first.router,
    token: first.token,
    feeRecipient: first.feeRecipient,
    items: encodePermit2Items(items),
    entryPoint: "settlePermit2",
  });
  const results = decodePermit2SettleReceipt({
    receipt: submitted.receipt,
    router: first.router,
    items,
  });
  return { ...submitted, results };
}

/**
 * Turns a `settlePermit2` receipt into per-item results, ordered by item index: the router's
 * `BatchSettled` gives every status, a failed item's `PaymentFailed` its Permit2 (or token, or
 * permit) revert data, decoded into a reason through the toolkit's one status mapping. Payers and
 * nonces come from `items` (Permit2 emits no per-transfer event of its own), checked against every
 * `PaymentFailed`.
 *
 * @example
 * const results = decodePermit2SettleReceipt({ receipt, router, items: batch });
 */
export function decodePermit2SettleReceipt({
  receipt,
  router,
  items,
}: {
  receipt: TransactionReceipt;
  router: Address;
  items: readonly Pick<SignedRouterPermit2Payment, "owner" | "nonce">[];
}): Permit2SettlementResult[] {
  const transactionHash = receipt.transactionHash;
  const mismatch = (details: string) => new SettleReceiptMismatchError(transactionHash, details);
  if (receipt.status !== "success") throw new SettleTransactionRevertedError(transactionHash);
  const logs = parseEventLogs({
    abi: settlementRouterAbi,
    logs: receipt.logs.filter((log) => isAddressEqual(log.address, router)),
    strict: true,
  });
  const batches = logs.flatMap((log) => (log.eventName === "BatchSettled" ? [log] : []));
  if (batches.length !== 1) {
    throw mismatch(`expected one BatchSettled event of ${router}, found ${batches.length}`);
  }
  const statuses = hexToBytes(batches[0]!.args.results);
  if (statuses.length !== items.length) {
    throw mismatch(`the router reports ${statuses.length} items, expected ${items.length}`);
  }
  const failures = new Map<number, (typeof logs)[number] & { eventName: "PaymentFailed" }>();
  for (const log of logs) {
    if (log.eventName !== "PaymentFailed") continue;
    const index = Number(log.args.index);
    if (failures.has(index)) throw mismatch(`item ${index} is reported failed twice`);
    failures.set(index, log);
  }
  const results = Array.from(statuses, (status, index): Permit2SettlementResult => {
    const item = items[index]!;
    const from = getAddress(item.owner);
    const nonce = numberToHex(item.nonce, { size: 32 });
    if (status === 0) return { status: "success", index, from, nonce, transactionHash };
    const log = failures.get(index);
    if (!log || log.args.status !== status) {
      throw mismatch(`no PaymentFailed event with status ${status} for failed item ${index}`);
    }
    if (!isAddressEqual(log.args.authorizer, from) || log.args.nonce !== nonce) {
      throw mismatch(`item ${index}'s PaymentFailed names another payer or nonce`);
    }
    const itemStatus = failedItemStatus(status);
    return {
      status: "failure",
      index,
      from,
      nonce,
      transactionHash,
      itemStatus,
      reason: failedItemReason(itemStatus, log.args.reason),
      revertData: log.args.reason,
    };
  });
  if (failures.size !== results.filter((r) => r.status === "failure").length) {
    throw mismatch("a PaymentFailed event names an item the router reports settled");
  }
  return results;
}

/** What {@link verifyRouterPermit2Payments} found for one payment. */
export type RouterPermit2Verdict =
  | { valid: true }
  | {
      valid: false;
      reason:
        | RevertReason
        | "permit2_allowance_required"
        | "permit2_insufficient_balance"
        | "invalid_permit2_spender";
      details: string;
    };

/**
 * The facilitator's check of router Permit2 payments before it batches them, mirroring what the
 * router and Permit2 will accept: the router is the spender, the fee fits the amount, the time
 * window (`validAfter` strictly before and `deadline` not before `now`), the EOA signature over
 * the rebuilt witness (offline), and on chain, in ONE Multicall3 call: the nonce unused in
 * Permit2's bitmap, the owner's balance, and its allowance to Permit2 (unless the payment carries
 * an EIP-2612 permit, which the router runs first). Owners with code (ERC-1271) are left to the
 * router's simulation.
 *
 * @example
 * const verdicts = await verifyRouterPermit2Payments(publicClient, { chainId, router, payments });
 * const accepted = payments.filter((_, i) => verdicts[i].valid);
 */
export async function verifyRouterPermit2Payments(
  client: Client,
  {
    chainId,
    router,
    payments,
    now = BigInt(Math.floor(Date.now() / 1000)),
    permit2 = PERMIT2_ADDRESS,
    multicallAddress = MULTICALL3_ADDRESS,
  }: {
    chainId: number;
    router: Address;
    payments: readonly SignedRouterPermit2Payment[];
    now?: bigint;
    permit2?: Address;
    multicallAddress?: Address;
  },
): Promise<RouterPermit2Verdict[]> {
  const calls = payments.flatMap((p) => [
    {
      target: permit2,
      allowFailure: true,
      callData: encodeFunctionData({
        abi: permit2Abi,
        functionName: "nonceBitmap",
        args: [p.owner, permit2NoncePosition(p.nonce).word],
      }),
    },
    {
      target: p.token,
      allowFailure: true,
      callData: encodeFunctionData({ abi: erc20Abi, functionName: "balanceOf", args: [p.owner] }),
    },
    {
      target: p.token,
      allowFailure: true,
      callData: encodeFunctionData({
        abi: erc20Abi,
        functionName: "allowance",
        args: [p.owner, permit2],
      }),
    },
  ]);
  const answers =
    calls.length === 0
      ? []
      : await readContract(client, {
          address: multicallAddress,
          abi: multicall3Abi,
          functionName: "aggregate3",
          args: [calls],
        });
  const word = (i: number): bigint | undefined => {
    const answer = answers[i];
    if (!answer?.success || answer.returnData.length < 66) return undefined;
    return decodeFunctionResult({
      abi: erc20Abi,
      functionName: "balanceOf",
      data: answer.returnData,
    });
  };
  return payments.map((p, i): RouterPermit2Verdict => {
    const refuse = (
      reason: Extract<RouterPermit2Verdict, { valid: false }>["reason"],
      details: string,
    ) => ({ valid: false, reason, details }) as const;
    if (!isAddressEqual(p.router, router)) {
      return refuse(
        "invalid_permit2_spender",
        `the spender is ${p.router}, not the router ${router}`,
      );
    }
    if (p.fee > p.amount)
      return refuse("router_fee_exceeds_value", `fee ${p.fee} > amount ${p.amount}`);
    if (now <= p.validAfter) return refuse("permit2_not_yet_valid", `validAfter ${p.validAfter}`);
    if (now > p.deadline) return refuse("permit2_deadline_expired", `deadline ${p.deadline}`);
    if (!p.contractSignature) {
      const signature = verifyRouterPermit2Signature({ chainId, payment: p, permit2 });
      if (!signature.valid) return refuse("invalid_permit2_signature", signature.reason);
    }
    const [bitmap, balance, allowance] = [word(3 * i), word(3 * i + 1), word(3 * i + 2)];
    if (bitmap === undefined || balance === undefined || allowance === undefined) {
      return refuse("unknown_revert", "reading Permit2's nonce bitmap or the token failed");
    }
    if ((bitmap >> BigInt(permit2NoncePosition(p.nonce).bit)) & 1n) {
      return refuse("permit2_invalid_nonce", `nonce ${p.nonce} is used`);
    }
    if (balance < p.amount) {
      return refuse("permit2_insufficient_balance", `balance ${balance} < amount ${p.amount}`);
    }
    if (!p.permit && allowance < p.amount) {
      return refuse(
        "permit2_allowance_required",
        `allowance to Permit2 ${allowance} < amount ${p.amount}`,
      );
    }
    if (p.permit && allowance < p.amount && p.permit.value < p.amount) {
      return refuse(
        "permit2_allowance_required",
        `the permit approves ${p.permit.value} < amount ${p.amount}`,
      );
    }
    return { valid: true };
  });
}
