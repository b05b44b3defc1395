import { expect } from "chai";
import {
  type Address,
  createWalletClient,
  custom,
  erc20Abi,
  getAddress,
  hexToBytes,
  parseEventLogs,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import { buildPermit2Deposit } from "../../src/clearing/buildPermit2Deposit.js";
import { clearPending } from "../../src/clearing/clearPending.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { encodePermit2Deposits } from "../../src/clearing/encodePermit2Deposits.js";
import { InvalidClearingInputError } from "../../src/clearing/errors.js";
import { createMemoryLedgerStore } from "../../src/clearing/ledgerStore.js";
import { OperatorLedger } from "../../src/clearing/OperatorLedger.js";
import { permit2DepositWitness } from "../../src/clearing/permit2DepositWitness.js";
import { signPermit2Deposit } from "../../src/clearing/signPermit2Deposit.js";
import type { SignedPermit2Deposit } from "../../src/clearing/types.js";
import { verifyPermit2Deposit } from "../../src/clearing/verifyPermit2Deposit.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import {
  fundTetherLike,
  installTetherLikeToken,
  setTetherLikeBlacklisted,
} from "../../src/chain/tetherLike.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import { hashPermit2Witness } from "../../src/permit2/typedData.js";
import { isPermit2NonceUsed } from "../../src/permit2/nonces.js";
import { account } from "../router/fixtures.js";
import { DELAY, DepositStatus, deployClearing } from "./fixtures.js";

const FEE = { basisPoints: 100 };
const PRICE = 10_000n;

for (const tokenName of ["TetherLikeToken", "FiatTokenV2_2"] as const) {
  describe(`clearing: Permit2 deposits (${tokenName})`, function () {
    it("deposits through Permit2 after one approval, spends with vouchers, clears, exits, and conserves every unit", async function () {
      const stack = await deployClearing();
      const token: Address =
        tokenName === "TetherLikeToken"
          ? await installTetherLikeToken(stack.testClient)
          : USDC_ADDRESS;
      const fund = (recipients: Address[], amount: bigint) =>
        tokenName === "TetherLikeToken"
          ? fundTetherLike(stack.testClient, { recipients, amount })
          : fundUsdc(stack.testClient, { recipients, amount });
      const balanceOf = (owner: Address) =>
        stack.client.readContract({
          address: token,
          abi: erc20Abi,
          functionName: "balanceOf",
          args: [owner],
        });
      const label = (name: string) => account(`permit2-deposit-${tokenName}-${name}`);
      const payers = [label("payer-0"), label("payer-1")];
      const session = label("session-0");
      const unapproved = label("unapproved");
      const blacklisted = label("blacklisted");
      const payees = [0, 1, 2].map((i) => label(`payee-${i}`).address);
      const chainId = stack.domain.chainId;
      const walletOf = (payer: PrivateKeyAccount) =>
        createWalletClient({
          account: payer,
          chain: stack.client.chain,
          transport: custom(stack.conn.provider),
        });

      await fund(
        [...payers, unapproved, blacklisted].map((p) => p.address),
        10_000_000n,
      );
      for (const payer of [...payers, blacklisted]) {
        await stack.testClient.setBalance({ address: payer.address, value: 10n ** 18n });
        // The payer's one on-chain transaction: approving Permit2.
        const { hashes } = await approvePermit2(walletOf(payer), { token });
        expect(hashes).to.have.length(1);
      }
      if (tokenName === "TetherLikeToken")
        await setTetherLikeBlacklisted(stack.testClient, { account: blacklisted.address });

      const deadline = BigInt((await stack.client.getBlock()).timestamp) + 3_600n;
      const sign = (
        payer: PrivateKeyAccount,
        amount: bigint,
        options: { voucherSigner?: Address; deadline?: bigint } = {},
      ) =>
        signPermit2Deposit(payer, {
          chainId,
          deposit: buildPermit2Deposit({
            payer: payer.address,
            clearingHouse: stack.house.address,
            token,
            operator: stack.operator,
            voucherSigner: options.voucherSigner,
            amount,
            deadline: options.deadline ?? deadline,
          }),
        });
      const good = [
        await sign(payers[0]!, 5_000_000n, { voucherSigner: session.address }),
        await sign(payers[1]!, 3_000_000n),
      ];
      for (const deposit of good)
        expect(verifyPermit2Deposit({ chainId, deposit }).valid).to.be.true;
      expect(
        await stack.house.read.permit2DepositWitness([stack.operator, session.address]),
      ).to.equal(
        hashPermit2Witness(
          permit2DepositWitness({ operator: stack.operator, voucherSigner: session.address }),
        ),
      );
      const bad: SignedPermit2Deposit[] = [
        good[0]!, // the same permit again: its nonce is spent by the first item
        await sign(unapproved, 1_000_000n), // never approved Permit2
        await sign(payers[1]!, 1_000_000n, { deadline: 1n }), // deadline passed
        ...(tokenName === "TetherLikeToken" ? [await sign(blacklisted, 1_000_000n)] : []),
      ];
      const items = encodePermit2Deposits({ token, deposits: [...good, ...bad] });
      const houseBefore = await balanceOf(stack.house.address);
      const { result } = await stack.house.simulate.depositWithPermit2([token, items], {
        account: stack.relayer,
      });
      const receipt = await stack.send(
        await stack.house.write.depositWithPermit2([token, items], { account: stack.relayer }),
      );
      const logs = parseEventLogs({ abi: stack.house.abi, logs: receipt.logs });
      const statuses = [...hexToBytes(result)];
      expect(statuses).to.deep.equal([0, 0, ...bad.map(() => DepositStatus.AuthorizationFailed)]);
      const processed = logs.filter((log) => log.eventName === "DepositsProcessed");
      expect([...hexToBytes(processed[0]!.args.results)]).to.deep.equal(statuses);
      expect(
        logs
          .filter((log) => log.eventName === "DepositFailed")
          .map((log) => Number(log.args.index)),
      ).to.deep.equal(bad.map((_, i) => 2 + i));
      const deposited = 8_000_000n;
      expect((await balanceOf(stack.house.address)) - houseBefore).to.equal(deposited);
      expect(
        (await stack.house.read.getAccount([payers[0]!.address, stack.operator, token])).balance,
      ).to.equal(5_000_000n);
      expect(
        (await stack.house.read.getAccount([payers[0]!.address, stack.operator, token]))
          .voucherSigner,
      ).to.equal(session.address);
      expect(
        (await stack.house.read.getAccount([payers[1]!.address, stack.operator, token])).balance,
      ).to.equal(3_000_000n);
      expect(
        await isPermit2NonceUsed(stack.client, {
          owner: payers[0]!.address,
          nonce: good[0]!.nonce,
        }),
      ).to.be.true;
      for (const failed of bad.slice(1))
        expect(await isPermit2NonceUsed(stack.client, { owner: failed.payer, nonce: failed.nonce }))
          .to.be.false;

      // Spend with vouchers through the operator's ledger, then clear on chain.
      const ledger = new OperatorLedger({
        clearingHouse: stack.house.address,
        chainId,
        operator: stack.operator,
        tokens: [token],
        fee: FEE,
        store: createMemoryLedgerStore(),
      });
      for (const payer of payers)
        await ledger.syncAccount(stack.client, { payer: payer.address, token });
      const signers = [session, payers[1]!];
      const payeesBefore = await Promise.all(payees.map(balanceOf));
      const feesBefore = await balanceOf(stack.feeRecipient);
      let expectedPayees = [0n, 0n, 0n];
      let expectedFees = 0n;
      for (let round = 1n; round <= 3n; round++) {
        for (let i = 0; i < payers.length; i++) {
          for (let j = 0; j < payees.length; j++) {
            const value = round * PRICE * BigInt(j + 1);
            const signed = await stack.voucher(
              { name: "FiatTokenV2_2", address: token, domain: stack.tokens.FiatTokenV2_2.domain },
              signers[i]!,
              {
                payer: payers[i]!.address,
                payee: payees[j]!,
                value,
                fee: computeVoucherFee(FEE, value),
              },
            );
            const accepted = await ledger.accept({ voucher: signed, price: PRICE * BigInt(j + 1) });
            expect(accepted.accepted, `round ${round} payer ${i} payee ${j}`).to.be.true;
          }
        }
      }
      for (let j = 0; j < payees.length; j++) {
        const value = 3n * PRICE * BigInt(j + 1);
        expectedPayees[j] = 2n * value;
        expectedFees += 2n * computeVoucherFee(FEE, value);
      }
      const cleared = await clearPending(stack.operatorWallet, { ledger, token });
      expect(cleared.cleared).to.equal(payers.length * payees.length);
      expect(cleared.failed).to.equal(0);
      const payeesAfter = await Promise.all(payees.map(balanceOf));
      expect(payeesAfter.map((b, j) => b - payeesBefore[j]!)).to.deep.equal(expectedPayees);
      expect((await balanceOf(stack.feeRecipient)) - feesBefore).to.equal(expectedFees);

      // Payer 0 exits with everything left.
      const left0 = (await stack.house.read.getAccount([payers[0]!.address, stack.operator, token]))
        .balance;
      const payer0Before = await balanceOf(payers[0]!.address);
      await stack.send(
        await walletOf(payers[0]!).writeContract({
          address: stack.house.address,
          abi: stack.house.abi,
          functionName: "requestWithdrawal",
          args: [stack.operator, token, 10n ** 30n],
        }),
      );
      await stack.testClient.increaseTime({ seconds: DELAY });
      await stack.testClient.mine({ blocks: 1 });
      await stack.send(
        await walletOf(payers[0]!).writeContract({
          address: stack.house.address,
          abi: stack.house.abi,
          functionName: "withdraw",
          args: [stack.operator, token],
        }),
      );
      const withdrawn = (await balanceOf(payers[0]!.address)) - payer0Before;
      expect(withdrawn).to.equal(left0);

      // Conservation on chain: deposits = payee credits + fees + remaining balances + withdrawn,
      // and the ClearingHouse holds exactly the sum of its accounts.
      const remaining = (
        await Promise.all(
          payers.map((p) => stack.house.read.getAccount([p.address, stack.operator, token])),
        )
      ).reduce((sum, a) => sum + a.balance, 0n);
      const paid = payeesAfter.reduce((sum, b, j) => sum + b - payeesBefore[j]!, 0n);
      const fees = (await balanceOf(stack.feeRecipient)) - feesBefore;
      expect(paid + fees + remaining + withdrawn).to.equal(deposited);
      expect((await balanceOf(stack.house.address)) - houseBefore).to.equal(remaining);
      expect(remaining > 0n).to.be.true;
    });
  });
}

describe("clearing: the Permit2 deposit toolkit (offline)", function () {
  const payer = account("permit2-toolkit-payer");
  const base = {
    payer: payer.address,
    clearingHouse: account("permit2-toolkit-house").address,
    token: USDC_ADDRESS,
    operator: account("permit2-toolkit-operator").address,
    voucherSigner: account("permit2-toolkit-session").address,
    amount: 1_234_567n,
    deadline: 1_999_999_999n,
    nonce: 0xabcdefn,
  };

  it("packs 178 bytes per deposit in the documented layout", async function () {
    const signed = await signPermit2Deposit(payer, {
      chainId: 8453,
      deposit: buildPermit2Deposit(base),
    });
    const items = encodePermit2Deposits({ token: USDC_ADDRESS, deposits: [signed, signed] });
    expect((items.length - 2) / 2).to.equal(2 * 178);
    const item = items.slice(2, 2 + 178 * 2);
    const at = (offset: number, size: number) => `0x${item.slice(offset * 2, (offset + size) * 2)}`;
    expect(getAddress(at(0, 20))).to.equal(base.payer);
    expect(getAddress(at(20, 20))).to.equal(base.operator);
    expect(getAddress(at(40, 20))).to.equal(base.voucherSigner);
    expect(BigInt(at(60, 16))).to.equal(base.amount);
    expect(BigInt(at(76, 32))).to.equal(base.nonce);
    expect(BigInt(at(108, 6))).to.equal(base.deadline);
    expect(at(114, 32)).to.equal(signed.signature.slice(0, 66));
  });

  it("refuses out-of-range fields, another token in the batch and a signer other than the payer", async function () {
    expect(() => buildPermit2Deposit({ ...base, amount: 1n << 128n })).to.throw(
      InvalidClearingInputError,
    );
    expect(() => buildPermit2Deposit({ ...base, deadline: 1n << 48n })).to.throw(
      InvalidClearingInputError,
    );
    const deposit = buildPermit2Deposit(base);
    const signed = await signPermit2Deposit(payer, { chainId: 8453, deposit });
    expect(() =>
      encodePermit2Deposits({ token: account("other-token").address, deposits: [signed] }),
    ).to.throw(InvalidClearingInputError);
    let refused: unknown;
    try {
      await signPermit2Deposit(account("permit2-toolkit-stranger"), { chainId: 8453, deposit });
    } catch (error) {
      refused = error;
    }
    expect(refused).to.be.instanceOf(InvalidClearingInputError);
  });

  it("verifies offline: valid as signed, wrong_signer when the witness, spender, amount or chain differ", async function () {
    const signed = await signPermit2Deposit(payer, {
      chainId: 8453,
      deposit: buildPermit2Deposit(base),
    });
    expect(verifyPermit2Deposit({ chainId: 8453, deposit: signed })).to.deep.equal({
      valid: true,
      signer: payer.address,
    });
    const other = account("permit2-toolkit-other").address;
    for (const [label, deposit, chainId] of [
      ["operator", { ...signed, operator: other }, 8453],
      ["voucher signer", { ...signed, voucherSigner: other }, 8453],
      ["spender", { ...signed, clearingHouse: other }, 8453],
      ["amount", { ...signed, amount: signed.amount + 1n }, 8453],
      ["chain", signed, 84532],
    ] as const) {
      const result = verifyPermit2Deposit({ chainId, deposit });
      expect(result.valid, label).to.equal(false);
      if (!result.valid) expect(result.reason, label).to.equal("wrong_signer");
    }
  });
});
