import { expect } from "chai";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Address } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import { createWalletClient, custom, hexToBigInt, hexToBytes } from "viem";

import { buildPermit2Deposit } from "../../src/clearing/buildPermit2Deposit.js";
import { encodePermit2Deposits } from "../../src/clearing/encodePermit2Deposits.js";
import { signPermit2Deposit } from "../../src/clearing/signPermit2Deposit.js";
import type { SignedVoucher } from "../../src/clearing/types.js";
import { fundTetherLike, installTetherLikeToken } from "../../src/chain/tetherLike.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import { checkGasSnapshots } from "../helpers/gasSnapshots.js";
import {
  type TokenInfo,
  type TokenName,
  VALID_BEFORE,
  account,
  bytes32,
} from "../router/fixtures.js";
import { ClearStatus, DepositStatus, type ClearingStack, deployClearing } from "./fixtures.js";

const SNAPSHOT_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../gas-snapshots/clearing.json",
);

const SLUG: Record<TokenName, string> = { FiatTokenV2_2: "usdc", X402TestToken: "testtoken" };

/** The targets on FiatTokenV2_2 at the canonical address. */
const TARGETS = { clearSteadyPerPair: 19_000, clearFirstPerPair: 40_000, depositPerPayer: 75_000 };

/**
 * Gas per scenario from receipts (execution, the 21k intrinsic share and calldata), 100 distinct
 * payers (cold accounts) paying 10 payees, 10 pairs per payee, with a fee on every voucher. Payees
 * and the fee recipient already hold the token, as a merchant and an operator in steady state do.
 */
describe("ClearingHouse: gas", function () {
  let stack: ClearingStack;
  const measured: Record<string, Record<string, number>> = {};

  before(async () => {
    stack = await deployClearing();
  });

  after(function () {
    // Only a full run measures every scenario; a filtered run has nothing to compare.
    if (Object.keys(measured).length === 0) return;
    checkGasSnapshots(SNAPSHOT_FILE, measured);
  });

  function record(name: string, gasUsed: bigint, units: number, calldataBytes: number) {
    const gas = Number(gasUsed);
    measured[name] = {
      gasUsed: gas,
      gasPerUnit: Math.round(gas / units),
      calldataBytesPerUnit: calldataBytes / units,
    };
    return measured[name]!;
  }

  async function setup(token: TokenInfo, label: string, payerCount: number) {
    const payers = Array.from({ length: payerCount }, (_, i) => account(`gas-${label}-payer-${i}`));
    const sessionKeys = payers.map((_, i) => account(`gas-${label}-session-${i}`));
    const payees = Array.from({ length: 10 }, (_, i) => account(`gas-${label}-payee-${i}`).address);
    await stack.fund(
      token,
      [...payers.map((p) => p.address), ...payees, stack.feeRecipient],
      10_000_000n,
    );
    const deposits = await Promise.all(
      payers.map((p, i) =>
        stack.signDeposit(token, p, 5_000_000n, { voucherSigner: sessionKeys[i]!.address }),
      ),
    );
    const deposited = await stack.depositAll(token, deposits);
    expect(deposited.statuses).to.deep.equal(new Array(payerCount).fill(0));
    return { payers, sessionKeys, payees, deposited };
  }

  /**
   * 100 pairs, grouped by payee as an operator plans them, each signed by its payer's session
   * key: with 10 payers every payer pays every payee; with 100 each payer pays one payee.
   */
  async function vouchers(
    token: TokenInfo,
    payers: PrivateKeyAccount[],
    sessionKeys: PrivateKeyAccount[],
    payees: Address[],
    value: bigint,
  ): Promise<SignedVoucher[]> {
    const pairs: { payer: number; payee: number }[] = [];
    for (let payee = 0; payee < 10; payee++) {
      for (let k = 0; k < 10; k++) {
        pairs.push({ payer: payers.length === 10 ? k : payee + 10 * k, payee });
      }
    }
    return Promise.all(
      pairs.map(({ payer, payee }) =>
        stack.voucher(token, sessionKeys[payer]!, {
          payer: payers[payer]!.address,
          payee: payees[payee]!,
          value,
          fee: value / 100n,
        }),
      ),
    );
  }

  async function clearTwice(token: TokenInfo, slug: string, label: string, payerCount: number) {
    const { payers, sessionKeys, payees, deposited } = await setup(token, label, payerCount);
    const first = await stack.clear(
      token,
      await vouchers(token, payers, sessionKeys, payees, 10_000n),
    );
    expect(first.statuses).to.deep.equal(new Array(100).fill(ClearStatus.Cleared));
    const payeeBefore = await stack.balanceOf(token, payees[0]!);
    const feesBefore = await stack.balanceOf(token, stack.feeRecipient);
    const steady = await stack.clear(
      token,
      await vouchers(token, payers, sessionKeys, payees, 25_000n),
    );
    expect(steady.statuses).to.deep.equal(new Array(100).fill(ClearStatus.Cleared));
    // Payouts included: each payee got its 10 pairs' increase, the fee recipient all fees.
    expect((await stack.balanceOf(token, payees[0]!)) - payeeBefore).to.equal(10n * 15_000n);
    expect((await stack.balanceOf(token, stack.feeRecipient)) - feesBefore).to.equal(100n * 150n);
    return { first, steady, deposited };
  }

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    const slug = SLUG[tokenName];

    it(`deposit-100-${slug}, clear-100-pairs-100-payers-${slug}(-first): distinct payers`, async () => {
      const token = stack.tokens[tokenName];
      const { first, steady, deposited } = await clearTwice(token, slug, `${slug}-100`, 100);
      const deposit = record(
        `deposit-100-${slug}`,
        deposited.receipt.gasUsed,
        100,
        deposited.calldataBytes,
      );
      const firstClear = record(
        `clear-100-pairs-100-payers-${slug}-first`,
        first.receipt.gasUsed,
        100,
        first.calldataBytes,
      );
      const steadyClear = record(
        `clear-100-pairs-100-payers-${slug}`,
        steady.receipt.gasUsed,
        100,
        steady.calldataBytes,
      );
      console.log(
        `      ${slug}: deposit ${deposit.gasPerUnit}/payer; 100 payers: first clear ${firstClear.gasPerUnit}/pair, steady ${steadyClear.gasPerUnit}/pair`,
      );
      expect(deposit.calldataBytesPerUnit).to.equal(184);
      expect(steadyClear.calldataBytesPerUnit).to.equal(157);
      if (tokenName === "FiatTokenV2_2") {
        expect(deposit.gasPerUnit).to.be.at.most(TARGETS.depositPerPayer);
        expect(firstClear.gasPerUnit).to.be.at.most(TARGETS.clearFirstPerPair);
      }
    });

    it(`clear-100-pairs-10-payees-${slug}(-first): 10 payers each paying the 10 payees`, async () => {
      const token = stack.tokens[tokenName];
      const { first, steady } = await clearTwice(token, slug, `${slug}-10`, 10);
      const firstClear = record(
        `clear-100-pairs-10-payees-${slug}-first`,
        first.receipt.gasUsed,
        100,
        first.calldataBytes,
      );
      const steadyClear = record(
        `clear-100-pairs-10-payees-${slug}`,
        steady.receipt.gasUsed,
        100,
        steady.calldataBytes,
      );
      console.log(
        `      ${slug}: 10 payers x 10 payees: first clear ${firstClear.gasPerUnit}/pair, steady ${steadyClear.gasPerUnit}/pair`,
      );
      if (tokenName === "FiatTokenV2_2") {
        expect(steadyClear.gasPerUnit).to.be.at.most(TARGETS.clearSteadyPerPair);
        expect(firstClear.gasPerUnit).to.be.at.most(TARGETS.clearFirstPerPair);
      }
    });
  }

  for (const tokenName of ["FiatTokenV2_2", "TetherLikeToken"] as const) {
    const slug = tokenName === "FiatTokenV2_2" ? "usdc" : "tetherlike";

    it(`permit2-deposit-100-${slug}: 100 distinct payers deposit through Permit2 in one call`, async () => {
      const token =
        tokenName === "FiatTokenV2_2"
          ? stack.tokens.FiatTokenV2_2.address
          : await installTetherLikeToken(stack.testClient);
      const payers = Array.from({ length: 100 }, (_, i) =>
        account(`gas-permit2-${slug}-payer-${i}`),
      );
      const sessionKeys = payers.map((_, i) => account(`gas-permit2-${slug}-session-${i}`));
      if (tokenName === "FiatTokenV2_2")
        await stack.fund(
          stack.tokens.FiatTokenV2_2,
          payers.map((p) => p.address),
          10_000_000n,
        );
      else
        await fundTetherLike(stack.testClient, {
          recipients: payers.map((p) => p.address),
          amount: 10_000_000n,
        });
      for (const payer of payers) {
        await stack.testClient.setBalance({ address: payer.address, value: 10n ** 17n });
        const wallet = createWalletClient({
          account: payer,
          chain: stack.client.chain,
          transport: custom(stack.conn.provider),
        });
        await approvePermit2(wallet, { token });
      }
      const deposits = await Promise.all(
        payers.map((payer, i) =>
          signPermit2Deposit(payer, {
            chainId: stack.domain.chainId,
            deposit: buildPermit2Deposit({
              payer: payer.address,
              clearingHouse: stack.house.address,
              token,
              operator: stack.operator,
              voucherSigner: sessionKeys[i]!.address,
              amount: 5_000_000n,
              deadline: VALID_BEFORE,
              nonce: hexToBigInt(bytes32(`gas-permit2-nonce-${slug}-${i}`)),
            }),
          }),
        ),
      );
      const items = encodePermit2Deposits({ token, deposits });
      const { result } = await stack.house.simulate.depositWithPermit2([token, items], {
        account: stack.relayer,
      });
      expect([...hexToBytes(result)]).to.deep.equal(new Array(100).fill(DepositStatus.Deposited));
      const receipt = await stack.send(
        await stack.house.write.depositWithPermit2([token, items], { account: stack.relayer }),
      );
      const deposit = record(
        `permit2-deposit-100-${slug}`,
        receipt.gasUsed,
        100,
        (items.length - 2) / 2,
      );
      console.log(`      ${slug}: Permit2 deposit ${deposit.gasPerUnit}/payer`);
      expect(deposit.calldataBytesPerUnit).to.equal(178);
    });
  }
});
