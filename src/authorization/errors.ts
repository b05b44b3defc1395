import { BaseError } from "../errors/base.js";

/**
 * Input to the authorization helpers is malformed (bad address, negative amount, inverted time
 * window, an x402 payload without the `exact` EVM shape...). `reason` is x402's `invalid_payload`,
 * `field` names the offending field.
 */
export class InvalidAuthorizationInputError extends BaseError {
  override name = "InvalidAuthorizationInputError";
  readonly reason = "invalid_payload" as const;
  readonly field: string;

  constructor(field: string, details: string, options: { cause?: unknown } = {}) {
    super(`Invalid authorization input: ${field}.`, { details, cause: options.cause });
    this.field = field;
  }
}

/**
 * The EIP-712 domain names another chain than the one the signer is on: the signature would be
 * valid there, not here (e.g. `getTokenDomain()`, Base mainnet USDC, signed by a Base Sepolia
 * wallet). `reason` is x402's `invalid_exact_evm_network_mismatch`.
 */
export class TokenDomainChainMismatchError extends BaseError {
  override name = "TokenDomainChainMismatchError";
  readonly reason = "invalid_exact_evm_network_mismatch" as const;
  readonly domainChainId: number;
  readonly signerChainId: number;

  constructor(domainChainId: number, signerChainId: number, source: string) {
    super("The token domain is for another chain than the signer's.", {
      details: `domain chainId ${domainChainId}, ${source} chain ${signerChainId}`,
      metaMessages: [
        `Pass the domain of chain ${signerChainId}: getTokenDomain({ chainId: ${signerChainId}, ... }) or readTokenDomain(client, { token }).`,
      ],
    });
    this.domainChainId = domainChainId;
    this.signerChainId = signerChainId;
  }
}
