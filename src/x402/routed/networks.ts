import type { Address } from "viem";

import { BASE_CHAIN_ID, BASE_SEPOLIA_CHAIN_ID } from "../../chain/base.js";
import { getTokenDomain } from "../../authorization/getTokenDomain.js";

/** The networks the `routed` scheme serves (CAIP-2), with their chain ids. */
export const ROUTED_NETWORKS: Readonly<Record<string, number>> = {
  "eip155:8453": BASE_CHAIN_ID,
  "eip155:84532": BASE_SEPOLIA_CHAIN_ID,
};

/** USDC on a `routed` network: its address, EIP-712 domain name and version, and decimals. */
export interface RoutedDefaultAsset {
  asset: Address;
  name: string;
  version: string;
  decimals: number;
}

/**
 * The default asset of a `routed` network (Circle's USDC, as `@x402/evm`'s `exact` uses), or
 * undefined for a network the scheme does not serve.
 *
 * @example
 * routedDefaultAsset("eip155:8453"); // { asset: "0x8335…2913", name: "USD Coin", version: "2", decimals: 6 }
 */
export function routedDefaultAsset(network: string): RoutedDefaultAsset | undefined {
  const chainId = ROUTED_NETWORKS[network];
  if (chainId === undefined) return undefined;
  const domain = getTokenDomain({ chainId });
  return {
    asset: domain.verifyingContract,
    name: domain.name,
    version: domain.version,
    decimals: 6,
  };
}
