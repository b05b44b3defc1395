import {
  isAddressEqual,
  type Account,
  type Client,
  type Hex,
  type Transport,
  type Chain,
} from "viem";
import { signTypedData } from "viem/actions";

import { InvalidAuthorizationInputError, TokenDomainChainMismatchError } from "./errors.js";
import { getAuthorizationTypedData } from "./getAuthorizationTypedData.js";
import type { Authorization, SignedAuthorization, TokenDomain } from "./types.js";

/** A viem Account that can sign locally, or a client (WalletClient) with or without an account. */
export type AuthorizationSigner =
  Account | Client<Transport, Chain | undefined, Account | undefined>;

export type SignAuthorizationParameters<authorization extends Authorization> = {
  domain: TokenDomain;
  authorization: authorization;
  /** With a client signer: the account to sign with (default: the client's account). */
  account?: Account;
  /**
   * The chain the authorization is meant for, when the signer does not say (a bare account).
   * A client signer's own `chain` is checked without it. Either way, a domain of another chain is
   * refused with {@link TokenDomainChainMismatchError}.
   */
  chainId?: number;
};

export type SignAuthorizationReturnType<authorization extends Authorization> =
  SignedAuthorization<authorization>;

/**
 * Signs an authorization with EIP-712 `signTypedData`: with a local account (private key,
 * mnemonic, HD), a smart account, or a WalletClient (local account or JSON-RPC
 * `eth_signTypedData_v4`). Checks that the signer is the authorization's `from`, and that the
 * domain's `chainId` is the signer's chain when that is known (the client's `chain`, or the
 * `chainId` parameter): a mismatch throws {@link TokenDomainChainMismatchError} instead of
 * signing an authorization valid on another chain. A smart account's signature is marked
 * `contractSignature` (verified on chain through ERC-1271).
 *
 * @example
 * const payer = privateKeyToAccount(key);
 * const authorization = buildDirectAuthorization({ from: payer.address, to: payTo, value: 10_000n });
 * const signed = await signAuthorization(payer, { domain: getTokenDomain(), authorization });
 * // with a JSON-RPC wallet:
 * const signed2 = await signAuthorization(walletClient, { domain, authorization });
 */
export async function signAuthorization<authorization extends Authorization>(
  signer: AuthorizationSigner,
  parameters: SignAuthorizationParameters<authorization>,
): Promise<SignAuthorizationReturnType<authorization>> {
  checkChain(signer, parameters);
  const typedData = getAuthorizationTypedData(parameters);
  let account: Account | undefined;
  let signature: Hex;
  if ("request" in signer) {
    account = parameters.account ?? signer.account;
    if (!account) {
      throw new InvalidAuthorizationInputError(
        "signer",
        "the client has no account; pass `account` or use a client created with one",
      );
    }
    checkSigner(account, parameters.authorization);
    signature =
      typedData.primaryType === "TransferWithAuthorization"
        ? await signTypedData(signer, { account, ...typedData })
        : await signTypedData(signer, { account, ...typedData });
  } else {
    account = signer;
    checkSigner(account, parameters.authorization);
    if (!account.signTypedData) {
      throw new InvalidAuthorizationInputError(
        "signer",
        `a ${account.type} account cannot sign by itself; pass a WalletClient that holds it`,
      );
    }
    signature =
      typedData.primaryType === "TransferWithAuthorization"
        ? await account.signTypedData(typedData)
        : await account.signTypedData(typedData);
  }
  return {
    ...parameters.authorization,
    signature,
    ...(account.type === "smart" ? { contractSignature: true } : {}),
  };
}

function checkChain(
  signer: AuthorizationSigner,
  parameters: SignAuthorizationParameters<Authorization>,
): void {
  const domainChainId = Number(parameters.domain.chainId);
  if (parameters.chainId !== undefined && parameters.chainId !== domainChainId) {
    throw new TokenDomainChainMismatchError(domainChainId, parameters.chainId, "chainId parameter");
  }
  const clientChainId = "request" in signer ? signer.chain?.id : undefined;
  if (clientChainId !== undefined && clientChainId !== domainChainId) {
    throw new TokenDomainChainMismatchError(domainChainId, clientChainId, "client");
  }
}

function checkSigner(account: Account, authorization: Authorization): void {
  if (!isAddressEqual(account.address, authorization.from)) {
    throw new InvalidAuthorizationInputError(
      "from",
      `the signer ${account.address} is not the authorization's from ${authorization.from}`,
    );
  }
}
