import { type Address } from "viem";

import { CLEARING_HOUSE_DOMAIN_NAME, CLEARING_HOUSE_DOMAIN_VERSION } from "./eip712Types.js";
import type { ClearingHouseDomain } from "./types.js";
import { checksumAddress } from "../crypto/checksumAddress.js";

export type GetClearingHouseDomainParameters = {
  chainId: number;
  clearingHouse: Address;
};

/**
 * The EIP-712 domain vouchers and releases are signed under.
 *
 * @example
 * const domain = getClearingHouseDomain({ chainId: 8453, clearingHouse });
 */
export function getClearingHouseDomain({
  chainId,
  clearingHouse,
}: GetClearingHouseDomainParameters): ClearingHouseDomain {
  return {
    name: CLEARING_HOUSE_DOMAIN_NAME,
    version: CLEARING_HOUSE_DOMAIN_VERSION,
    chainId,
    verifyingContract: checksumAddress(clearingHouse),
  };
}
