import type { Hex, LocalAccount } from "viem";

import { InvalidPermit2InputError } from "./errors.js";
import {
  getPermitWitnessTransferFromTypedData,
  type GetPermitWitnessTransferFromTypedDataParameters,
} from "./typedData.js";

/**
 * Signs a `PermitWitnessTransferFrom` with a local account (the token owner).
 *
 * @example
 * const signature = await signPermitWitnessTransferFrom(payer, { chainId: 8453, permit, witness });
 */
export async function signPermitWitnessTransferFrom(
  owner: LocalAccount,
  parameters: GetPermitWitnessTransferFromTypedDataParameters,
): Promise<Hex> {
  if (!owner.signTypedData) {
    throw new InvalidPermit2InputError("owner", `a ${owner.type} account cannot sign typed data`);
  }
  return owner.signTypedData(getPermitWitnessTransferFromTypedData(parameters) as never);
}
