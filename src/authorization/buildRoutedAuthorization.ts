import type { Address, Hex } from "viem";

import { buildDirectAuthorization } from "./buildDirectAuthorization.js";
import { computeRoutedNonce } from "./computeRoutedNonce.js";
import { createNonce } from "./createNonce.js";
import { InvalidAuthorizationInputError } from "./errors.js";
import { toAddress, toBytes32, toUint256 } from "./normalize.js";
import type { RoutedAuthorization } from "./types.js";

export type BuildRoutedAuthorizationParameters = {
  /** The payer. */
  from: Address;
  /** The SettlementRouter: the authorization's `to`. */
  router: Address;
  /** Receives `value - fee`. */
  payee: Address;
  /** Total amount the payer authorizes, fee included. */
  value: bigint;
  /** Paid to `feeRecipient` out of `value`. Default 0. */
  fee?: bigint;
  /** The address the relayer will pass to `settle` as `feeRecipient`. */
  feeRecipient: Address;
  /** Default: 32 random bytes. */
  salt?: Hex;
  /** Window length when `validBefore` is not given. Default 300. */
  maxTimeoutSeconds?: number;
  /** Default 0. */
  validAfter?: bigint;
  /** Default `now + maxTimeoutSeconds`. */
  validBefore?: bigint;
  /** The clock for the defaults (Date, or unix seconds). Default: the wall clock. */
  now?: Date | number | bigint;
};

export type BuildRoutedAuthorizationReturnType = RoutedAuthorization;

/**
 * A routed authorization: EIP-3009 `ReceiveWithAuthorization` with `to` = the router and
 * `nonce = keccak256(abi.encode(payee, fee, feeRecipient, salt))`. Only the router can execute
 * it, and it pays `value - fee` to `payee` and `fee` to `feeRecipient`.
 *
 * @example
 * const authorization = buildRoutedAuthorization({
 *   from: payer.address, router, payee: merchant, value: 10_000n, fee: 50n, feeRecipient: relayer,
 * });
 * const signed = await signAuthorization(payer, { domain, authorization });
 */
export function buildRoutedAuthorization(
  parameters: BuildRoutedAuthorizationParameters,
): BuildRoutedAuthorizationReturnType {
  const payee = toAddress("payee", parameters.payee);
  const feeRecipient = toAddress("feeRecipient", parameters.feeRecipient);
  const fee = toUint256("fee", parameters.fee ?? 0n);
  const salt = toBytes32("salt", parameters.salt ?? createNonce());
  const value = toUint256("value", parameters.value);
  if (fee > value) {
    throw new InvalidAuthorizationInputError("fee", `fee ${fee} exceeds value ${value}`);
  }
  const nonce = computeRoutedNonce({ payee, fee, feeRecipient, salt });
  const base = buildDirectAuthorization({
    from: parameters.from,
    to: parameters.router,
    value,
    nonce,
    ...(parameters.maxTimeoutSeconds !== undefined
      ? { maxTimeoutSeconds: parameters.maxTimeoutSeconds }
      : {}),
    ...(parameters.validAfter !== undefined ? { validAfter: parameters.validAfter } : {}),
    ...(parameters.validBefore !== undefined ? { validBefore: parameters.validBefore } : {}),
    ...(parameters.now !== undefined ? { now: parameters.now } : {}),
  });
  return { ...base, kind: "routed", payee, fee, feeRecipient, salt };
}
