import { parseAbi } from "viem";

import { iSettlementRouterAbi } from "../abi/iSettlementRouter.js";
import { permit2Abi } from "../abi/permit2.js";
import { x402TestTokenAbi } from "../abi/x402TestToken.js";

/** Errors of EIP-3009 tokens that are neither USDC nor the project's test token. */
const otherTokenErrorsAbi = parseAbi([
  // OpenZeppelin Pausable (tokens built on OpenZeppelin with pausing)
  "error EnforcedPause()",
]);

/**
 * The custom errors the decoder knows: the test token's generated ABI (its own, OpenZeppelin's ERC3009,
 * ECDSA, ERC20, permit and access-control errors), the SettlementRouter's interface, Permit2's, and a few more
 * token errors. `decodeErrorResult` matches revert data to these by selector.
 */
export const revertErrorsAbi = [
  ...x402TestTokenAbi,
  ...iSettlementRouterAbi,
  ...permit2Abi.filter((item) => item.type === "error"),
  ...otherTokenErrorsAbi,
] as const;
