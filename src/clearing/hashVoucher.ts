import { type Hex, hexToBytes, keccak256, toHex } from "viem";

import { keccak256Bytes } from "../crypto/keccak256Bytes.js";
import { InvalidClearingInputError } from "./errors.js";
import type { Voucher } from "./types.js";

/** keccak256("Voucher(address payer,address payee,address token,address operator,uint128 cumulativeValue,uint128 cumulativeFee)") */
const VOUCHER_TYPEHASH = hexToBytes(
  keccak256(
    toHex(
      "Voucher(address payer,address payee,address token,address operator,uint128 cumulativeValue,uint128 cumulativeFee)",
    ),
  ),
);
const UINT128_LIMIT = 1n << 128n;

function putAddress(buffer: Uint8Array, offset: number, address: string, field: string) {
  if (!/^0x[0-9a-fA-F]{40}$/.test(address)) {
    throw new InvalidClearingInputError(field, `${address} is not an address`);
  }
  buffer.set(hexToBytes(address as Hex), offset + 12);
}

function putUint128(buffer: Uint8Array, offset: number, value: bigint, field: string) {
  if (typeof value !== "bigint" || value < 0n || value >= UINT128_LIMIT) {
    throw new InvalidClearingInputError(field, "must be a bigint in [0, 2^128)");
  }
  let v = value;
  for (let i = 31; i >= 16; i--) {
    buffer[offset + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

export type HashVoucherParameters = {
  /** From {@link getDomainSeparator}. */
  domainSeparator: Hex;
  voucher: Voucher;
};

/**
 * The EIP-712 digest of a voucher (what its signer signs, the ClearingHouse's `voucherDigest`),
 * encoded by hand: two keccak calls ({@link keccak256Bytes}), no typed-data walk, for the operator's hot path.
 *
 * @example
 * const digest = hashVoucher({ domainSeparator, voucher });
 */
export function hashVoucher({ domainSeparator, voucher }: HashVoucherParameters): Uint8Array {
  const struct = new Uint8Array(224);
  struct.set(VOUCHER_TYPEHASH, 0);
  putAddress(struct, 32, voucher.payer, "payer");
  putAddress(struct, 64, voucher.payee, "payee");
  putAddress(struct, 96, voucher.token, "token");
  putAddress(struct, 128, voucher.operator, "operator");
  putUint128(struct, 160, voucher.cumulativeValue, "cumulativeValue");
  putUint128(struct, 192, voucher.cumulativeFee, "cumulativeFee");
  const message = new Uint8Array(66);
  message[0] = 0x19;
  message[1] = 0x01;
  message.set(hexToBytes(domainSeparator), 2);
  message.set(keccak256Bytes(struct), 34);
  return keccak256Bytes(message);
}
