import type { Address } from "viem";

import {
  verifyPermitWitnessTransferFrom,
  type VerifyPermitWitnessTransferFromReturnType,
} from "../permit2/verify.js";
import { permit2DepositParameters } from "./getPermit2DepositTypedData.js";
import type { SignedPermit2Deposit } from "./types.js";

/**
 * Checks a signed Permit2 deposit's signature offline, as Permit2 will when the ClearingHouse
 * pulls it (an EOA payer; no RPC call). It does not check the nonce, the deadline, the payer's
 * balance or allowance: those need the chain.
 *
 * @example
 * const result = verifyPermit2Deposit({ chainId: 8453, deposit: signed });
 * if (!result.valid) refuse(result.reason);
 */
export function verifyPermit2Deposit({
  chainId,
  deposit,
  permit2,
}: {
  chainId: number;
  deposit: SignedPermit2Deposit;
  permit2?: Address;
}): VerifyPermitWitnessTransferFromReturnType {
  return verifyPermitWitnessTransferFrom({
    ...permit2DepositParameters({ chainId, deposit, permit2 }),
    owner: deposit.payer,
    signature: deposit.signature,
  });
}
