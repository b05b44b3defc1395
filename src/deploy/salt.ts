import type { Hex } from "viem";

/**
 * The CREATE2 salt the SettlementRouter is deployed with through CreateX (`deployCreate2(salt, initCode)`):
 * zero sender bytes and no cross-chain flag (byte 20 = 0x00), so the router's address depends only on its
 * creation code and is the same on every chain. Hardhat Ignition's `create2` strategy uses the same salt.
 */
export const SETTLEMENT_ROUTER_SALT: Hex =
  "0x000000000000000000000000000000000000000000783430322d726f75746572";
