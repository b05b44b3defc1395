import { type Hex, isAddressEqual } from "viem";

import { InvalidClearingInputError } from "./errors.js";
import { packAddress, packCompactSignature, packUint } from "./packing.js";
import type { SignedPermit2Deposit } from "./types.js";

/** Bytes of one packed Permit2 deposit item. */
export const PERMIT2_DEPOSIT_ITEM_SIZE = 178;

/**
 * Packs signed Permit2 deposits of one token into the `items` argument of
 * `ClearingHouse.depositWithPermit2(token, items)`: per item, big-endian and unpadded, payer,
 * operator, voucher signer, uint128 amount, uint256 nonce, uint48 deadline and the EIP-2098
 * compact signature: 178 bytes. Every deposit must be of `token`.
 *
 * @example
 * const items = encodePermit2Deposits({ token: usdt, deposits: [signedA, signedB] });
 * await clearingHouse.write.depositWithPermit2([usdt, items]);
 */
export function encodePermit2Deposits({
  token,
  deposits,
}: {
  token: `0x${string}`;
  deposits: readonly SignedPermit2Deposit[];
}): Hex {
  let out = "0x";
  deposits.forEach((deposit, index) => {
    if (!isAddressEqual(deposit.token, token)) {
      throw new InvalidClearingInputError("token", `${deposit.token} is not the batch's ${token}`, {
        index,
      });
    }
    out +=
      packAddress(index, "payer", deposit.payer) +
      packAddress(index, "operator", deposit.operator) +
      packAddress(index, "voucherSigner", deposit.voucherSigner) +
      packUint(index, "amount", deposit.amount, 16) +
      packUint(index, "nonce", deposit.nonce, 32) +
      packUint(index, "deadline", deposit.deadline, 6) +
      packCompactSignature(index, deposit.signature);
  });
  return out as Hex;
}
