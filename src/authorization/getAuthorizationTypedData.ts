import { receiveWithAuthorizationTypes, transferWithAuthorizationTypes } from "./eip712Types.js";
import type { Authorization, TokenDomain } from "./types.js";

export type GetAuthorizationTypedDataParameters = {
  domain: TokenDomain;
  authorization: Authorization;
};

/** The EIP-712 typed data an authorization is signed as, ready for any signer library. */
export type GetAuthorizationTypedDataReturnType =
  | {
      domain: TokenDomain;
      types: typeof transferWithAuthorizationTypes;
      primaryType: "TransferWithAuthorization";
      message: AuthorizationMessage;
    }
  | {
      domain: TokenDomain;
      types: typeof receiveWithAuthorizationTypes;
      primaryType: "ReceiveWithAuthorization";
      message: AuthorizationMessage;
    };

type AuthorizationMessage = Pick<
  Authorization,
  "from" | "to" | "value" | "validAfter" | "validBefore" | "nonce"
>;

/**
 * The EIP-712 typed data of an authorization: `TransferWithAuthorization` for a direct one,
 * `ReceiveWithAuthorization` for a routed one. Feed it to viem's `signTypedData`, ethers'
 * `Wallet.signTypedData(domain, types, message)` or a hardware wallet.
 *
 * @example
 * const { domain, types, message } = getAuthorizationTypedData({ domain: getTokenDomain(), authorization });
 * const signature = await ethersWallet.signTypedData(domain, types, message);
 */
export function getAuthorizationTypedData({
  domain,
  authorization,
}: GetAuthorizationTypedDataParameters): GetAuthorizationTypedDataReturnType {
  const message: AuthorizationMessage = {
    from: authorization.from,
    to: authorization.to,
    value: authorization.value,
    validAfter: authorization.validAfter,
    validBefore: authorization.validBefore,
    nonce: authorization.nonce,
  };
  const tokenDomain: TokenDomain = {
    name: domain.name,
    version: domain.version,
    chainId: domain.chainId,
    verifyingContract: domain.verifyingContract,
  };
  return authorization.kind === "routed"
    ? {
        domain: tokenDomain,
        types: receiveWithAuthorizationTypes,
        primaryType: "ReceiveWithAuthorization",
        message,
      }
    : {
        domain: tokenDomain,
        types: transferWithAuthorizationTypes,
        primaryType: "TransferWithAuthorization",
        message,
      };
}
