import type { Hex } from "viem";

import { SETTLEMENT_ROUTER_SALT } from "./salt.js";
import { SETTLEMENT_ROUTER_BYTECODE } from "./settlementRouter.js";

/**
 * The SettlementRouter deployment this package ships: its creation code and the CREATE2 salt, which
 * {@link ensureRouter} deploys through CreateX to {@link SETTLEMENT_ROUTER_ADDRESS} on any chain.
 */
export const SETTLEMENT_ROUTER_DEPLOYMENT: { readonly bytecode: Hex; readonly salt: Hex } = {
  bytecode: SETTLEMENT_ROUTER_BYTECODE,
  salt: SETTLEMENT_ROUTER_SALT,
};
