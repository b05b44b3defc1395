import { hashTypedData, type Hex } from "viem";

import { getAuthorizationTypedData } from "./getAuthorizationTypedData.js";
import type { Authorization, TokenDomain } from "./types.js";

export type HashAuthorizationParameters = {
  domain: TokenDomain;
  authorization: Authorization;
};

/**
 * The EIP-712 digest a payer signs for an authorization (what the token recovers the signer from).
 *
 * @example
 * const digest = hashAuthorization({ domain: getTokenDomain(), authorization });
 */
export function hashAuthorization(parameters: HashAuthorizationParameters): Hex {
  const typedData = getAuthorizationTypedData(parameters);
  // Narrowed per primary type so viem checks the message against its EIP-712 type.
  return typedData.primaryType === "TransferWithAuthorization"
    ? hashTypedData(typedData)
    : hashTypedData(typedData);
}
