import { type Address, type Hex } from "viem";

import { recoverDigestSigner } from "../crypto/recoverDigestSigner.js";
import { hashVoucher } from "./hashVoucher.js";
import type { Voucher } from "./types.js";
import { checksumAddress } from "../crypto/checksumAddress.js";

export type VerifyVoucherParameters = {
  /** From {@link getDomainSeparator}. */
  domainSeparator: Hex;
  voucher: Voucher;
  /** 65 bytes `r ‖ s ‖ v` or 64 bytes EIP-2098, low s. */
  signature: Hex;
  /** The account's voucher signer (session key), if it names one. */
  voucherSigner?: Address;
};

export type VerifyVoucherReturnType =
  | { valid: true; signer: Address }
  | {
      valid: false;
      reason: "malformed_signature" | "high_s" | "unrecoverable" | "wrong_signer";
      signer?: Address;
    };

/**
 * Verifies a voucher's EOA signature offline, as `ClearingHouse.clear` does: the EIP-712 digest
 * under the ClearingHouse's domain, low s only, signed by the payer or by the account's voucher
 * signer. Recovery runs in libsecp256k1 (the `secp256k1` package's prebuilt native binding), so a
 * check costs tens of microseconds, with no RPC call. Contract (ERC-1271) signatures need the
 * chain and are not handled here.
 *
 * @example
 * const domainSeparator = getDomainSeparator(domain);
 * const result = verifyVoucher({ domainSeparator, voucher, signature, voucherSigner: sessionKey });
 * if (!result.valid) reject(result.reason);
 */
export function verifyVoucher({
  domainSeparator,
  voucher,
  signature,
  voucherSigner,
}: VerifyVoucherParameters): VerifyVoucherReturnType {
  const recovered = recoverDigestSigner(hashVoucher({ domainSeparator, voucher }), signature);
  if (!recovered.ok) return { valid: false, reason: recovered.reason };
  const signer = recovered.signer;
  if (
    signer === checksumAddress(voucher.payer) ||
    (voucherSigner !== undefined && signer === checksumAddress(voucherSigner))
  ) {
    return { valid: true, signer };
  }
  return { valid: false, reason: "wrong_signer", signer };
}
