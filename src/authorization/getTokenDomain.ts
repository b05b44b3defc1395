import { getAddress, type Address } from "viem";

import {
  BASE_CHAIN_ID,
  USDC_ADDRESS,
  USDC_EIP712_NAME,
  USDC_EIP712_VERSION,
} from "../chain/base.js";
import type { TokenDomain } from "./types.js";

export type GetTokenDomainParameters = {
  /** Defaults to Base mainnet, 8453. */
  chainId?: number;
  /** The token (verifying contract). Defaults to USDC on Base. */
  token?: Address;
  /** Defaults to USDC's `"USD Coin"`. */
  name?: string;
  /** Defaults to USDC's `"2"`. */
  version?: string;
};

export type GetTokenDomainReturnType = TokenDomain;

/**
 * The EIP-712 domain of an EIP-3009 token; every field defaults to USDC on Base mainnet.
 * Use {@link readTokenDomain} to read name and version from a deployed token instead.
 *
 * @example
 * const domain = getTokenDomain(); // USDC on Base: "USD Coin", "2", 8453, 0x8335…2913
 * const sepolia = getTokenDomain({ chainId: 84532, token: "0x036C…CF7e", name: "USDC" });
 */
export function getTokenDomain(
  parameters: GetTokenDomainParameters = {},
): GetTokenDomainReturnType {
  return {
    name: parameters.name ?? USDC_EIP712_NAME,
    version: parameters.version ?? USDC_EIP712_VERSION,
    chainId: parameters.chainId ?? BASE_CHAIN_ID,
    verifyingContract: getAddress(parameters.token ?? USDC_ADDRESS),
  };
}
