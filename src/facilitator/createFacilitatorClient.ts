import { createPublicClient, defineChain, http, type PublicClient } from "viem";
import { base, baseSepolia } from "viem/chains";

import type { X402Network } from "./networks.js";

/**
 * A public client for the facilitator: HTTP JSON-RPC with request batching (concurrent reads of
 * many /verify and /settle calls share round trips) and a short polling interval for receipts.
 *
 * @example
 * const client = createFacilitatorClient(resolveX402Network("base"), "http://127.0.0.1:8545");
 */
export function createFacilitatorClient(
  network: X402Network,
  rpcUrl: string,
  options: { pollingIntervalMs?: number } = {},
): PublicClient {
  const known = [base, baseSepolia].find((chain) => chain.id === network.chainId);
  const chain =
    known ??
    defineChain({
      id: network.chainId,
      name: network.v2,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [rpcUrl] } },
    });
  return createPublicClient({
    chain: { ...chain, rpcUrls: { default: { http: [rpcUrl] } } },
    transport: http(rpcUrl, { batch: { wait: 2, batchSize: 200 }, retryCount: 2, timeout: 20_000 }),
    pollingInterval: options.pollingIntervalMs ?? 250,
  }) as PublicClient;
}
