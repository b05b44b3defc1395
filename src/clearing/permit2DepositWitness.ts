import type { Address } from "viem";

import type { Permit2Witness } from "../permit2/types.js";

/** The EIP-712 type name of a ClearingHouse Permit2 deposit's witness (sorts before TokenPermissions). */
export const CLEARING_DEPOSIT_WITNESS_TYPE = "ClearingDeposit";

const FIELDS = [
  { name: "operator", type: "address" },
  { name: "voucherSigner", type: "address" },
] as const;

/**
 * The witness a ClearingHouse Permit2 deposit binds: `ClearingDeposit(address operator,address
 * voucherSigner)`. Its struct hash is what `ClearingHouse.permit2DepositWitness` returns.
 *
 * @example
 * const witness = permit2DepositWitness({ operator, voucherSigner: zeroAddress });
 * hashPermit2Witness(witness); // = await house.read.permit2DepositWitness([operator, zeroAddress])
 */
export function permit2DepositWitness({
  operator,
  voucherSigner,
}: {
  operator: Address;
  voucherSigner: Address;
}): Permit2Witness<{ operator: Address; voucherSigner: Address }> {
  return {
    typeName: CLEARING_DEPOSIT_WITNESS_TYPE,
    fields: FIELDS,
    value: { operator, voucherSigner },
  };
}
