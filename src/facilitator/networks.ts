import type { Address } from "viem";

import { BASE_CHAIN_ID, BASE_SEPOLIA_CHAIN_ID, USDC_ADDRESS } from "../chain/base.js";
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

/** Circle's USDC on each served chain (Base Sepolia: Circle's testnet deployment). */
const CANONICAL_USDC: Record<number, Address> = {
  [BASE_CHAIN_ID]: USDC_ADDRESS,
  [BASE_SEPOLIA_CHAIN_ID]: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
};

/**
 * Circle's canonical USDC on `network`'s chain: the only asset a facilitator accepts unless
 * configured otherwise.
 *
 * @example
 * canonicalUsdc(resolveX402Network("base")); // "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
 */
export function canonicalUsdc(network: X402Network): Address {
  const address = CANONICAL_USDC[network.chainId];
  if (!address) {
    throw new FacilitatorConfigurationError("No canonical USDC on this chain.", {
      details: `chain ${network.chainId}; pass the accepted assets`,
    });
  }
  return address;
}
