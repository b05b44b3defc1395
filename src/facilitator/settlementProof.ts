import {
  decodeEventLog,
  getAbiItem,
  isAddressEqual,
  toEventSelector,
  type Address,
  type Hex,
  type Log,
  type TransactionReceipt,
} from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { decodePermit2SettleReceipt } from "../batch/permit2Items.js";
import { eip3009Abi } from "./abi.js";
import { decodeSettlePermit2Call } from "./routedPermit2.js";

/** The payment a proof is sought for: what its authorization moves. */
export interface ProvablePayment {
  token: Address;
  payer: Address;
  /** Direct: the authorization's `to`. Routed: the payee its nonce commits to. */
  payee: Address;
  value: bigint;
  nonce: Hex;
  /** Default direct. `permit2` payments are proven by {@link findPermit2SettlementProof}. */
  kind?: "direct" | "routed" | "permit2";
  /** Permit2: the witness's not-before time and Permit2's deadline, as signed. */
  validAfter?: bigint;
  validBefore?: bigint;
  /** Routed: the fee paid out of `value`. */
  fee?: bigint;
  /** Routed: where the fee is paid. */
  feeRecipient?: Address | null;
}

/** The logs that prove a payment settled: its authorization's use and the transfer it made. */
export interface SettlementProof {
  transactionHash: Hex;
  blockNumber: bigint;
  /** Log index of `AuthorizationUsed(payer, nonce)`. */
  authorizationLogIndex: number;
  /** Log index of the `Transfer(payer, payee, value)` right after it (routed: to the router). */
  transferLogIndex: number;
  /** Routed: log index of the router's later payout to the payee (absent when nothing is owed). */
  payoutLogIndex?: number;
  /** Routed: log index of the router's later fee payout (absent for a zero fee). */
  feeLogIndex?: number;
}

const AUTHORIZATION_USED = toEventSelector(
  getAbiItem({ abi: eip3009Abi, name: "AuthorizationUsed" }),
);
const TRANSFER = toEventSelector(getAbiItem({ abi: eip3009Abi, name: "Transfer" }));
const BATCH_SETTLED = toEventSelector(
  getAbiItem({ abi: settlementRouterAbi, name: "BatchSettled" }),
);

/**
 * Finds, among one transaction's logs (a receipt's), the proof that `payment` settled: the
 * token's `AuthorizationUsed(payer, nonce)` log and, as the very next log of the same token, the
 * `Transfer(payer, payee, value)` that authorization made. EIP-3009 tokens emit these two back to
 * back (FiatTokenV2_2 `_transferWithAuthorization`: `_markAuthorizationAsUsed`, then `_transfer`;
 * the project's X402TestToken and OpenZeppelin's ERC3009 the same), so any other Transfer in the
 * transaction, even one with the same parties and value, belongs to something else. The
 * `(payer, nonce)` pair is used once on chain, so a log pair proves at most one payment.
 *
 * A routed payment (`kind: "routed"`, `router` given) is proven by its own
 * `AuthorizationUsed(payer, nonce)` followed at once by `Transfer(payer, router, value)` (its
 * `receiveWithAuthorization`), and, later in the same transaction, the router's
 * `Transfer(router, payee, ≥ value − fee)` (the payout of its group, netted with its neighbours)
 * and, for a non-zero fee, `Transfer(router, feeRecipient, ≥ fee)`. Only the router can execute
 * the authorization and its nonce binds the payee, fee and fee recipient, so whoever sent the
 * transaction (a front-runner too) settled this very payment; the payout checks are defence in
 * depth.
 *
 * @example
 * const proof = findSettlementProof(receipt.logs, payment);
 * if (proof) resolve(payment, { status: "settled", txHash: proof.transactionHash });
 */
export function findSettlementProof(
  logs: readonly Log[],
  payment: ProvablePayment,
  router?: Address,
): SettlementProof | undefined {
  if (payment.kind === "permit2") return undefined;
  const routed = payment.kind === "routed";
  if (routed && router === undefined) return undefined;
  const to = routed ? router! : payment.payee;
  const ordered = [...logs].sort((a, b) => (a.logIndex ?? 0) - (b.logIndex ?? 0));
  for (let i = 0; i < ordered.length - 1; i++) {
    const used = ordered[i]!;
    if (!isAddressEqual(used.address, payment.token)) continue;
    if (used.topics[0] !== AUTHORIZATION_USED) continue;
    const usedArgs = decode(used, "AuthorizationUsed");
    if (!usedArgs || !isAddressEqual(usedArgs.authorizer as Address, payment.payer)) continue;
    if ((usedArgs.nonce as Hex).toLowerCase() !== payment.nonce.toLowerCase()) continue;
    const next = ordered[i + 1]!;
    if (
      next.transactionHash !== used.transactionHash ||
      (next.logIndex ?? -1) !== (used.logIndex ?? -2) + 1 ||
      !isAddressEqual(next.address, payment.token) ||
      next.topics[0] !== TRANSFER
    ) {
      return undefined;
    }
    const transfer = decode(next, "Transfer");
    if (
      !transfer ||
      !isAddressEqual(transfer.from as Address, payment.payer) ||
      !isAddressEqual(transfer.to as Address, to) ||
      transfer.value !== payment.value
    ) {
      return undefined;
    }
    const proof: SettlementProof = {
      transactionHash: used.transactionHash!,
      blockNumber: used.blockNumber ?? 0n,
      authorizationLogIndex: used.logIndex ?? 0,
      transferLogIndex: next.logIndex ?? 0,
    };
    if (!routed) return proof;
    const fee = payment.fee ?? 0n;
    const later = ordered
      .slice(i + 2)
      .filter((log) => log.transactionHash === used.transactionHash);
    if (payment.value > fee) {
      const payout = findRouterTransfer(
        later,
        payment.token,
        router!,
        payment.payee,
        payment.value - fee,
      );
      if (!payout) return undefined;
      proof.payoutLogIndex = payout.logIndex ?? 0;
    }
    if (fee > 0n) {
      if (!payment.feeRecipient) return undefined;
      const paid = findRouterTransfer(later, payment.token, router!, payment.feeRecipient, fee);
      if (!paid) return undefined;
      proof.feeLogIndex = paid.logIndex ?? 0;
    }
    return proof;
  }
  return undefined;
}

/** The first `Transfer(from, to, ≥ atLeast)` of `token` among `logs`. */
function findRouterTransfer(
  logs: readonly Log[],
  token: Address,
  from: Address,
  to: Address,
  atLeast: bigint,
): Log | undefined {
  return logs.find((log) => {
    if (!isAddressEqual(log.address, token) || log.topics[0] !== TRANSFER) return false;
    const transfer = decode(log, "Transfer");
    return (
      transfer !== undefined &&
      isAddressEqual(transfer.from as Address, from) &&
      isAddressEqual(transfer.to as Address, to) &&
      (transfer.value as bigint) >= atLeast
    );
  });
}

function decode(log: Log, eventName: "AuthorizationUsed" | "Transfer") {
  try {
    return decodeEventLog({ abi: eip3009Abi, eventName, data: log.data, topics: log.topics })
      .args as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * The proof that a `permit2` payment settled in one router transaction (`receipt`, sent with
 * calldata `input`): the transaction is a successful `settlePermit2` of the payment's token to the
 * router, one of its packed items is this very payment (owner, Permit2 nonce, payee, amount, fee,
 * fee recipient, validAfter, deadline), the router's `BatchSettled` reports that item settled, and
 * the logs hold the token's `Transfer(payer, router, value)` and the router's payouts to the payee
 * (≥ value − fee) and the fee recipient (≥ fee). Permit2 consumes `(owner, nonce)` once, only the
 * router (the spender) can consume it, and it checked the signature over exactly these witness
 * fields in that call: so the item's success is this payment, whoever sent the transaction (a
 * front-runner too). A payer who signed another witness with the same nonce and had it settled
 * first is not proven by it (the item differs). `authorizationLogIndex` is the `BatchSettled` log.
 *
 * @example
 * const proof = findPermit2SettlementProof({ receipt, input: tx.input, payment, router });
 */
export function findPermit2SettlementProof({
  receipt,
  input,
  payment,
  router,
}: {
  receipt: TransactionReceipt;
  input: Hex;
  payment: ProvablePayment & { validAfter: bigint; validBefore: bigint };
  router: Address;
}): SettlementProof | undefined {
  if (receipt.status !== "success" || !receipt.to || !isAddressEqual(receipt.to, router)) {
    return undefined;
  }
  const call = decodeSettlePermit2Call(input);
  if (!call || !isAddressEqual(call.token, payment.token)) return undefined;
  if (!payment.feeRecipient || !isAddressEqual(call.feeRecipient, payment.feeRecipient)) {
    return undefined;
  }
  const nonce = BigInt(payment.nonce);
  const fee = payment.fee ?? 0n;
  const index = call.items.findIndex(
    (item) =>
      isAddressEqual(item.owner, payment.payer) &&
      item.nonce === nonce &&
      isAddressEqual(item.payee, payment.payee) &&
      item.amount === payment.value &&
      item.fee === fee &&
      item.validAfter === payment.validAfter &&
      item.deadline === payment.validBefore,
  );
  if (index < 0) return undefined;
  let results;
  try {
    results = decodePermit2SettleReceipt({ receipt, router, items: call.items });
  } catch {
    return undefined;
  }
  if (results[index]?.status !== "success") return undefined;
  const logs = receipt.logs.filter((log) => log.transactionHash === receipt.transactionHash);
  const transfer = findRouterTransfer(logs, payment.token, payment.payer, router, payment.value);
  if (!transfer) return undefined;
  const settled = logs.find(
    (log) => isAddressEqual(log.address, router) && log.topics[0] === BATCH_SETTLED,
  );
  const proof: SettlementProof = {
    transactionHash: receipt.transactionHash,
    blockNumber: receipt.blockNumber,
    authorizationLogIndex: settled?.logIndex ?? 0,
    transferLogIndex: transfer.logIndex ?? 0,
  };
  const later = logs.filter((log) => (log.logIndex ?? 0) > (transfer.logIndex ?? 0));
  if (payment.value > fee) {
    const payout = findRouterTransfer(
      later,
      payment.token,
      router,
      payment.payee,
      payment.value - fee,
    );
    if (!payout) return undefined;
    proof.payoutLogIndex = payout.logIndex ?? 0;
  }
  if (fee > 0n) {
    const paid = findRouterTransfer(later, payment.token, router, payment.feeRecipient, fee);
    if (!paid) return undefined;
    proof.feeLogIndex = paid.logIndex ?? 0;
  }
  return proof;
}
