import { type Address, type LocalAccount, isAddressEqual } from "viem";

import { signPermitWitnessTransferFrom } from "../permit2/sign.js";
import { InvalidClearingInputError } from "./errors.js";
import { permit2DepositParameters } from "./getPermit2DepositTypedData.js";
import type { Permit2Deposit, SignedPermit2Deposit } from "./types.js";

export type SignPermit2DepositParameters = {
  chainId: number;
  deposit: Permit2Deposit;
  /** Default: the canonical Permit2 address. */
  permit2?: Address;
};

/**
 * Signs a Permit2 deposit with the payer's local account.
 *
 * @example
 * const signed = await signPermit2Deposit(payer, { chainId: 8453, deposit });
 * const items = encodePermit2Deposits([signed]);
 */
export async function signPermit2Deposit(
  payer: LocalAccount,
  parameters: SignPermit2DepositParameters,
): Promise<SignedPermit2Deposit> {
  if (!isAddressEqual(payer.address, parameters.deposit.payer)) {
    throw new InvalidClearingInputError(
      "payer",
      `the signer ${payer.address} is not the deposit's payer ${parameters.deposit.payer}`,
    );
  }
  const signature = await signPermitWitnessTransferFrom(
    payer,
    permit2DepositParameters(parameters),
  );
  return { ...parameters.deposit, signature };
}
