import type { Hex } from "viem";

import { packAddress, packBytes32, packCompactSignature, packUint } from "./packing.js";
import type { SignedDepositAuthorization } from "./types.js";

/** Bytes of one packed deposit item. */
export const DEPOSIT_ITEM_SIZE = 184;

/**
 * Packs signed deposit authorizations into the `items` argument of
 * `ClearingHouse.depositWithAuthorizations(token, items)`: per item, big-endian and unpadded,
 * payer, operator, voucher signer, uint128 value, uint48 validAfter and validBefore, the salt and
 * the EIP-2098 compact signature: 184 bytes.
 *
 * @example
 * const items = encodeDeposits([signedA, signedB]);
 * await clearingHouse.write.depositWithAuthorizations([USDC_ADDRESS, items]);
 */
export function encodeDeposits(deposits: readonly SignedDepositAuthorization[]): Hex {
  let out = "0x";
  deposits.forEach((deposit, index) => {
    out +=
      packAddress(index, "from", deposit.from) +
      packAddress(index, "operator", deposit.operator) +
      packAddress(index, "voucherSigner", deposit.voucherSigner) +
      packUint(index, "value", deposit.value, 16) +
      packUint(index, "validAfter", deposit.validAfter, 6) +
      packUint(index, "validBefore", deposit.validBefore, 6) +
      packBytes32(index, "salt", deposit.salt) +
      packCompactSignature(index, deposit.signature);
  });
  return out as Hex;
}
