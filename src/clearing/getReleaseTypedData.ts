import { releaseTypes } from "./eip712Types.js";
import type { ClearingHouseDomain, Release } from "./types.js";

export type GetReleaseTypedDataParameters = {
  domain: ClearingHouseDomain;
  release: Release;
};

export type GetReleaseTypedDataReturnType = {
  domain: ClearingHouseDomain;
  types: typeof releaseTypes;
  primaryType: "Release";
  message: Release;
};

/**
 * The EIP-712 typed data of an operator's cooperative release, ready for any signer library.
 *
 * @example
 * const typedData = getReleaseTypedData({ domain, release });
 * const signature = await operator.signTypedData(typedData);
 */
export function getReleaseTypedData({
  domain,
  release,
}: GetReleaseTypedDataParameters): GetReleaseTypedDataReturnType {
  return {
    domain: {
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    types: releaseTypes,
    primaryType: "Release",
    message: {
      payer: release.payer,
      operator: release.operator,
      token: release.token,
      amount: release.amount,
      salt: release.salt,
      deadline: release.deadline,
    },
  };
}
