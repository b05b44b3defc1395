/** EIP-1559 fees of a transaction. */
export type Eip1559Fees = { maxFeePerGas: bigint; maxPriorityFeePerGas: bigint };

/**
 * The fees of a replacement transaction (same nonce): both of `previous` raised by `percent`
 * (nodes require at least 10) plus one wei, and at least the `current` market estimate when one
 * is given; the priority fee never exceeds the fee cap.
 *
 * @example
 * bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 10n }, 25); // { maxFeePerGas: 126n, maxPriorityFeePerGas: 13n }
 */
export function bumpFees(previous: Eip1559Fees, percent = 25, current?: Eip1559Fees): Eip1559Fees {
  const bump = BigInt(Math.max(10, Math.round(percent)));
  const max = (a: bigint, b: bigint) => (a > b ? a : b);
  const maxPriorityFeePerGas = max(
    (previous.maxPriorityFeePerGas * (100n + bump)) / 100n + 1n,
    current?.maxPriorityFeePerGas ?? 0n,
  );
  let maxFeePerGas = max(
    (previous.maxFeePerGas * (100n + bump)) / 100n + 1n,
    current?.maxFeePerGas ?? 0n,
  );
  if (maxPriorityFeePerGas > maxFeePerGas) maxFeePerGas = maxPriorityFeePerGas;
  return { maxFeePerGas, maxPriorityFeePerGas };
}
