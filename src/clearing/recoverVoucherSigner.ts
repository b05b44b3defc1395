import type { Address } from "viem";

import { getVoucherDigest } from "./getVoucherDigest.js";
import { type RecoveryBackend, recoverDigestSigner } from "./recoverDigestSigner.js";
import type { SignedVoucher } from "./types.js";

export type RecoverVoucherSignerParameters = {
  /** From `getVoucherDomainSeparator`. */
  domainSeparator: Uint8Array;
  voucher: SignedVoucher;
  /** Default: native libsecp256k1 when it loads, else the JS implementation. */
  backend?: RecoveryBackend;
};

export type RecoverVoucherSignerReturnType = {
  /** The voucher's EIP-712 digest. */
  digest: Uint8Array;
  /** The ECDSA signer in lowercase hex, or `undefined` for a malformed or high-s signature. */
  signer: Address | undefined;
};

/**
 * Offline verification of an EOA-signed voucher: its EIP-712 digest and the address that signed
 * it (native libsecp256k1 when it loads, else @noble/curves; `s` above n/2 rejected as the
 * contract does). The caller compares the signer with the payer and the account's voucher
 * signer. A voucher with `contractSignature` set is an ERC-1271 signature and needs an RPC call
 * (`verifyContractVoucher`); this returns no signer for it.
 *
 * @example
 * const { signer } = recoverVoucherSigner({ domainSeparator, voucher: signed });
 * const valid = signer === payer || signer === account.voucherSigner;
 */
export function recoverVoucherSigner({
  domainSeparator,
  voucher,
  backend,
}: RecoverVoucherSignerParameters): RecoverVoucherSignerReturnType {
  const digest = getVoucherDigest({ domainSeparator, voucher, ...(backend ? { backend } : {}) });
  if (voucher.contractSignature) return { digest, signer: undefined };
  return {
    digest,
    signer: recoverDigestSigner({
      digest,
      signature: voucher.signature,
      ...(backend ? { backend } : {}),
    }),
  };
}
