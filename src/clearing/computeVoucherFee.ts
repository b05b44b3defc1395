import { InvalidLedgerInputError } from "./ledgerErrors.js";

/**
 * An operator's fee terms: a voucher's `cumulativeFee` must be exactly
 * `floor(cumulativeValue × basisPoints / 10,000)`. Defined on the cumulative value, so every
 * voucher can be checked alone, whatever order concurrent vouchers arrive in.
 */
export type FeeTerms = {
  /** Fee in basis points of the value, an integer in [0, 10,000]. */
  basisPoints: number;
};

/**
 * The `cumulativeFee` a voucher of `cumulativeValue` must carry under `terms`.
 *
 * @example
 * computeVoucherFee({ basisPoints: 100 }, 30_000n); // 300n
 */
export function computeVoucherFee(terms: FeeTerms, cumulativeValue: bigint): bigint {
  const bps = terms.basisPoints;
  if (!Number.isInteger(bps) || bps < 0 || bps > 10_000) {
    throw new InvalidLedgerInputError(
      "basisPoints",
      `must be an integer in [0, 10000], got ${bps}`,
    );
  }
  return (cumulativeValue * BigInt(bps)) / 10_000n;
}
