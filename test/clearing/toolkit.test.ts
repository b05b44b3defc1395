import { expect } from "chai";
import { Wallet } from "ethers";
import { hashTypedData, toHex } from "viem";

import { computeDepositNonce } from "../../src/clearing/computeDepositNonce.js";
import { decodeClearResults } from "../../src/clearing/decodeClearResults.js";
import { encodeVouchers } from "../../src/clearing/encodeVouchers.js";
import { InvalidClearingInputError } from "../../src/clearing/errors.js";
import { getDomainSeparator } from "../../src/clearing/getDomainSeparator.js";
import { getVoucherTypedData } from "../../src/clearing/getVoucherTypedData.js";
import { hashVoucher } from "../../src/clearing/hashVoucher.js";
import { verifyVoucher } from "../../src/clearing/verifyVoucher.js";
import { account } from "../router/fixtures.js";
import { ClearStatus, type ClearingStack, deployClearing, salt } from "./fixtures.js";

describe("Clearing toolkit: vouchers, digests, offline verification, results", function () {
  let stack: ClearingStack;

  before(async () => {
    stack = await deployClearing();
  });

  it("hashVoucher equals viem's typed-data hash and the contract's voucherDigest", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const voucher = {
      payer: account("tk-payer").address,
      payee: account("tk-payee").address,
      token: token.address,
      operator: stack.operator,
      cumulativeValue: (1n << 128n) - 1n,
      cumulativeFee: 12_345n,
    };
    const ours = toHex(hashVoucher({ domainSeparator: getDomainSeparator(stack.domain), voucher }));
    expect(ours).to.equal(hashTypedData(getVoucherTypedData({ domain: stack.domain, voucher })));
    expect(ours).to.equal(
      await stack.house.read.voucherDigest([
        voucher.payer,
        voucher.payee,
        voucher.token,
        voucher.operator,
        voucher.cumulativeValue,
        voucher.cumulativeFee,
      ]),
    );
    expect(
      await stack.house.read.depositNonce([stack.operator, voucher.payee, salt("tk")]),
    ).to.equal(
      computeDepositNonce({
        operator: stack.operator,
        voucherSigner: voucher.payee,
        salt: salt("tk"),
      }),
    );
  });

  it("verifyVoucher accepts the payer and the named session key, in 65- and 64-byte form, and rejects the rest", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const payer = account("tk-verify-payer");
    const session = account("tk-verify-session");
    const payee = account("tk-verify-payee").address;
    const domainSeparator = getDomainSeparator(stack.domain);
    const byPayer = await stack.voucher(token, payer, { payee, value: 10n, fee: 1n });
    const bySession = await stack.voucher(token, session, {
      payer: payer.address,
      payee,
      value: 10n,
      fee: 1n,
    });
    const check = (signature: `0x${string}`, voucherSigner?: `0x${string}`) =>
      verifyVoucher({ domainSeparator, voucher: byPayer, signature, voucherSigner });
    expect(check(byPayer.signature)).to.deep.include({ valid: true });
    expect(check(bySession.signature, session.address)).to.deep.include({ valid: true });
    expect(check(bySession.signature)).to.deep.include({ valid: false, reason: "wrong_signer" });
    // EIP-2098 compact form of the same signature.
    const compact =
      `0x${encodeVouchers({ token: token.address, vouchers: [byPayer] }).slice(2 + 93 * 2)}` as `0x${string}`;
    expect(check(compact)).to.deep.include({ valid: true });
    // A raised fee no longer matches the signature.
    expect(
      verifyVoucher({
        domainSeparator,
        voucher: { ...byPayer, cumulativeFee: 2n },
        signature: byPayer.signature,
      }),
    ).to.deep.include({ valid: false, reason: "wrong_signer" });
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${byPayer.signature.slice(66, 130)}`);
    const v = Number.parseInt(byPayer.signature.slice(130, 132), 16);
    const high =
      `${byPayer.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as `0x${string}`;
    expect(check(high)).to.deep.equal({ valid: false, reason: "high_s" });
    expect(check("0x1234")).to.deep.equal({ valid: false, reason: "malformed_signature" });
  });

  it("a voucher signed with ethers is verified offline and cleared on chain (cross-library)", async () => {
    const token = stack.tokens.X402TestToken;
    const wallet = new Wallet(toHex(new Uint8Array(32).fill(7)));
    const payer = account("tk-ethers-payer");
    await stack.fund(token, [payer.address], 100_000n);
    await stack.depositAll(token, [
      await stack.signDeposit(token, payer, 50_000n, {
        voucherSigner: wallet.address as `0x${string}`,
      }),
    ]);
    const payee = account("tk-ethers-payee").address;
    const typed = getVoucherTypedData({
      domain: stack.domain,
      voucher: {
        payer: payer.address,
        payee,
        token: token.address,
        operator: stack.operator,
        cumulativeValue: 4_000n,
        cumulativeFee: 40n,
      },
    });
    const signature = (await wallet.signTypedData(
      typed.domain,
      { Voucher: [...typed.types.Voucher] },
      typed.message,
    )) as `0x${string}`;
    expect(
      verifyVoucher({
        domainSeparator: getDomainSeparator(stack.domain),
        voucher: typed.message,
        signature,
        voucherSigner: wallet.address as `0x${string}`,
      }),
    ).to.deep.include({ valid: true });
    const result = await stack.clear(token, [{ ...typed.message, signature }]);
    expect(result.statuses).to.deep.equal([ClearStatus.Cleared]);
    expect(
      decodeClearResults({ clearingHouse: stack.house.address, logs: result.receipt.logs }),
    ).to.deep.equal([{ index: 0, status: "success" }]);
    const replay = await stack.clear(token, [{ ...typed.message, signature }]);
    expect(
      decodeClearResults({ clearingHouse: stack.house.address, logs: replay.receipt.logs }),
    ).to.deep.equal([{ index: 0, status: "failure", reason: "already_cleared" }]);
  });

  it("encodeVouchers refuses a voucher of another token and out-of-range amounts", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const signed = await stack.voucher(token, account("tk-enc"), {
      payee: stack.operator,
      value: 1n,
    });
    expect(() =>
      encodeVouchers({ token: stack.tokens.X402TestToken.address, vouchers: [signed] }),
    ).to.throw(InvalidClearingInputError);
    expect(() =>
      encodeVouchers({
        token: token.address,
        vouchers: [{ ...signed, cumulativeValue: 1n << 128n }],
      }),
    ).to.throw(InvalidClearingInputError);
  });
});
