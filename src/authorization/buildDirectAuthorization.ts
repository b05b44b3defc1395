import type { Address, Hex } from "viem";

import { createNonce } from "./createNonce.js";
import { InvalidAuthorizationInputError } from "./errors.js";
import { toAddress, toBytes32, toUint256, toUnixSeconds } from "./normalize.js";
import type { DirectAuthorization } from "./types.js";

export type BuildDirectAuthorizationParameters = {
  /** The payer. */
  from: Address;
  /** The payee (x402 `payTo`). */
  to: Address;
  /** Amount in the token's smallest unit. */
  value: bigint;
  /** Window length when `validBefore` is not given (x402 `maxTimeoutSeconds`). Default 300. */
  maxTimeoutSeconds?: number;
  /** Default 0, as the x402 v2 client. */
  validAfter?: bigint;
  /** Default `now + maxTimeoutSeconds`. */
  validBefore?: bigint;
  /** Default: 32 random bytes. */
  nonce?: Hex;
  /** The clock for the defaults (Date, or unix seconds). Default: the wall clock. */
  now?: Date | number | bigint;
};

export type BuildDirectAuthorizationReturnType = DirectAuthorization;

/**
 * A direct authorization (EIP-3009 `TransferWithAuthorization` to the payee), with the x402 v2
 * client's defaults: random nonce, `validAfter = 0`, `validBefore = now + maxTimeoutSeconds`.
 *
 * @example
 * const authorization = buildDirectAuthorization({ from: payer.address, to: payTo, value: 10_000n });
 * const signed = await signAuthorization(payer, { domain: getTokenDomain(), authorization });
 */
export function buildDirectAuthorization(
  parameters: BuildDirectAuthorizationParameters,
): BuildDirectAuthorizationReturnType {
  const now = toUnixSeconds(parameters.now);
  const maxTimeoutSeconds = parameters.maxTimeoutSeconds ?? 300;
  if (!Number.isSafeInteger(maxTimeoutSeconds) || maxTimeoutSeconds <= 0) {
    throw new InvalidAuthorizationInputError(
      "maxTimeoutSeconds",
      `expected a positive integer, got ${maxTimeoutSeconds}`,
    );
  }
  const validAfter = toUint256("validAfter", parameters.validAfter ?? 0n);
  const validBefore = toUint256(
    "validBefore",
    parameters.validBefore ?? now + BigInt(maxTimeoutSeconds),
  );
  if (validBefore <= validAfter) {
    throw new InvalidAuthorizationInputError(
      "validBefore",
      `must be greater than validAfter (${validAfter}), got ${validBefore}`,
    );
  }
  return {
    kind: "direct",
    from: toAddress("from", parameters.from),
    to: toAddress("to", parameters.to),
    value: toUint256("value", parameters.value),
    validAfter,
    validBefore,
    nonce: toBytes32("nonce", parameters.nonce ?? createNonce()),
  };
}
