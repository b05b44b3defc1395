import { type Address, type Hex, isAddressEqual, isHex, size as byteSize } from "viem";

import { InvalidClearingInputError } from "./errors.js";
import { packAddress, packCompactSignature, packUint } from "./packing.js";
import type { SignedVoucher } from "./types.js";

/** Bit 0 of a packed voucher's flags: the signature is checked through ERC-1271. */
export const VOUCHER_CONTRACT_SIGNATURE = 0x01;
/** Bytes of a packed voucher with an EIP-2098 compact signature. */
export const VOUCHER_EOA_SIZE = 157;
/** Largest contract signature the uint16 length prefix can carry. */
export const MAX_VOUCHER_CONTRACT_SIGNATURE_SIZE = 0xffff;

export type EncodeVouchersParameters = {
  /** The token of the `clear(token, items)` call; every voucher must name it. */
  token: Address;
  vouchers: readonly SignedVoucher[];
};

/**
 * Packs signed vouchers into the `items` argument of `ClearingHouse.clear(token, items)`: per
 * voucher, big-endian and unpadded, the flags byte, payer, payee, operator, uint128
 * cumulativeValue and cumulativeFee, then the EIP-2098 compact signature (64 bytes) or, for
 * contract signatures, a uint16 length and the bytes. An EOA-signed voucher takes 157 bytes.
 *
 * @example
 * const items = encodeVouchers({ token: USDC_ADDRESS, vouchers: [signedA, signedB] });
 * await clearingHouse.write.clear([USDC_ADDRESS, items]);
 */
export function encodeVouchers({ token, vouchers }: EncodeVouchersParameters): Hex {
  let out = "0x";
  vouchers.forEach((voucher, index) => {
    if (!isAddressEqual(voucher.token, token)) {
      throw new InvalidClearingInputError(
        "token",
        `the voucher's token ${voucher.token} is not the call's ${token}`,
        { index },
      );
    }
    out +=
      (voucher.contractSignature ? "01" : "00") +
      packAddress(index, "payer", voucher.payer) +
      packAddress(index, "payee", voucher.payee) +
      packAddress(index, "operator", voucher.operator) +
      packUint(index, "cumulativeValue", voucher.cumulativeValue, 16) +
      packUint(index, "cumulativeFee", voucher.cumulativeFee, 16);
    if (!voucher.contractSignature) {
      out += packCompactSignature(index, voucher.signature);
      return;
    }
    if (!isHex(voucher.signature, { strict: true })) {
      throw new InvalidClearingInputError("signature", "must be hex", { index });
    }
    const length = byteSize(voucher.signature);
    if (length > MAX_VOUCHER_CONTRACT_SIGNATURE_SIZE) {
      throw new InvalidClearingInputError(
        "signature",
        `a contract signature is at most ${MAX_VOUCHER_CONTRACT_SIGNATURE_SIZE} bytes, got ${length}`,
        { index },
      );
    }
    out += packUint(index, "signature length", BigInt(length), 2);
    out += voucher.signature.slice(2).toLowerCase();
  });
  return out as Hex;
}
