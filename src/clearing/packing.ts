import { type Address, type Hex, isAddress, isHex, size as byteSize } from "viem";

import { InvalidClearingInputError } from "./errors.js";

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/** Big-endian hex of `value` in `bytes` bytes, checked to fit. */
export function packUint(index: number, field: string, value: bigint, bytes: number): string {
  if (typeof value !== "bigint" || value < 0n || value >= 1n << BigInt(bytes * 8)) {
    throw new InvalidClearingInputError(field, `must be a bigint in [0, 2^${bytes * 8})`, {
      index,
    });
  }
  return value.toString(16).padStart(bytes * 2, "0");
}

/** The 20 address bytes as lowercase hex, checked. */
export function packAddress(index: number, field: string, value: Address): string {
  if (!isAddress(value, { strict: false })) {
    throw new InvalidClearingInputError(field, `${String(value)} is not an address`, { index });
  }
  return value.slice(2).toLowerCase();
}

/** 32 bytes as lowercase hex, checked. */
export function packBytes32(index: number, field: string, value: Hex): string {
  if (!isHex(value, { strict: true }) || value.length !== 66) {
    throw new InvalidClearingInputError(field, "must be 32 bytes of hex", { index });
  }
  return value.slice(2).toLowerCase();
}

/** `r ‖ yParityAndS` (EIP-2098) from a 65-byte `r ‖ s ‖ v` or a 64-byte compact signature, low s. */
export function packCompactSignature(index: number, signature: Hex): string {
  if (!isHex(signature, { strict: true })) {
    throw new InvalidClearingInputError("signature", "must be hex", { index });
  }
  const length = byteSize(signature);
  const r = signature.slice(2, 66);
  let s: bigint;
  let parity: bigint;
  if (length === 65) {
    s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130, 132), 16);
    if (v !== 0 && v !== 1 && v !== 27 && v !== 28) {
      throw new InvalidClearingInputError("signature", `v must be 27 or 28, got ${v}`, { index });
    }
    parity = v === 0 || v === 27 ? 0n : 1n;
  } else if (length === 64) {
    const yParityAndS = BigInt(`0x${signature.slice(66, 130)}`);
    parity = yParityAndS >> 255n;
    s = yParityAndS & ((1n << 255n) - 1n);
  } else {
    throw new InvalidClearingInputError(
      "signature",
      `an EOA signature is 65 bytes (r, s, v) or 64 (EIP-2098), got ${length}`,
      { index },
    );
  }
  if (s === 0n || s > SECP256K1_HALF_N) {
    throw new InvalidClearingInputError(
      "signature",
      "s must be in the lower half of the curve order (EIP-2)",
      { index },
    );
  }
  return (r + ((parity << 255n) | s).toString(16).padStart(64, "0")).toLowerCase();
}
