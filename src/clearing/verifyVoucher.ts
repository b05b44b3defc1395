import secp256k1 from "secp256k1";
import { type Address, type Hex, getAddress, hexToBytes, keccak256, toHex } from "viem";

import { hashVoucher } from "./hashVoucher.js";
import type { Voucher } from "./types.js";

const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

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
  if (!/^0x[0-9a-fA-F]*$/.test(signature)) return { valid: false, reason: "malformed_signature" };
  const bytes = hexToBytes(signature);
  let recovery: number;
  const rs = new Uint8Array(64);
  if (bytes.length === 65) {
    rs.set(bytes.subarray(0, 64));
    const v = bytes[64]!;
    if (v !== 0 && v !== 1 && v !== 27 && v !== 28) {
      return { valid: false, reason: "malformed_signature" };
    }
    recovery = v >= 27 ? v - 27 : v;
  } else if (bytes.length === 64) {
    rs.set(bytes);
    recovery = rs[32]! >> 7;
    rs[32] = rs[32]! & 0x7f;
  } else {
    return { valid: false, reason: "malformed_signature" };
  }
  const s = BigInt(toHex(rs.subarray(32)));
  if (s === 0n || s > HALF_N) return { valid: false, reason: "high_s" };
  let publicKey: Uint8Array;
  try {
    publicKey = secp256k1.ecdsaRecover(
      rs,
      recovery,
      hashVoucher({ domainSeparator, voucher }),
      false,
    );
  } catch {
    return { valid: false, reason: "unrecoverable" };
  }
  const signer = getAddress(toHex(keccak256(publicKey.subarray(1), "bytes").subarray(12)));
  if (
    signer === getAddress(voucher.payer) ||
    (voucherSigner !== undefined && signer === getAddress(voucherSigner))
  ) {
    return { valid: true, signer };
  }
  return { valid: false, reason: "wrong_signer", signer };
}
