import { getAddress, type Address, type Hex } from "viem";

import { recoverDigestSigner } from "../crypto/recoverDigestSigner.js";
import {
  hashPermitWitnessTransferFrom,
  type GetPermitWitnessTransferFromTypedDataParameters,
} from "./typedData.js";

export type VerifyPermitWitnessTransferFromParameters =
  GetPermitWitnessTransferFromTypedDataParameters & {
    owner: Address;
    signature: Hex;
  };

export type VerifyPermitWitnessTransferFromReturnType =
  | { valid: true; signer: Address }
  | {
      valid: false;
      reason: "malformed_signature" | "unrecoverable" | "wrong_signer";
      signer?: Address;
    };

/**
 * Checks an EOA's Permit2 signature offline, as Permit2's `SignatureVerification` does for an
 * owner without code: 65 bytes with `v` 27 or 28, or 64 bytes EIP-2098; any `s` (Permit2 calls
 * `ecrecover` directly); the recovered address must be the owner. Recovery runs in libsecp256k1, with
 * no RPC call. An owner with code is checked by Permit2 through ERC-1271, which needs the chain.
 *
 * @example
 * const result = verifyPermitWitnessTransferFrom({ chainId: 8453, permit, witness, owner, signature });
 * if (!result.valid) refuse(result.reason);
 */
export function verifyPermitWitnessTransferFrom({
  owner,
  signature,
  ...parameters
}: VerifyPermitWitnessTransferFromParameters): VerifyPermitWitnessTransferFromReturnType {
  const recovered = recoverDigestSigner(hashPermitWitnessTransferFrom(parameters), signature, {
    allowHighS: true,
    allowRecoveryIdV: false,
  });
  if (!recovered.ok) {
    return {
      valid: false,
      reason: recovered.reason === "high_s" ? "unrecoverable" : recovered.reason,
    };
  }
  if (recovered.signer !== getAddress(owner)) {
    return { valid: false, reason: "wrong_signer", signer: recovered.signer };
  }
  return { valid: true, signer: recovered.signer };
}
