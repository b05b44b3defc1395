import type { Address } from "viem";

import { BaseError } from "../errors/base.js";

/**
 * getAuthorizationStates could not read a value: the token is not EIP-3009 (no
 * `authorizationState`), or the node could not run the code-size call.
 */
export class AuthorizationStateReadError extends BaseError {
  override name = "AuthorizationStateReadError";
  readonly token: Address | undefined;

  constructor(token: Address | undefined, read: string) {
    super("Could not read authorization state.", {
      details: token ? `${read} on token ${token} failed` : `${read} failed`,
    });
    this.token = token;
  }
}
