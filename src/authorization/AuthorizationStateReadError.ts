import type { Address } from "viem";

/**
 * Thrown by getAuthorizationStates when a read fails: the token is not EIP-3009
 * (no `authorizationState`), or the node could not run the code-size call.
 */
export class AuthorizationStateReadError extends Error {
  override name = "AuthorizationStateReadError";
  readonly token: Address | undefined;
  readonly shortMessage: string;
  readonly details: string;

  constructor(token: Address | undefined, read: string) {
    const details = token ? `${read} on token ${token} failed` : `${read} failed`;
    super(`Could not read authorization state: ${details}`);
    this.token = token;
    this.shortMessage = "Could not read authorization state";
    this.details = details;
  }
}
