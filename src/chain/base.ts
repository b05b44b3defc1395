import type { Address } from "viem";

/** Base mainnet's chain id. */
export const BASE_CHAIN_ID = 8453;
/** Base Sepolia's chain id. */
export const BASE_SEPOLIA_CHAIN_ID = 84532;
/** x402 v1 network name and v2 CAIP-2 id of Base mainnet. */
export const BASE_NETWORK_V1 = "base";
export const BASE_NETWORK_V2 = "eip155:8453";

/** Circle's USDC (FiatTokenProxy → FiatTokenV2_2) on Base mainnet. */
export const USDC_ADDRESS: Address = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/** The EIP-712 domain name and version of USDC on Base mainnet. */
export const USDC_EIP712_NAME = "USD Coin";
export const USDC_EIP712_VERSION = "2";
export const USDC_DECIMALS = 6;

/** Multicall3, deployed at the same address on every chain. */
export const MULTICALL3_ADDRESS: Address = "0xcA11bde05977b3631167028862bE2a173976CA11";
/** CreateX, the CREATE2 factory Hardhat Ignition's create2 strategy deploys through. */
export const CREATEX_ADDRESS: Address = "0xba5Ed099633D3B313e4D5F7bdc1305d3c28ba5Ed";

/**
 * Uniswap's Permit2, at the same address on every chain (CREATE2 from the deterministic deployer). Its
 * EIP-712 domain is `{ name: "Permit2", chainId, verifyingContract: PERMIT2_ADDRESS }` (no version).
 */
export const PERMIT2_ADDRESS: Address = "0x000000000022D473030F116dDEE9F6B43aC78BA3";

/** Per-transaction gas cap enforced on Base (EIP-7825): 2^24. */
export const TRANSACTION_GAS_CAP = 16_777_216n;

/**
 * Base mainnet's hardfork activation history, in the shape of a Hardhat 3 chain descriptor's
 * `hardforkHistory`: Bedrock from genesis, then each OP-stack upgrade at its activation time (Base
 * follows the Superchain schedule). EDR needs it to run calls and transactions at historical blocks
 * of a fork. Upgrades EDR does not implement yet (Jovian, 2025-12-02) are left out, so blocks after
 * them run under Isthmus rules.
 */
export const BASE_HARDFORK_HISTORY = {
  bedrock: { blockNumber: 0 },
  regolith: { timestamp: 0 },
  canyon: { timestamp: 1_704_992_401 },
  ecotone: { timestamp: 1_710_374_401 },
  fjord: { timestamp: 1_720_627_201 },
  granite: { timestamp: 1_726_070_401 },
  holocene: { timestamp: 1_736_445_601 },
  isthmus: { timestamp: 1_746_806_401 },
} as const;
