import { type Hex, domainSeparator, hexToBytes, keccak256, toBytes } from "viem";

import { InvalidClearingInputError } from "./errors.js";
import { loadNativeCrypto } from "./loadNativeCrypto.js";
import type { RecoveryBackend } from "./recoverDigestSigner.js";
import type { ClearingHouseDomain, Voucher } from "./types.js";

const VOUCHER_TYPEHASH = keccak256(
  toBytes(
    "Voucher(address payer,address payee,address token,address operator,uint128 cumulativeValue,uint128 cumulativeFee)",
  ),
  "bytes",
);
const MAX_UINT128 = (1n << 128n) - 1n;

/**
 * The EIP-712 domain separator of a ClearingHouse domain: compute it once and pass it to
 * {@link getVoucherDigest} for every voucher.
 *
 * @example
 * const separator = getVoucherDomainSeparator(getClearingHouseDomain({ chainId: 8453, clearingHouse }));
 */
export function getVoucherDomainSeparator(domain: ClearingHouseDomain): Uint8Array {
  return hexToBytes(domainSeparator({ domain }));
}

export type GetVoucherDigestParameters = {
  /** From {@link getVoucherDomainSeparator}. */
  domainSeparator: Uint8Array;
  voucher: Voucher;
  /** Keccak implementation. Default: native when it loads, else viem's. */
  backend?: RecoveryBackend;
};

/**
 * The digest a voucher's signer signs (`hashTypedData` of the voucher, the ClearingHouse's
 * `voucherDigest`), from a precomputed domain separator: two keccaks over fixed-size buffers, no
 * ABI encoder. Throws {@link InvalidClearingInputError} for an amount outside uint128 or a bad
 * address.
 *
 * @example
 * const digest = getVoucherDigest({ domainSeparator: separator, voucher });
 */
export function getVoucherDigest({
  domainSeparator,
  voucher,
  backend,
}: GetVoucherDigestParameters): Uint8Array {
  const native = (backend ?? "native") === "native" ? loadNativeCrypto() : null;
  const hash = native ? native.keccak256 : (data: Uint8Array) => keccak256(data, "bytes");
  const struct = new Uint8Array(7 * 32);
  struct.set(VOUCHER_TYPEHASH, 0);
  putAddress(struct, 32, "payer", voucher.payer);
  putAddress(struct, 64, "payee", voucher.payee);
  putAddress(struct, 96, "token", voucher.token);
  putAddress(struct, 128, "operator", voucher.operator);
  putUint128(struct, 160, "cumulativeValue", voucher.cumulativeValue);
  putUint128(struct, 192, "cumulativeFee", voucher.cumulativeFee);
  const message = new Uint8Array(66);
  message[0] = 0x19;
  message[1] = 0x01;
  message.set(domainSeparator, 2);
  message.set(hash(struct), 34);
  return hash(message);
}

function putAddress(out: Uint8Array, offset: number, field: string, address: Hex): void {
  if (typeof address !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new InvalidClearingInputError(field, `${String(address)} is not an address`);
  }
  for (let i = 0; i < 20; i++) {
    out[offset + 12 + i] = Number.parseInt(address.slice(2 + 2 * i, 4 + 2 * i), 16);
  }
}

function putUint128(out: Uint8Array, offset: number, field: string, value: bigint): void {
  if (typeof value !== "bigint" || value < 0n || value > MAX_UINT128) {
    throw new InvalidClearingInputError(field, "must be a bigint in [0, 2^128)");
  }
  let v = value;
  for (let i = 31; i >= 16; i--) {
    out[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}
