import { expect } from "chai";
import {
  type Address,
  type Hex,
  decodeErrorResult,
  encodeFunctionData,
  getAddress,
  hashTypedData,
  maxUint256,
  zeroAddress,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { LOCAL_USDC_ROLES } from "../../src/chain/bootstrap.js";
import { encodeVouchers } from "../../src/clearing/encodeVouchers.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { InvalidClearingInputError } from "../../src/clearing/errors.js";
import { getReleaseTypedData } from "../../src/clearing/getReleaseTypedData.js";
import { signRelease } from "../../src/clearing/signRelease.js";
import { findRevertData } from "../../src/errors/findRevertData.js";
import { type TokenInfo, account, eip3009Abi } from "../router/fixtures.js";
import {
  ClearStatus,
  DELAY,
  DepositStatus,
  type ClearingStack,
  deployClearing,
  salt,
} from "./fixtures.js";

/** Asserts that `promise` reverts with the ClearingHouse error `name` (and `args` when given). */
async function expectRevert(promise: Promise<unknown>, name: string, args?: readonly unknown[]) {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${name}`).to.not.equal(undefined);
  const data = findRevertData(error);
  expect(data, `no revert data for ${name}: ${String(error)}`).to.not.equal(undefined);
  const decoded = decodeErrorResult({ abi: clearingHouseAbi, data: data as Hex });
  expect(decoded.errorName).to.equal(name);
  if (args) expect(decoded.args).to.deep.equal(args);
}

/** Hardhat's default account #1, the fixtures' operator: a local key for the toolkit's signer. */
const HARDHAT_ACCOUNT_1_KEY: Hex =
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";

describe("ClearingHouse: behaviour", function () {
  let stack: ClearingStack;
  let n = 0;

  before(async () => {
    stack = await deployClearing();
  });

  /** A fresh payer holding `funds` of `token`, with its account opened by an EIP-3009 deposit. */
  async function payerWithDeposit(
    token: TokenInfo,
    deposit: bigint,
    options: { voucherSigner?: Address } = {},
  ) {
    const payer = account(`behaviour-payer-${n++}`);
    await stack.fund(token, [payer.address], 10_000_000n);
    const signed = await stack.signDeposit(token, payer, deposit, options);
    const { statuses } = await stack.depositAll(token, [signed]);
    expect(statuses).to.deep.equal([DepositStatus.Deposited]);
    return payer;
  }

  async function payeeOf(token: TokenInfo) {
    const payee = account(`behaviour-payee-${n++}`).address;
    await stack.fund(token, [payee, stack.feeRecipient], 1n);
    return payee;
  }

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    describe(tokenName, () => {
      let token: TokenInfo;
      before(() => {
        token = stack.tokens[tokenName];
      });

      it("an EIP-3009 deposit credits the account under the committed operator and voucher signer", async () => {
        const payer = account(`behaviour-payer-${n++}`);
        const session = account(`behaviour-session-${n++}`);
        await stack.fund(token, [payer.address], 1_000_000n);
        const houseBefore = await stack.balanceOf(token, stack.house.address);
        const signed = await stack.signDeposit(token, payer, 600_000n, {
          voucherSigner: session.address,
        });
        const result = await stack.depositAll(token, [signed]);
        expect(result.statuses).to.deep.equal([DepositStatus.Deposited]);
        expect(result.eventStatuses).to.deep.equal([DepositStatus.Deposited]);
        const accountState = await stack.getAccount(token, payer.address);
        expect(accountState.balance).to.equal(600_000n);
        expect(accountState.voucherSigner).to.equal(getAddress(session.address));
        expect(accountState.withdrawalDelay).to.equal(DELAY);
        expect(await stack.balanceOf(token, payer.address)).to.equal(400_000n);
        expect((await stack.balanceOf(token, stack.house.address)) - houseBefore).to.equal(
          600_000n,
        );
        expect(await stack.authorizationState(token, payer.address, signed.nonce)).to.equal(true);
      });

      it("deposit items fail alone: UnknownOperator, SignerMismatch, AuthorizationFailed (reused, redirected, overdrawn)", async () => {
        const payer = await payerWithDeposit(token, 100_000n);
        const unknown = account("never-registered").address;
        const good = await stack.signDeposit(token, payer, 1_000n, { salt: salt(`good-${n++}`) });
        const toUnknown = await stack.signDeposit(token, payer, 1_000n, { operator: unknown });
        const otherSigner = await stack.signDeposit(token, payer, 1_000n, {
          voucherSigner: account("someone-else").address,
        });
        const overdrawn = await stack.signDeposit(token, payer, 100_000_000n, {
          salt: salt(`over-${n++}`),
        });
        // The same authorization bound to another operator: the nonce no longer matches.
        const redirected = { ...good, salt: salt(`good-${n}`), nonce: good.nonce };
        const before = await stack.getAccount(token, payer.address);
        const result = await stack.depositAll(token, [
          good,
          toUnknown,
          otherSigner,
          overdrawn,
          good,
          { ...redirected, operator: account("never-registered-2").address },
        ]);
        expect(result.statuses).to.deep.equal([
          DepositStatus.Deposited,
          DepositStatus.UnknownOperator,
          DepositStatus.SignerMismatch,
          DepositStatus.AuthorizationFailed,
          DepositStatus.AuthorizationFailed,
          DepositStatus.UnknownOperator,
        ]);
        expect(result.failures.map((f) => [f.index, f.status])).to.deep.equal([
          [1, DepositStatus.UnknownOperator],
          [2, DepositStatus.SignerMismatch],
          [3, DepositStatus.AuthorizationFailed],
          [4, DepositStatus.AuthorizationFailed],
          [5, DepositStatus.UnknownOperator],
        ]);
        // The token's revert data is carried for the token failures, none for the house's own.
        expect(result.failures[0]!.reason).to.equal("0x");
        expect(result.failures[2]!.reason).to.not.equal("0x");
        expect((await stack.getAccount(token, payer.address)).balance).to.equal(
          before.balance + 1_000n,
        );
      });

      it("an authorization redirected to another registered operator fails on the token (the nonce binds the operator)", async () => {
        const payer = await payerWithDeposit(token, 10_000n);
        const other = stack.strangerWallet;
        await stack.send(
          await stack.house.write.registerOperator([other.account.address, DELAY], {
            account: other.account,
          }),
        );
        const signed = await stack.signDeposit(token, payer, 5_000n, {
          salt: salt(`redir-${n++}`),
        });
        const result = await stack.depositAll(token, [
          { ...signed, operator: other.account.address },
        ]);
        expect(result.statuses).to.deep.equal([DepositStatus.AuthorizationFailed]);
        expect(
          (await stack.getAccount(token, payer.address, other.account.address)).balance,
        ).to.equal(0n);
        expect(await stack.authorizationState(token, payer.address, signed.nonce)).to.equal(false);
      });

      it("clear moves only the increase, to the payee and the fee recipient, and records the totals", async () => {
        const payer = await payerWithDeposit(token, 100_000n);
        const payee = await payeeOf(token);
        const payeeBefore = await stack.balanceOf(token, payee);
        const feeBefore = await stack.balanceOf(token, stack.feeRecipient);
        const first = await stack.clear(token, [
          await stack.voucher(token, payer, { payee, value: 10_000n, fee: 100n }),
        ]);
        expect(first.statuses).to.deep.equal([ClearStatus.Cleared]);
        const second = await stack.clear(token, [
          await stack.voucher(token, payer, { payee, value: 25_000n, fee: 250n }),
        ]);
        expect(second.statuses).to.deep.equal([ClearStatus.Cleared]);
        expect(second.eventStatuses).to.deep.equal([ClearStatus.Cleared]);
        expect(second.rejections).to.deep.equal([]);
        expect((await stack.balanceOf(token, payee)) - payeeBefore).to.equal(25_000n);
        expect((await stack.balanceOf(token, stack.feeRecipient)) - feeBefore).to.equal(250n);
        expect(await stack.getCleared(token, payer.address, payee)).to.deep.equal({
          value: 25_000n,
          fee: 250n,
        });
        expect((await stack.getAccount(token, payer.address)).balance).to.equal(100_000n - 25_250n);
      });

      it("every voucher status, each item isolated, nothing partial moves", async () => {
        const session = account(`behaviour-session-${n++}`);
        const payer = await payerWithDeposit(token, 50_000n, { voucherSigner: session.address });
        const poor = await payerWithDeposit(token, 1_000n);
        const payee = await payeeOf(token);
        const otherPayee = await payeeOf(token);
        await stack.clear(token, [await stack.voucher(token, payer, { payee, value: 5_000n })]);
        const unknownOperator = account("never-registered").address;
        const items = [
          await stack.voucher(token, session, { payer: payer.address, payee, value: 7_000n }),
          await stack.voucher(token, payer, { payee, value: 9_000n, operator: unknownOperator }),
          await stack.voucher(token, payer, { payee, value: 6_000n }),
          await stack.voucher(token, session, { payer: payer.address, payee, value: 7_000n }),
          await stack.voucher(token, poor, { payee, value: 1_001n }),
          await stack.voucher(token, account("not-named"), {
            payer: payer.address,
            payee: otherPayee,
            value: 1_000n,
          }),
          await stack.voucher(token, payer, { payee: otherPayee, value: 2_000n, fee: 20n }),
        ];
        const balanceBefore = (await stack.getAccount(token, payer.address)).balance;
        const result = await stack.clear(token, items);
        expect(result.statuses).to.deep.equal([
          ClearStatus.Cleared,
          ClearStatus.UnknownOperator,
          ClearStatus.CumulativeDecreased,
          ClearStatus.AlreadyCleared,
          ClearStatus.InsufficientBalance,
          ClearStatus.InvalidSignature,
          ClearStatus.Cleared,
        ]);
        expect(result.eventStatuses).to.deep.equal(result.statuses);
        expect(result.rejections.map((r) => [r.index, r.status])).to.deep.equal([
          [1, ClearStatus.UnknownOperator],
          [2, ClearStatus.CumulativeDecreased],
          [3, ClearStatus.AlreadyCleared],
          [4, ClearStatus.InsufficientBalance],
          [5, ClearStatus.InvalidSignature],
        ]);
        expect(balanceBefore - (await stack.getAccount(token, payer.address)).balance).to.equal(
          2_000n + 2_000n + 20n,
        );
        expect((await stack.getAccount(token, poor.address)).balance).to.equal(1_000n);
        expect(await stack.getCleared(token, payer.address, payee)).to.deep.equal({
          value: 7_000n,
          fee: 0n,
        });
      });

      it("a voucher for another payee, token, chain or ClearingHouse, or with a raised fee, is InvalidSignature; another operator finds no funds", async () => {
        const payer = await payerWithDeposit(token, 50_000n);
        const payee = await payeeOf(token);
        const signed = await stack.voucher(token, payer, { payee, value: 1_000n, fee: 10n });
        const otherChain = getClearingHouseDomain({
          chainId: 84532,
          clearingHouse: stack.house.address,
        });
        const otherHouse = getClearingHouseDomain({
          chainId: stack.domain.chainId,
          clearingHouse: stack.router.address,
        });
        const otherToken =
          tokenName === "FiatTokenV2_2" ? stack.tokens.X402TestToken : stack.tokens.FiatTokenV2_2;
        const items = [
          { ...signed, payee: await payeeOf(token) },
          { ...signed, cumulativeFee: 20n },
          await stack.voucher(token, payer, { payee, value: 1_000n, fee: 10n }, otherChain),
          await stack.voucher(token, payer, { payee, value: 1_000n, fee: 10n }, otherHouse),
          {
            ...(await stack.voucher(token, payer, {
              payee,
              value: 1_000n,
              fee: 10n,
              token: otherToken.address,
            })),
            token: token.address,
          },
        ];
        const result = await stack.clear(token, items);
        expect(result.statuses).to.deep.equal(items.map(() => ClearStatus.InvalidSignature));
        // Under another operator the payer's account is empty: rejected before the signature.
        const otherOperator = await stack.clear(token, [
          { ...signed, operator: stack.strangerWallet.account.address },
        ]);
        expect(otherOperator.statuses).to.deep.equal([
          (await stack.house.read.getOperator([stack.strangerWallet.account.address]))
            .feeRecipient === zeroAddress
            ? ClearStatus.UnknownOperator
            : ClearStatus.InsufficientBalance,
        ]);
        expect((await stack.getAccount(token, payer.address)).balance).to.equal(50_000n);
      });

      it("a high-s signature is rejected: the encoder refuses it, and flipped bytes on chain are InvalidSignature", async () => {
        const payer = await payerWithDeposit(token, 50_000n);
        const payee = await payeeOf(token);
        const signed = await stack.voucher(token, payer, { payee, value: 1_000n });
        const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
        const s = BigInt(`0x${signed.signature.slice(66, 130)}`);
        const v = Number.parseInt(signed.signature.slice(130, 132), 16);
        const high =
          `${signed.signature.slice(0, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
        expect(() =>
          encodeVouchers({ token: token.address, vouchers: [{ ...signed, signature: high }] }),
        ).to.throw(/lower half/);
        // The same high s forced into the packed bytes: the 255-bit field cannot hold it.
        const good = encodeVouchers({ token: token.address, vouchers: [signed] });
        const forced =
          `${good.slice(0, 2 + 93 * 2 + 64)}${(((v === 27 ? 1n : 0n) << 255n) | (n - s)).toString(16).padStart(64, "0").slice(-64)}` as Hex;
        const result = await stack.clear(token, forced);
        expect(result.statuses).to.deep.equal([ClearStatus.InvalidSignature]);
      });

      it("an ERC-1271 wallet named as voucher signer signs contract-signature vouchers", async () => {
        const owner = account(`wallet-owner-${n++}`);
        const wallet = await stack.conn.viem.deployContract("ERC1271WalletMock", [owner.address]);
        const payer = await payerWithDeposit(token, 50_000n, { voucherSigner: wallet.address });
        const payee = await payeeOf(token);
        const byOwner = await stack.voucher(token, owner, {
          payer: payer.address,
          payee,
          value: 3_000n,
        });
        const result = await stack.clear(token, [
          { ...byOwner, contractSignature: true },
          {
            ...(await stack.voucher(token, account("stranger-key"), {
              payer: payer.address,
              payee,
              value: 4_000n,
            })),
            contractSignature: true,
          },
        ]);
        expect(result.statuses).to.deep.equal([ClearStatus.Cleared, ClearStatus.InvalidSignature]);
        expect(await stack.getCleared(token, payer.address, payee)).to.deep.equal({
          value: 3_000n,
          fee: 0n,
        });
      });

      it("payouts are netted: one transfer per distinct payee and one per fee recipient", async () => {
        const payers = [
          await payerWithDeposit(token, 50_000n),
          await payerWithDeposit(token, 50_000n),
          await payerWithDeposit(token, 50_000n),
        ];
        const payees = [await payeeOf(token), await payeeOf(token)];
        const items = [];
        for (const payer of payers) {
          for (const payee of payees) {
            items.push(await stack.voucher(token, payer, { payee, value: 1_000n, fee: 10n }));
          }
        }
        const result = await stack.clear(token, items);
        expect(result.statuses).to.deep.equal(items.map(() => ClearStatus.Cleared));
        const transfers = result.receipt.logs.filter(
          (log) =>
            getAddress(log.address) === getAddress(token.address) &&
            log.topics[0] === "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
        );
        expect(transfers.length).to.equal(3);
        for (const payee of payees) {
          expect(await stack.balanceOf(token, payee)).to.equal(1n + 3_000n);
        }
      });

      it("a payee that cannot receive: its items are undone (PayoutFailed), the others clear", async () => {
        const payer = await payerWithDeposit(token, 50_000n);
        const good = await payeeOf(token);
        let bad: Address = zeroAddress;
        if (tokenName === "FiatTokenV2_2") {
          bad = await payeeOf(token);
          await blacklist(bad);
        }
        const result = await stack.clear(token, [
          await stack.voucher(token, payer, { payee: bad, value: 1_000n, fee: 10n }),
          await stack.voucher(token, payer, { payee: good, value: 2_000n, fee: 20n }),
          await stack.voucher(token, payer, { payee: bad, value: 1_500n, fee: 15n }),
        ]);
        expect(result.statuses).to.deep.equal([
          ClearStatus.PayoutFailed,
          ClearStatus.Cleared,
          ClearStatus.PayoutFailed,
        ]);
        expect(result.rejections.map((r) => [r.index, r.status])).to.deep.equal([
          [2, ClearStatus.PayoutFailed],
          [0, ClearStatus.PayoutFailed],
        ]);
        expect(await stack.getCleared(token, payer.address, bad)).to.deep.equal({
          value: 0n,
          fee: 0n,
        });
        expect((await stack.getAccount(token, payer.address)).balance).to.equal(50_000n - 2_020n);
      });

      it("withdrawal: request, not before the delay, only by the payer, capped at what clearing left", async () => {
        const payer = await payerWithDeposit(token, 10_000n);
        const payee = await payeeOf(token);
        const payerWallet = await walletOf(payer);
        await expectRevert(
          stack.house.simulate.withdraw([stack.operator, token.address], {
            account: payer.address,
          }),
          "ClearingHouseNoPendingWithdrawal",
        );
        await stack.send(
          await payerWallet.writeContract({
            address: stack.house.address,
            abi: clearingHouseAbi,
            functionName: "requestWithdrawal",
            args: [stack.operator, token.address, 8_000n],
          }),
        );
        const pending = await stack.getAccount(token, payer.address);
        expect(pending.withdrawalAmount).to.equal(8_000n);
        await expectRevert(
          stack.house.simulate.withdraw([stack.operator, token.address], {
            account: payer.address,
          }),
          "ClearingHouseWithdrawalNotReady",
          [pending.withdrawalReadyAt],
        );
        // The operator clears before the delay runs out.
        await stack.clear(token, [await stack.voucher(token, payer, { payee, value: 4_000n })]);
        await stack.testClient.increaseTime({ seconds: DELAY });
        await stack.testClient.mine({ blocks: 1 });
        // Someone else has no pending withdrawal of their own.
        await expectRevert(
          stack.house.simulate.withdraw([stack.operator, token.address], {
            account: stack.strangerWallet.account.address,
          }),
          "ClearingHouseNoPendingWithdrawal",
        );
        const before = await stack.balanceOf(token, payer.address);
        await stack.send(
          await payerWallet.writeContract({
            address: stack.house.address,
            abi: clearingHouseAbi,
            functionName: "withdraw",
            args: [stack.operator, token.address],
          }),
        );
        expect((await stack.balanceOf(token, payer.address)) - before).to.equal(6_000n);
        const after = await stack.getAccount(token, payer.address);
        expect(after.balance).to.equal(0n);
        expect(after.withdrawalReadyAt).to.equal(0);
        // Clearing after the completed withdrawal moves nothing.
        const late = await stack.clear(token, [
          await stack.voucher(token, payer, { payee, value: 5_000n }),
        ]);
        expect(late.statuses).to.deep.equal([ClearStatus.InsufficientBalance]);
      });

      it("an account keeps the delay it had at its first deposit", async () => {
        const payer = await payerWithDeposit(token, 1_000n);
        await stack.send(
          await stack.house.write.registerOperator([stack.feeRecipient, 30 * 86_400], {
            account: stack.operatorWallet.account,
          }),
        );
        const later = await payerWithDeposit(token, 1_000n);
        await stack.send(
          await stack.house.write.registerOperator([stack.feeRecipient, DELAY], {
            account: stack.operatorWallet.account,
          }),
        );
        expect((await stack.getAccount(token, payer.address)).withdrawalDelay).to.equal(DELAY);
        expect((await stack.getAccount(token, later.address)).withdrawalDelay).to.equal(
          30 * 86_400,
        );
      });

      it("a cooperative release pays the payer at once, relayed by anyone, usable once", async () => {
        const payer = await payerWithDeposit(token, 10_000n);
        const release = {
          payer: payer.address,
          operator: stack.operator,
          token: token.address,
          amount: 7_000n,
          salt: salt(`release-${n++}`),
          deadline: 1_999_999_999,
        };
        const typedData = getReleaseTypedData({ domain: stack.domain, release });
        const [digest] = await stack.house.read.releaseDigest([release]);
        expect(hashTypedData(typedData)).to.equal(digest);
        const signature = await stack.operatorWallet.signTypedData({
          account: stack.operatorWallet.account,
          ...typedData,
        });
        // The toolkit's signer gives the same signature with the operator's key (Hardhat account #1),
        // and refuses to sign a release as anyone but the operator it names.
        const operatorKey = privateKeyToAccount(HARDHAT_ACCOUNT_1_KEY);
        expect(operatorKey.address).to.equal(getAddress(stack.operator));
        expect(
          (await signRelease(operatorKey, { domain: stack.domain, release })).signature,
        ).to.equal(signature);
        let refusal: unknown;
        await signRelease(payer, { domain: stack.domain, release }).catch((error: unknown) => {
          refusal = error;
        });
        expect(refusal).to.be.instanceOf(InvalidClearingInputError);
        const badSignature = await payer.signTypedData(typedData);
        await expectRevert(
          stack.house.simulate.withdrawWithRelease([release, badSignature], {
            account: stack.strangerWallet.account.address,
          }),
          "ClearingHouseInvalidReleaseSignature",
        );
        const before = await stack.balanceOf(token, payer.address);
        await stack.send(
          await stack.house.write.withdrawWithRelease([release, signature], {
            account: stack.strangerWallet.account,
          }),
        );
        expect((await stack.balanceOf(token, payer.address)) - before).to.equal(7_000n);
        const [, structHash] = await stack.house.read.releaseDigest([release]);
        expect(await stack.house.read.releaseUsed([structHash])).to.equal(true);
        await expectRevert(
          stack.house.simulate.withdrawWithRelease([release, signature], {
            account: stack.strangerWallet.account.address,
          }),
          "ClearingHouseReleaseUsed",
          [structHash],
        );
        const big = { ...release, amount: 7_000n, salt: salt(`release-big-${n++}`) };
        const { signature: bigSignature } = await signRelease(operatorKey, {
          domain: stack.domain,
          release: big,
        });
        await expectRevert(
          stack.house.simulate.withdrawWithRelease([big, bigSignature], {
            account: stack.strangerWallet.account.address,
          }),
          "ClearingHouseInsufficientBalance",
          [3_000n, 7_000n],
        );
        const expired = { ...release, salt: salt(`release-old-${n++}`), deadline: 1 };
        await expectRevert(
          stack.house.simulate.withdrawWithRelease([expired, signature], {
            account: stack.strangerWallet.account.address,
          }),
          "ClearingHouseReleaseExpired",
          [1],
        );
      });
    });
  }

  async function walletOf(payer: ReturnType<typeof account>) {
    await stack.testClient.setBalance({ address: payer.address, value: 10n ** 18n });
    const { createWalletClient, custom } = await import("viem");
    return createWalletClient({
      account: payer,
      chain: stack.client.chain,
      transport: custom(stack.client.transport as never),
    });
  }

  async function blacklist(address: Address) {
    await stack.testClient.impersonateAccount({ address: LOCAL_USDC_ROLES.blacklister });
    await stack.testClient.setBalance({ address: LOCAL_USDC_ROLES.blacklister, value: 10n ** 18n });
    await stack.send(
      await stack.client.sendTransaction({
        account: LOCAL_USDC_ROLES.blacklister,
        chain: null,
        to: stack.tokens.FiatTokenV2_2.address,
        data: encodeFunctionData({ abi: eip3009Abi, functionName: "blacklist", args: [address] }),
      }),
    );
  }

  describe("submitter errors and plain deposits", () => {
    it("registerOperator rejects a zero fee recipient and delays outside [15 min, 30 days] or not whole minutes", async () => {
      const from = { account: stack.strangerWallet.account.address };
      await expectRevert(
        stack.house.simulate.registerOperator([zeroAddress, DELAY], from),
        "ClearingHouseInvalidFeeRecipient",
      );
      for (const delay of [899, 30 * 86_400 + 60, 3_601]) {
        await expectRevert(
          stack.house.simulate.registerOperator([stack.feeRecipient, delay], from),
          "ClearingHouseInvalidWithdrawalDelay",
          [BigInt(delay)],
        );
      }
    });

    it("malformed items, a token without code and a fee recipient that cannot receive revert the whole call", async () => {
      const usdc = stack.tokens.FiatTokenV2_2;
      const payer = await payerWithDeposit(usdc, 10_000n);
      const payee = await payeeOf(usdc);
      const items = encodeVouchers({
        token: usdc.address,
        vouchers: [await stack.voucher(usdc, payer, { payee, value: 1_000n })],
      });
      const from = { account: stack.relayer };
      await expectRevert(
        stack.house.simulate.clear([usdc.address, items.slice(0, -2) as Hex], from),
        "ClearingHouseMalformedItems",
        [157n],
      );
      await expectRevert(
        stack.house.simulate.clear([usdc.address, `0x02${items.slice(4)}` as Hex], from),
        "ClearingHouseMalformedItems",
        [0n],
      );
      await expectRevert(
        stack.house.simulate.clear([usdc.address, "0x00"], from),
        "ClearingHouseMalformedItems",
        [0n],
      );
      await expectRevert(
        stack.house.simulate.depositWithAuthorizations([usdc.address, "0x00"], from),
        "ClearingHouseMalformedItems",
        [1n],
      );
      const noCode = account("no-code").address;
      await expectRevert(
        stack.house.simulate.clear([noCode, "0x"], from),
        "ClearingHouseTokenHasNoCode",
        [noCode],
      );
      // A fee recipient blacklisted on USDC: the fee payout fails and the call reverts.
      const operator = stack.strangerWallet;
      const badFees = account(`bad-fees-${n++}`).address;
      await stack.send(
        await stack.house.write.registerOperator([badFees, DELAY], { account: operator.account }),
      );
      await blacklist(badFees);
      const payer2 = account(`behaviour-payer-${n++}`);
      await stack.fund(usdc, [payer2.address], 100_000n);
      await stack.depositAll(usdc, [
        await stack.signDeposit(usdc, payer2, 50_000n, { operator: operator.account.address }),
      ]);
      const voucher = await stack.voucher(usdc, payer2, {
        payee,
        value: 1_000n,
        fee: 5n,
        operator: operator.account.address,
      });
      await expectRevert(
        stack.house.simulate.clear(
          [usdc.address, encodeVouchers({ token: usdc.address, vouchers: [voucher] })],
          from,
        ),
        "ClearingHouseFeePayoutFailed",
        [getAddress(badFees), 5n],
      );
    });

    it("a token that reports deposits it did not move reverts the batch (ClearingHouseBalanceMismatch)", async () => {
      const liar = await stack.conn.viem.deployContract("LyingEIP3009Token", []);
      const payer = account(`liar-payer-${n++}`);
      const signed = await stack.signDeposit(
        {
          ...stack.tokens.X402TestToken,
          address: liar.address,
          domain: { ...stack.tokens.X402TestToken.domain, verifyingContract: liar.address },
        },
        payer,
        1_000n,
      );
      const { encodeDeposits } = await import("../../src/clearing/encodeDeposits.js");
      await expectRevert(
        stack.house.simulate.depositWithAuthorizations([liar.address, encodeDeposits([signed])], {
          account: stack.relayer,
        }),
        "ClearingHouseBalanceMismatch",
        [1_000n, 0n],
      );
    });

    it("plain deposit through transferFrom works with a token that returns nothing, and keeps the signer rule", async () => {
      const token = await stack.conn.viem.deployContract("NoReturnToken", []);
      const payer = stack.strangerWallet;
      await stack.send(await token.write.mint([payer.account.address, 10_000n]));
      await stack.send(
        await token.write.approve([stack.house.address, maxUint256], { account: payer.account }),
      );
      const session = account(`plain-session-${n++}`).address;
      await stack.send(
        await stack.house.write.deposit([stack.operator, token.address, 4_000n, session], {
          account: payer.account,
        }),
      );
      const state = await stack.house.read.getAccount([
        payer.account.address,
        stack.operator,
        token.address,
      ]);
      expect(state.balance).to.equal(4_000n);
      expect(state.voucherSigner).to.equal(getAddress(session));
      expect(await token.read.balanceOf([stack.house.address])).to.equal(4_000n);
      await expectRevert(
        stack.house.simulate.deposit([stack.operator, token.address, 1n, zeroAddress], {
          account: payer.account.address,
        }),
        "ClearingHouseSignerMismatch",
        [getAddress(session), zeroAddress],
      );
      await expectRevert(
        stack.house.simulate.deposit([account("nobody").address, token.address, 1n, session], {
          account: payer.account.address,
        }),
        "ClearingHouseUnknownOperator",
        [account("nobody").address],
      );
      await expectRevert(
        stack.house.simulate.deposit([stack.operator, token.address, 2n ** 80n, session], {
          account: payer.account.address,
        }),
        "ClearingHouseBalanceOverflow",
        [4_000n, 2n ** 80n],
      );
      await expectRevert(
        stack.house.simulate.requestWithdrawal([stack.operator, account("never").address, 1n], {
          account: payer.account.address,
        }),
        "ClearingHouseUnknownAccount",
      );
    });

    it("an EIP-3009 deposit above 2^80 - 1 is BalanceOverflow (test token)", async () => {
      const token = stack.tokens.X402TestToken;
      const payer = account(`whale-${n++}`);
      await stack.fund(token, [payer.address], 2n ** 80n);
      const result = await stack.depositAll(token, [
        await stack.signDeposit(token, payer, 2n ** 80n),
      ]);
      expect(result.statuses).to.deep.equal([DepositStatus.BalanceOverflow]);
      expect(await stack.balanceOf(token, payer.address)).to.equal(2n ** 80n);
    });
  });
});
