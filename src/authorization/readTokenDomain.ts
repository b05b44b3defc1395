import { getAddress, type Address, type Client } from "viem";
import { getChainId, readContract } from "viem/actions";

import type { TokenDomain } from "./types.js";

const domainAbi = [
  {
    type: "function",
    name: "eip712Domain",
    stateMutability: "view",
    inputs: [],
    outputs: [
      { name: "fields", type: "bytes1" },
      { name: "name", type: "string" },
      { name: "version", type: "string" },
      { name: "chainId", type: "uint256" },
      { name: "verifyingContract", type: "address" },
      { name: "salt", type: "bytes32" },
      { name: "extensions", type: "uint256[]" },
    ],
  },
  {
    type: "function",
    name: "name",
    stateMutability: "view",
    inputs: [],
    outputs: [{ name: "", type: "string" }],
  },
  {
    type: "function",
    name: "version",
    stateMutability: "view",
    inputs: [],
    outputs: [{ name: "", type: "string" }],
  },
] as const;

export type ReadTokenDomainParameters = { token: Address };
export type ReadTokenDomainReturnType = TokenDomain;

/**
 * Reads a deployed token's EIP-712 domain: EIP-5267 `eip712Domain()` when the token has it
 * (OpenZeppelin tokens), else `name()` and `version()` (USDC's FiatTokenV2_2), with the client's
 * chain id.
 *
 * @example
 * const domain = await readTokenDomain(publicClient, { token: USDC_ADDRESS });
 * // { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: "0x8335…2913" }
 */
export async function readTokenDomain(
  client: Client,
  { token }: ReadTokenDomainParameters,
): Promise<ReadTokenDomainReturnType> {
  const verifyingContract = getAddress(token);
  try {
    const [, name, version, chainId] = await readContract(client, {
      address: verifyingContract,
      abi: domainAbi,
      functionName: "eip712Domain",
    });
    return { name, version, chainId: Number(chainId), verifyingContract };
  } catch {
    const [name, version, chainId] = await Promise.all([
      readContract(client, { address: verifyingContract, abi: domainAbi, functionName: "name" }),
      readContract(client, { address: verifyingContract, abi: domainAbi, functionName: "version" }),
      getChainId(client),
    ]);
    return { name, version, chainId, verifyingContract };
  }
}
