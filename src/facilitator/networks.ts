import { BASE_CHAIN_ID, BASE_SEPOLIA_CHAIN_ID } from "../chain/base.js";
import { FacilitatorConfigurationError } from "./errors.js";

/** The x402 names of one EVM chain: the v1 network name and the v2 CAIP-2 id. */
export interface X402Network {
  chainId: number;
  /** x402 v1 network name, e.g. `"base"`. */
  v1: string;
  /** x402 v2 CAIP-2 id, e.g. `"eip155:8453"`. */
  v2: string;
}

const V1_NAMES: Record<number, string> = {
  [BASE_CHAIN_ID]: "base",
  [BASE_SEPOLIA_CHAIN_ID]: "base-sepolia",
};

/**
 * Resolves an x402 network given as a v1 name (`base`, `base-sepolia`), a CAIP-2 id
 * (`eip155:8453`) or a bare chain id, to both of its x402 spellings.
 *
 * @example
 * resolveX402Network("base"); // { chainId: 8453, v1: "base", v2: "eip155:8453" }
 */
export function resolveX402Network(network: string): X402Network {
  const trimmed = network.trim();
  let chainId: number | undefined;
  const caip = /^eip155:([0-9]{1,12})$/.exec(trimmed);
  if (caip) chainId = Number(caip[1]);
  else if (/^[0-9]{1,12}$/.test(trimmed)) chainId = Number(trimmed);
  else {
    const entry = Object.entries(V1_NAMES).find(([, name]) => name === trimmed);
    if (entry) chainId = Number(entry[0]);
  }
  if (chainId === undefined || !V1_NAMES[chainId]) {
    throw new FacilitatorConfigurationError("Unsupported x402 network.", {
      details: `"${network}"; expected base, base-sepolia or their eip155 ids`,
    });
  }
  return { chainId, v1: V1_NAMES[chainId], v2: `eip155:${chainId}` };
}
