import { type Hex, hashDomain } from "viem";

import type { ClearingHouseDomain } from "./types.js";

/**
 * The EIP-712 domain separator of a ClearingHouse domain: compute it once and pass it to
 * {@link hashVoucher} and {@link verifyVoucher}, which then hash a voucher with two keccak calls.
 *
 * @example
 * const domainSeparator = getDomainSeparator(getClearingHouseDomain({ chainId: 8453, clearingHouse }));
 */
export function getDomainSeparator(domain: ClearingHouseDomain): Hex {
  return hashDomain({
    domain: { ...domain, chainId: BigInt(domain.chainId) },
    types: {
      EIP712Domain: [
        { name: "name", type: "string" },
        { name: "version", type: "string" },
        { name: "chainId", type: "uint256" },
        { name: "verifyingContract", type: "address" },
      ],
    },
  });
}
