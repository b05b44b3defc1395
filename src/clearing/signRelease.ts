import type { Hex, LocalAccount } from "viem";

import { InvalidClearingInputError } from "./errors.js";
import { getReleaseTypedData } from "./getReleaseTypedData.js";
import type { ClearingHouseDomain, Release } from "./types.js";

export type SignReleaseParameters = {
  domain: ClearingHouseDomain;
  release: Release;
};

export type SignReleaseReturnType = { release: Release; signature: Hex };

/**
 * Signs a cooperative release with the operator's local account: anyone may then relay it to
 * `withdrawWithRelease`, which pays `release.amount` to the payer at once, once.
 *
 * @example
 * const { release, signature } = await signRelease(operator, {
 *   domain: getClearingHouseDomain({ chainId: 8453, clearingHouse }),
 *   release: { payer, operator: operator.address, token: USDC_ADDRESS, amount: 5_000_000n,
 *     salt: createNonce(), deadline: Math.floor(Date.now() / 1000) + 3600 },
 * });
 */
export async function signRelease(
  operator: LocalAccount,
  parameters: SignReleaseParameters,
): Promise<SignReleaseReturnType> {
  if (!operator.signTypedData) {
    throw new InvalidClearingInputError(
      "operator",
      `a ${operator.type} account cannot sign typed data`,
    );
  }
  if (operator.address.toLowerCase() !== parameters.release.operator.toLowerCase()) {
    throw new InvalidClearingInputError(
      "operator",
      `the release names operator ${parameters.release.operator}, not the signer ${operator.address}`,
    );
  }
  const signature = await operator.signTypedData(getReleaseTypedData(parameters));
  return { release: parameters.release, signature };
}
