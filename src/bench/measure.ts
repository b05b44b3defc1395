import { type Hex, type TransactionReceipt, serializeTransaction } from "viem";

import { getAuthorizationStates } from "../authorization/getAuthorizationStates.js";
import { getL1DataEstimate } from "../batch/getL1DataEstimate.js";
import { getReceiptL1Data } from "../batch/getReceiptL1Data.js";
import type { MethodOutcome } from "./methods/types.js";
import type { BenchNodeClient } from "./node.js";

/** Authorization states read per Multicall3 call (its calldata well under the gas cap). */
const STATE_READS_PER_CALL = 1_000;

/** What a run's transactions cost and settled, as measured on chain. */
export interface MeasuredOutcome {
  transactions: number;
  /** Sum of receipt gasUsed (L2 execution incl. intrinsic gas and calldata). */
  gasUsed: bigint;
  /** Sum of the L1 data size estimates, in bytes. */
  l1Bytes: bigint;
  /** Payments whose authorization the token marks used. */
  settled: number;
}

/**
 * The L1 data size of a transaction: the receipt's `l1GasUsed` on an OP-stack node
 * (`getReceiptL1Data`), or the GasPriceOracle's estimate of the transaction when the node's
 * receipts lack it (`getL1DataEstimate`; the oracle adds 68 bytes for the signature).
 */
export async function l1BytesOfReceipt(
  client: BenchNodeClient,
  receipt: TransactionReceipt,
): Promise<bigint> {
  const fromReceipt = getReceiptL1Data(receipt);
  if (fromReceipt) return fromReceipt.l1Bytes;
  const tx = await client.getTransaction({ hash: receipt.transactionHash });
  const serializedTransaction = serializeTransaction({
    type: "eip1559",
    chainId: tx.chainId ?? client.chain.id,
    nonce: tx.nonce,
    to: tx.to ?? undefined,
    data: tx.input,
    value: tx.value,
    gas: tx.gas,
    maxFeePerGas: tx.maxFeePerGas ?? tx.gasPrice,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? 0n,
    accessList: tx.accessList ?? [],
  });
  return (await getL1DataEstimate(client, { serializedTransaction })).l1Bytes;
}

/**
 * Reads what a method's outcome did: each receipt once for gas and L1 bytes, and the token's
 * authorization states for which of the expected payments settled.
 */
export async function measureOutcome(
  client: BenchNodeClient,
  token: Hex,
  outcome: MethodOutcome,
): Promise<MeasuredOutcome> {
  let gasUsed = 0n;
  let l1Bytes = 0n;
  for (const hash of outcome.hashes) {
    const receipt = await client.waitForTransactionReceipt({ hash });
    gasUsed += receipt.gasUsed;
    l1Bytes += await l1BytesOfReceipt(client, receipt);
  }
  // In chunks: one Multicall3 read of every state of a large run exceeds a call's gas.
  let settled = 0;
  for (let i = 0; i < outcome.expected.length; i += STATE_READS_PER_CALL) {
    const states = await getAuthorizationStates(client, {
      token,
      items: outcome.expected
        .slice(i, i + STATE_READS_PER_CALL)
        .map(({ from, nonce }) => ({ from, nonce })),
    });
    settled += states.filter((state) => state.nonceUsed).length;
  }
  return { transactions: outcome.hashes.length, gasUsed, l1Bytes, settled };
}
