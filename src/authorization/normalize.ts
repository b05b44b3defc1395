import { getAddress, isAddress, isHex, size, type Address, type Hex } from "viem";

import { InvalidAuthorizationInputError } from "./errors.js";

const UINT256_MAX = 2n ** 256n - 1n;

/** A checksummed address, or an {@link InvalidAuthorizationInputError} naming `field`. */
export function toAddress(field: string, value: unknown): Address {
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    throw new InvalidAuthorizationInputError(field, `expected an address, got ${describe(value)}`);
  }
  return getAddress(value);
}

/** A uint256 from a bigint, a safe integer or a decimal string. */
export function toUint256(field: string, value: unknown): bigint {
  let parsed: bigint | undefined;
  if (typeof value === "bigint") parsed = value;
  else if (typeof value === "number" && Number.isSafeInteger(value)) parsed = BigInt(value);
  else if (typeof value === "string" && /^(0|[1-9][0-9]*)$/.test(value)) parsed = BigInt(value);
  if (parsed === undefined || parsed < 0n || parsed > UINT256_MAX) {
    throw new InvalidAuthorizationInputError(
      field,
      `expected an unsigned 256-bit integer (bigint or decimal string), got ${describe(value)}`,
    );
  }
  return parsed;
}

/** A 0x-prefixed 32-byte hex value. */
export function toBytes32(field: string, value: unknown): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || size(value) !== 32) {
    throw new InvalidAuthorizationInputError(
      field,
      `expected 32 bytes of hex, got ${describe(value)}`,
    );
  }
  return value.toLowerCase() as Hex;
}

/** A 0x-prefixed hex byte string of even length. */
export function toBytes(field: string, value: unknown): Hex {
  if (typeof value !== "string" || !isHex(value, { strict: true }) || value.length % 2 !== 0) {
    throw new InvalidAuthorizationInputError(field, `expected hex bytes, got ${describe(value)}`);
  }
  return value.toLowerCase() as Hex;
}

/** Unix seconds now, or the caller's `now` (Date, number of seconds or bigint). */
export function toUnixSeconds(now: Date | number | bigint | undefined): bigint {
  if (now === undefined) return BigInt(Math.floor(Date.now() / 1000));
  if (now instanceof Date) return BigInt(Math.floor(now.getTime() / 1000));
  if (typeof now === "number") return BigInt(Math.floor(now));
  return now;
}

function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  return value === null ? "null" : typeof value === "object" ? "an object" : String(value);
}
