import {
  decodeEventLog,
  getAbiItem,
  isAddressEqual,
  toEventSelector,
  type Address,
  type Hex,
  type Log,
} from "viem";

import { eip3009Abi } from "./abi.js";

/** The payment a proof is sought for: what its authorization moves. */
export interface ProvablePayment {
  token: Address;
  payer: Address;
  payee: Address;
  value: bigint;
  nonce: Hex;
}

/** The logs that prove a payment settled: its authorization's use and the transfer it made. */
export interface SettlementProof {
  transactionHash: Hex;
  blockNumber: bigint;
  /** Log index of `AuthorizationUsed(payer, nonce)`. */
  authorizationLogIndex: number;
  /** Log index of the `Transfer(payer, payee, value)` right after it. */
  transferLogIndex: number;
}

const AUTHORIZATION_USED = toEventSelector(
  getAbiItem({ abi: eip3009Abi, name: "AuthorizationUsed" }),
);
const TRANSFER = toEventSelector(getAbiItem({ abi: eip3009Abi, name: "Transfer" }));

/**
 * Finds, among one transaction's logs (a receipt's), the proof that `payment` settled: the
 * token's `AuthorizationUsed(payer, nonce)` log and, as the very next log of the same token, the
 * `Transfer(payer, payee, value)` that authorization made. EIP-3009 tokens emit these two back to
 * back (FiatTokenV2_2 `_transferWithAuthorization`: `_markAuthorizationAsUsed`, then `_transfer`;
 * the project's X402TestToken and OpenZeppelin's ERC3009 the same), so any other Transfer in the
 * transaction, even one with the same parties and value, belongs to something else. The
 * `(payer, nonce)` pair is used once on chain, so a log pair proves at most one payment.
 *
 * @example
 * const proof = findSettlementProof(receipt.logs, payment);
 * if (proof) resolve(payment, { status: "settled", txHash: proof.transactionHash });
 */
export function findSettlementProof(
  logs: readonly Log[],
  payment: ProvablePayment,
): SettlementProof | undefined {
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
      !isAddressEqual(transfer.to as Address, payment.payee) ||
      transfer.value !== payment.value
    ) {
      return undefined;
    }
    return {
      transactionHash: used.transactionHash!,
      blockNumber: used.blockNumber ?? 0n,
      authorizationLogIndex: used.logIndex ?? 0,
      transferLogIndex: next.logIndex ?? 0,
    };
  }
  return undefined;
}

function decode(log: Log, eventName: "AuthorizationUsed" | "Transfer") {
  try {
    return decodeEventLog({ abi: eip3009Abi, eventName, data: log.data, topics: log.topics })
      .args as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
