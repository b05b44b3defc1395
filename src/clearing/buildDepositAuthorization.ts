import { type Address, type Hex, zeroAddress } from "viem";

import { buildDirectAuthorization } from "../authorization/buildDirectAuthorization.js";
import { createNonce } from "../authorization/createNonce.js";
import { toAddress, toBytes32 } from "../authorization/normalize.js";
import { computeDepositNonce } from "./computeDepositNonce.js";
import type { DepositAuthorization } from "./types.js";

export type BuildDepositAuthorizationParameters = {
  /** The payer. */
  from: Address;
  /** The ClearingHouse: the authorization's `to`. */
  clearingHouse: Address;
  /** The operator whose account is credited. */
  operator: Address;
  /** The session key that may sign vouchers beside the payer. Default: none (zero address). */
  voucherSigner?: Address;
  /** Amount in the token's smallest unit. */
  value: bigint;
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

export type BuildDepositAuthorizationReturnType = DepositAuthorization;

/**
 * A deposit into the account (payer, operator, token): EIP-3009 `ReceiveWithAuthorization` with
 * `to` = the ClearingHouse and `nonce = keccak256(abi.encode(operator, voucherSigner, salt))`.
 * Only the ClearingHouse can execute it, and it cannot be credited to another operator or name
 * another voucher signer. Sign it with {@link signDepositAuthorization}.
 *
 * @example
 * const authorization = buildDepositAuthorization({
 *   from: payer.address, clearingHouse, operator, voucherSigner: sessionKey.address, value: 5_000_000n,
 * });
 */
export function buildDepositAuthorization(
  parameters: BuildDepositAuthorizationParameters,
): BuildDepositAuthorizationReturnType {
  const operator = toAddress("operator", parameters.operator);
  const voucherSigner = toAddress("voucherSigner", parameters.voucherSigner ?? zeroAddress);
  const salt = toBytes32("salt", parameters.salt ?? createNonce());
  const base = buildDirectAuthorization({
    from: parameters.from,
    to: parameters.clearingHouse,
    value: parameters.value,
    nonce: computeDepositNonce({ operator, voucherSigner, salt }),
    ...(parameters.maxTimeoutSeconds !== undefined
      ? { maxTimeoutSeconds: parameters.maxTimeoutSeconds }
      : {}),
    ...(parameters.validAfter !== undefined ? { validAfter: parameters.validAfter } : {}),
    ...(parameters.validBefore !== undefined ? { validBefore: parameters.validBefore } : {}),
    ...(parameters.now !== undefined ? { now: parameters.now } : {}),
  });
  return { ...base, kind: "deposit", operator, voucherSigner, salt };
}
