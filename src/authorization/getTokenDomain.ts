import { isAddress, type Address } from "viem";

import {
  BASE_CHAIN_ID,
  BASE_SEPOLIA_CHAIN_ID,
  USDC_ADDRESS,
  USDC_EIP712_NAME,
  USDC_EIP712_VERSION,
} from "../chain/base.js";
import { InvalidAuthorizationInputError } from "./errors.js";
import type { TokenDomain } from "./types.js";
import { checksumAddress } from "../crypto/checksumAddress.js";

export type GetTokenDomainParameters = {
  /** Defaults to Base mainnet, 8453. */
  chainId?: number;
  /** The token (verifying contract). Defaults to USDC on `chainId` (Base and Base Sepolia only). */
  token?: Address;
  /** Defaults to the name of USDC on `chainId` (`"USD Coin"` on Base, `"USDC"` on Base Sepolia). */
  name?: string;
  /** Defaults to USDC's `"2"`. */
  version?: string;
};

export type GetTokenDomainReturnType = TokenDomain;

/** USDC's EIP-712 domain on the chains the toolkit knows (as x402's default assets). */
const USDC_DOMAINS: Readonly<Record<number, { token: Address; name: string; version: string }>> = {
  [BASE_CHAIN_ID]: { token: USDC_ADDRESS, name: USDC_EIP712_NAME, version: USDC_EIP712_VERSION },
  [BASE_SEPOLIA_CHAIN_ID]: {
    token: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    name: "USDC",
    version: USDC_EIP712_VERSION,
  },
};

/**
 * The EIP-712 domain of an EIP-3009 token. How the defaults are chosen: `chainId` defaults to
 * Base mainnet (8453), never to the chain a wallet is on; every other omitted field is USDC's on
 * that chain (Base: `"USD Coin"` at 0x8335…2913, Base Sepolia: `"USDC"` at 0x036C…CF7e, both
 * version `"2"`). On another chain `token` is required, and `name` and `version` default to
 * `"USD Coin"` and `"2"`. Use {@link readTokenDomain} to read the domain from the deployed token
 * and its client's chain instead; {@link signAuthorization} refuses a domain of another chain than
 * its signer's.
 *
 * @example
 * const domain = getTokenDomain(); // USDC on Base: "USD Coin", "2", 8453, 0x8335…2913
 * const sepolia = getTokenDomain({ chainId: 84532 }); // USDC on Base Sepolia: "USDC", "2", 0x036C…CF7e
 */
export function getTokenDomain(
  parameters: GetTokenDomainParameters = {},
): GetTokenDomainReturnType {
  const chainId = parameters.chainId ?? BASE_CHAIN_ID;
  if (!Number.isSafeInteger(chainId) || chainId <= 0) {
    throw new InvalidAuthorizationInputError(
      "chainId",
      `expected a positive integer, got ${chainId}`,
    );
  }
  const usdc = USDC_DOMAINS[chainId];
  const token = parameters.token ?? usdc?.token;
  if (token === undefined) {
    throw new InvalidAuthorizationInputError(
      "token",
      `no default token on chain ${chainId} (USDC is known on ${BASE_CHAIN_ID} and ${BASE_SEPOLIA_CHAIN_ID}); pass token, or use readTokenDomain`,
    );
  }
  if (!isAddress(token, { strict: false })) {
    throw new InvalidAuthorizationInputError("token", `"${token}" is not an address`);
  }
  return {
    name: parameters.name ?? usdc?.name ?? USDC_EIP712_NAME,
    version: parameters.version ?? usdc?.version ?? USDC_EIP712_VERSION,
    chainId,
    verifyingContract: checksumAddress(token),
  };
}
