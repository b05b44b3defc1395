import type { TransactionReceipt } from "viem";

export type GetReceiptL1DataReturnType = {
  /** The receipt's `l1GasUsed`: 16 gas per estimated compressed byte (Fjord FastLZ model). */
  l1GasUsed: bigint;
  /** Estimated compressed transaction size posted to L1, `l1GasUsed / 16`. */
  l1Bytes: bigint;
  /** The L1 data fee charged, in wei. */
  l1Fee: bigint;
};

/**
 * The L1 data an OP-stack (Base) transaction was charged for, from its receipt's `l1GasUsed` and
 * `l1Fee` fields. Returns undefined for receipts without them (not an OP-stack chain).
 * Benchmarks divide `l1Bytes` by the payments a transaction settled ("L1 bytes per payment").
 *
 * @example
 * const receipt = await publicClient.getTransactionReceipt({ hash });
 * const l1 = getReceiptL1Data(receipt); // { l1GasUsed: 1712n, l1Bytes: 107n, l1Fee: … }
 */
export function getReceiptL1Data(
  receipt: TransactionReceipt,
): GetReceiptL1DataReturnType | undefined {
  // viem formats these fields to bigints for OP-stack chains; chain-less clients keep hex strings.
  const fields = receipt as TransactionReceipt & { l1GasUsed?: unknown; l1Fee?: unknown };
  const l1GasUsed = toBigInt(fields.l1GasUsed);
  if (l1GasUsed === undefined) return undefined;
  return { l1GasUsed, l1Bytes: l1GasUsed / 16n, l1Fee: toBigInt(fields.l1Fee) ?? 0n };
}

function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === "bigint") return value;
  if (typeof value === "string" && /^0x[0-9a-fA-F]+$/.test(value)) return BigInt(value);
  return undefined;
}
