import { type LocalAccount, isAddressEqual } from "viem";

import { receiveWithAuthorizationTypes } from "../authorization/eip712Types.js";
import type { TokenDomain } from "../authorization/types.js";
import { InvalidClearingInputError } from "./errors.js";
import type { DepositAuthorization, SignedDepositAuthorization } from "./types.js";

export type SignDepositAuthorizationParameters = {
  /** The token's EIP-712 domain (USDC on Base: `getTokenDomain()`). */
  domain: TokenDomain;
  authorization: DepositAuthorization;
};

export type SignDepositAuthorizationReturnType = SignedDepositAuthorization;

/**
 * Signs a deposit authorization (`ReceiveWithAuthorization` under the token's domain) with the
 * payer's local account.
 *
 * @example
 * const signed = await signDepositAuthorization(payer, { domain: getTokenDomain(), authorization });
 */
export async function signDepositAuthorization(
  payer: LocalAccount,
  { domain, authorization }: SignDepositAuthorizationParameters,
): Promise<SignDepositAuthorizationReturnType> {
  if (!isAddressEqual(payer.address, authorization.from)) {
    throw new InvalidClearingInputError(
      "from",
      `the signer ${payer.address} is not the authorization's from ${authorization.from}`,
    );
  }
  if (!payer.signTypedData) {
    throw new InvalidClearingInputError("signer", `a ${payer.type} account cannot sign typed data`);
  }
  const signature = await payer.signTypedData({
    domain: {
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    types: receiveWithAuthorizationTypes,
    primaryType: "ReceiveWithAuthorization",
    message: {
      from: authorization.from,
      to: authorization.to,
      value: authorization.value,
      validAfter: authorization.validAfter,
      validBefore: authorization.validBefore,
      nonce: authorization.nonce,
    },
  });
  return { ...authorization, signature };
}
