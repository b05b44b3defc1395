import type { Address } from "viem";

import { PERMIT2_ADDRESS } from "../chain/base.js";
import { getPermitWitnessTransferFromTypedData } from "../permit2/typedData.js";
import type { GetPermitWitnessTransferFromTypedDataParameters } from "../permit2/typedData.js";
import { permit2DepositWitness } from "./permit2DepositWitness.js";
import type { Permit2Deposit } from "./types.js";

export type GetPermit2DepositTypedDataParameters = {
  chainId: number;
  deposit: Permit2Deposit;
  /** Default: the canonical Permit2 address. */
  permit2?: Address;
};

/** The Permit2 parameters of a deposit: the permit (spender the ClearingHouse) and its witness. */
export function permit2DepositParameters({
  chainId,
  deposit,
  permit2 = PERMIT2_ADDRESS,
}: GetPermit2DepositTypedDataParameters): GetPermitWitnessTransferFromTypedDataParameters {
  return {
    chainId,
    permit2,
    permit: {
      token: deposit.token,
      amount: deposit.amount,
      nonce: deposit.nonce,
      deadline: deposit.deadline,
      spender: deposit.clearingHouse,
    },
    witness: permit2DepositWitness(deposit),
  };
}

/**
 * The EIP-712 typed data the payer signs for a Permit2 deposit: Permit2's
 * `PermitWitnessTransferFrom` with the ClearingHouse as spender and the `ClearingDeposit` witness.
 *
 * @example
 * const typedData = getPermit2DepositTypedData({ chainId: 8453, deposit });
 * const signature = await payer.signTypedData(typedData);
 */
export function getPermit2DepositTypedData(parameters: GetPermit2DepositTypedDataParameters) {
  return getPermitWitnessTransferFromTypedData(permit2DepositParameters(parameters));
}
