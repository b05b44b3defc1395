import { expect } from "chai";
import { type Hex, bytesToHex, hashTypedData, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import {
  getVoucherDigest,
  getVoucherDomainSeparator,
} from "../../src/clearing/getVoucherDigest.js";
import { getVoucherTypedData } from "../../src/clearing/getVoucherTypedData.js";
import {
  type RecoveryBackend,
  getRecoveryBackend,
  recoverDigestSigner,
} from "../../src/clearing/recoverDigestSigner.js";
import { recoverVoucherSigner } from "../../src/clearing/recoverVoucherSigner.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { Voucher } from "../../src/clearing/types.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const signer = privateKeyToAccount(keccak256(toHex("x402-clearing:verify-test:signer")));
const domain = getClearingHouseDomain({
  chainId: 8453,
  clearingHouse: "0x000000000000000000000000000000000000c1ea",
});
const separator = getVoucherDomainSeparator(domain);
const voucher: Voucher = {
  payer: signer.address,
  payee: "0x00000000000000000000000000000000000a11ce",
  token: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
  operator: "0x000000000000000000000000000000000000b0b0",
  cumulativeValue: (1n << 128n) - 1n,
  cumulativeFee: 123_456n,
};

/** The same signature with s' = n - s and the parity flipped: valid ECDSA, but high s. */
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

/** EIP-2098: r ‖ (parity << 255 | s). */
function compact(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const parity = Number.parseInt(signature.slice(130, 132), 16) === 28 ? 1n : 0n;
  return `${signature.slice(0, 66)}${((parity << 255n) | s).toString(16).padStart(64, "0")}` as Hex;
}

describe("clearing: offline voucher verification", () => {
  it("the digest equals viem's hashTypedData of the voucher", () => {
    expect(bytesToHex(getVoucherDigest({ domainSeparator: separator, voucher }))).to.equal(
      hashTypedData(getVoucherTypedData({ domain, voucher })),
    );
    expect(
      bytesToHex(getVoucherDigest({ domainSeparator: separator, voucher, backend: "js" })),
    ).to.equal(hashTypedData(getVoucherTypedData({ domain, voucher })));
  });

  it("native libsecp256k1 loads on this platform", () => {
    expect(getRecoveryBackend()).to.equal("native");
  });

  for (const backend of ["native", "js"] as RecoveryBackend[]) {
    describe(`backend ${backend}`, () => {
      it("recovers the signer of a 65-byte and of an EIP-2098 signature", async () => {
        const signed = await signVoucher(signer, { domain, voucher });
        const expected = signer.address.toLowerCase();
        expect(
          recoverVoucherSigner({ domainSeparator: separator, voucher: signed, backend }).signer,
        ).to.equal(expected);
        expect(
          recoverVoucherSigner({
            domainSeparator: separator,
            voucher: { ...signed, signature: compact(signed.signature) },
            backend,
          }).signer,
        ).to.equal(expected);
      });

      it("another field, domain or a high-s twin of the signature does not recover the signer", async () => {
        const signed = await signVoucher(signer, { domain, voucher });
        const expected = signer.address.toLowerCase();
        const other = recoverVoucherSigner({
          domainSeparator: separator,
          voucher: { ...signed, cumulativeFee: signed.cumulativeFee + 1n },
          backend,
        }).signer;
        expect(other).to.not.equal(expected);
        const otherDomain = getVoucherDomainSeparator({ ...domain, chainId: 84532 });
        expect(
          recoverVoucherSigner({ domainSeparator: otherDomain, voucher: signed, backend }).signer,
        ).to.not.equal(expected);
        const digest = getVoucherDigest({ domainSeparator: separator, voucher });
        expect(recoverDigestSigner({ digest, signature: highS(signed.signature), backend })).to.be
          .undefined;
      });

      it("malformed signatures recover nothing", () => {
        const digest = getVoucherDigest({ domainSeparator: separator, voucher });
        for (const signature of [
          "0x",
          "0x1234",
          `0x${"11".repeat(64)}1d`,
          `0x${"00".repeat(64)}1b`,
          `0x${"ff".repeat(32)}${"11".repeat(32)}1b`,
          "0xzz",
        ] as Hex[]) {
          expect(recoverDigestSigner({ digest, signature, backend }), signature).to.be.undefined;
        }
      });
    });
  }

  it("a contract signature gets no ECDSA signer", async () => {
    const signed = await signVoucher(signer, { domain, voucher });
    expect(
      recoverVoucherSigner({
        domainSeparator: separator,
        voucher: { ...signed, contractSignature: true },
      }).signer,
    ).to.be.undefined;
  });
});
