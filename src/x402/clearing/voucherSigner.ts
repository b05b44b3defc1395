import secp256k1 from "secp256k1";
import {
  type Address,
  type Hex,
  type LocalAccount,
  bytesToHex,
  getAddress,
  hexToBytes,
  isHex,
  size,
  toHex,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { getVoucherTypedData } from "../../clearing/getVoucherTypedData.js";
import { hashVoucher } from "../../clearing/hashVoucher.js";
import type { ClearingHouseDomain, Voucher } from "../../clearing/types.js";
import { ClearingClientError } from "./errors.js";

/** A key that signs vouchers: a viem local account, or a 32-byte private key (the fast path). */
export type ClearingSignerInput = LocalAccount | Hex;

/** How a {@link VoucherSigner} signs: native libsecp256k1, the account's `sign`, or typed data. */
export type VoucherSigningPath = "native" | "digest" | "typed-data";

/** Signs vouchers under a ClearingHouse's domain. */
export type VoucherSigner = {
  address: Address;
  /** The account, for what only an account signs (the deposit's EIP-3009 typed data). */
  account: LocalAccount;
  path: VoucherSigningPath;
  sign(parameters: {
    domain: ClearingHouseDomain;
    domainSeparator: Hex;
    voucher: Voucher;
  }): Promise<Hex>;
};

/**
 * A voucher signer. Given a private key, it signs the voucher's digest ({@link hashVoucher}) in
 * libsecp256k1 through the native `secp256k1` package (deterministic RFC 6979, low s), tens of
 * microseconds a voucher; given a local account with `sign` (`privateKeyToAccount`), the digest
 * through the account; any other local account signs the typed data.
 *
 * @example
 * const signer = createVoucherSigner(process.env.PAYER_KEY as Hex); // signer.path === "native"
 */
export function createVoucherSigner(input: ClearingSignerInput): VoucherSigner {
  if (typeof input === "string") {
    if (!isHex(input, { strict: true }) || size(input) !== 32) {
      throw new ClearingClientError("signer_unavailable", "expected a 32-byte hex private key", {
        field: "signer",
      });
    }
    const key = hexToBytes(input);
    if (!secp256k1.privateKeyVerify(key)) {
      throw new ClearingClientError("signer_unavailable", "not a valid secp256k1 private key", {
        field: "signer",
      });
    }
    const account = privateKeyToAccount(input);
    return {
      address: getAddress(account.address),
      account,
      path: "native",
      async sign({ domainSeparator, voucher }) {
        const { signature, recid } = secp256k1.ecdsaSign(
          hashVoucher({ domainSeparator, voucher }),
          key,
        );
        const out = new Uint8Array(65);
        out.set(signature, 0);
        out[64] = 27 + recid;
        return bytesToHex(out);
      },
    };
  }
  const account = input;
  if (typeof account !== "object" || account === null || typeof account.address !== "string") {
    throw new ClearingClientError("signer_unavailable", "expected a viem LocalAccount or a key", {
      field: "signer",
    });
  }
  if (account.sign) {
    const sign = account.sign.bind(account);
    return {
      address: getAddress(account.address),
      account,
      path: "digest",
      sign: ({ domainSeparator, voucher }) =>
        sign({ hash: toHex(hashVoucher({ domainSeparator, voucher })) }),
    };
  }
  if (!account.signTypedData) {
    throw new ClearingClientError("signer_unavailable", `a ${account.type} account cannot sign`, {
      field: "signer",
    });
  }
  const signTypedData = account.signTypedData.bind(account);
  return {
    address: getAddress(account.address),
    account,
    path: "typed-data",
    sign: ({ domain, voucher }) => signTypedData(getVoucherTypedData({ domain, voucher })),
  };
}
