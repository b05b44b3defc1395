import { expect } from "chai";
import { type Address, createPublicClient, custom } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import { clearPending } from "../../src/clearing/clearPending.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getDomainSeparator } from "../../src/clearing/getDomainSeparator.js";
import { createMemoryLedgerStore } from "../../src/clearing/ledgerStore.js";
import { OperatorLedger, type WithdrawalDeadline } from "../../src/clearing/OperatorLedger.js";
import type { SignedVoucher } from "../../src/clearing/types.js";
import { verifyContractVoucher } from "../../src/clearing/verifyContractVoucher.js";
import { watchLedger } from "../../src/clearing/watchLedger.js";
import { type TokenInfo, account } from "../router/fixtures.js";
import { DELAY, type ClearingStack, deployClearing } from "./fixtures.js";

const FEE = { basisPoints: 100 };
const DEPOSIT = 1_000_000n;
const PRICE = 10_000n;

/** Polls `condition` until it holds (a loaded machine may take a while), at most `timeoutMs`. */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const start = Date.now();
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("clearing: the operator ledger on the simulated Base (FiatTokenV2_2)", function () {
  let stack: ClearingStack;
  let token: TokenInfo;
  let payers: PrivateKeyAccount[];
  let sessions: PrivateKeyAccount[];
  let payees: Address[];
  let ledger: OperatorLedger;

  before(async () => {
    stack = await deployClearing();
    token = stack.tokens.FiatTokenV2_2;
    payers = [0, 1, 2].map((i) => account(`ledger-payer-${i}`));
    sessions = [0, 1, 2].map((i) => account(`ledger-session-${i}`));
    payees = [0, 1].map((i) => account(`ledger-payee-${i}`).address);
    await stack.fund(
      token,
      [...payers.map((p) => p.address), ...payees, stack.feeRecipient],
      5_000_000n,
    );
    const deposits = await Promise.all(
      payers.map((p, i) =>
        stack.signDeposit(token, p, DEPOSIT, { voucherSigner: sessions[i]!.address }),
      ),
    );
    const { statuses } = await stack.depositAll(token, deposits);
    expect(statuses).to.deep.equal([0, 0, 0]);
    ledger = new OperatorLedger({
      clearingHouse: stack.house.address,
      chainId: stack.domain.chainId,
      operator: stack.operator,
      tokens: [token.address],
      fee: FEE,
      store: createMemoryLedgerStore(),
    });
    for (const payer of payers)
      await ledger.syncAccount(stack.client, { payer: payer.address, token: token.address });
  });

  function voucher(i: number, payee: Address, value: bigint): Promise<SignedVoucher> {
    return stack.voucher(token, sessions[i]!, {
      payer: payers[i]!.address,
      payee,
      value,
      fee: computeVoucherFee(FEE, value),
    });
  }

  /** Every account and pair the ledger mirrors equals the ClearingHouse's view. */
  async function expectMirrorMatchesChain() {
    for (const payer of payers) {
      const chain = await stack.getAccount(token, payer.address);
      const mirror = ledger.getAccount({ payer: payer.address, token: token.address })!;
      expect(mirror.balance, "balance").to.equal(chain.balance);
      expect(mirror.withdrawalAmount, "withdrawal").to.equal(chain.withdrawalAmount);
      expect(mirror.withdrawalReadyAt, "readyAt").to.equal(chain.withdrawalReadyAt);
      for (const payee of payees) {
        const cleared = await stack.getCleared(token, payer.address, payee);
        const pair = ledger.getPair({ payer: payer.address, payee, token: token.address });
        expect(pair?.clearedValue ?? 0n, "cleared value").to.equal(cleared.value);
        expect(pair?.clearedFee ?? 0n, "cleared fee").to.equal(cleared.fee);
      }
    }
  }

  it("accepts concurrent vouchers, plans clears over several transactions, and its mirror matches the chain", async () => {
    // Two requests per pair whose vouchers arrive highest first.
    const vouchers: { voucher: SignedVoucher }[] = [];
    for (let i = 0; i < payers.length; i++) {
      for (const payee of payees) {
        vouchers.push({ voucher: await voucher(i, payee, 2n * PRICE) });
        vouchers.push({ voucher: await voucher(i, payee, PRICE) });
      }
    }
    const results = await Promise.all(vouchers.map((v) => ledger.accept({ ...v, price: PRICE })));
    expect(results.every((r) => r.accepted)).to.be.true;
    const payeeBefore = await stack.balanceOf(token, payees[0]!);
    const feesBefore = await stack.balanceOf(token, stack.feeRecipient);

    // A low gas limit forces the six first clears into several transactions.
    const first = await clearPending(stack.operatorWallet, {
      ledger,
      token: token.address,
      gasLimit: 400_000n + 150_000n,
    });
    expect(first.transactions.length).to.be.greaterThan(1);
    expect(first.cleared).to.equal(6);
    expect(first.failed).to.equal(0);
    expect(ledger.pendingClears({ token: token.address })).to.have.length(0);
    await expectMirrorMatchesChain();
    expect((await stack.balanceOf(token, payees[0]!)) - payeeBefore).to.equal(3n * 2n * PRICE);
    expect((await stack.balanceOf(token, stack.feeRecipient)) - feesBefore).to.equal(
      6n * computeVoucherFee(FEE, 2n * PRICE),
    );
    for (const payer of payers) {
      expect(ledger.getAccount({ payer: payer.address, token: token.address })!.balance).to.equal(
        DEPOSIT - 2n * (2n * PRICE + computeVoucherFee(FEE, 2n * PRICE)),
      );
    }

    // Steady state: one more request per pair, one transaction.
    for (let i = 0; i < payers.length; i++) {
      for (const payee of payees) {
        const result = await ledger.accept({
          voucher: await voucher(i, payee, 3n * PRICE),
          price: PRICE,
        });
        expect(result.accepted).to.be.true;
      }
    }
    const steady = await clearPending(stack.operatorWallet, { ledger, token: token.address });
    expect(steady.transactions).to.have.length(1);
    expect(steady.cleared).to.equal(6);
    await expectMirrorMatchesChain();
  });

  it("a clear item the chain rejects is reported and its account re-read (a stale mirror)", async () => {
    const payer = payers[2]!;
    const real = ledger.getAccount({ payer: payer.address, token: token.address })!;
    // The mirror believes in ten times the balance: the ledger over-accepts for payee 1.
    ledger.setAccount({ ...real, balance: real.balance * 10n });
    const big = real.balance + 3n * PRICE;
    const result = await ledger.accept({
      voucher: await voucher(2, payees[1]!, big),
      price: big - 3n * PRICE,
    });
    expect(result.accepted).to.be.true;
    const outcome = await clearPending(stack.operatorWallet, { ledger, token: token.address });
    expect(outcome.cleared).to.equal(0);
    expect(outcome.failed).to.equal(1);
    expect(outcome.transactions[0]!.results).to.deep.equal([
      { index: 0, status: "failure", reason: "insufficient_balance" },
    ]);
    await expectMirrorMatchesChain();
    // Re-read, the ledger now refuses what the balance cannot cover.
    const more = await ledger.accept({
      voucher: await voucher(2, payees[0]!, 3n * PRICE + real.balance),
      price: real.balance,
    });
    expect(more).to.include({ accepted: false, reason: "insufficient_balance" });
  });

  it("an ERC-1271 voucher is checked on chain before the hot path, then accepted and cleared", async () => {
    const owner = account("ledger-wallet-owner");
    const wallet = await stack.conn.viem.deployContract("ERC1271WalletMock", [owner.address]);
    const payer = account("ledger-contract-payer");
    await stack.fund(token, [payer.address], 100_000n);
    const { statuses } = await stack.depositAll(token, [
      await stack.signDeposit(token, payer, 100_000n, { voucherSigner: wallet.address }),
    ]);
    expect(statuses).to.deep.equal([0]);
    await ledger.syncAccount(stack.client, { payer: payer.address, token: token.address });
    const domainSeparator = getDomainSeparator(stack.domain);
    const sign = async (signer: PrivateKeyAccount, value: bigint) => ({
      ...(await stack.voucher(token, signer, {
        payer: payer.address,
        payee: payees[0]!,
        value,
        fee: computeVoucherFee(FEE, value),
      })),
      contractSignature: true,
    });
    const byOwner = await sign(owner, PRICE);
    const byStranger = await sign(account("ledger-wallet-stranger"), 2n * PRICE);
    const check = (voucher: SignedVoucher) =>
      verifyContractVoucher(stack.client, {
        domainSeparator,
        voucher,
        voucherSigner: wallet.address,
      });
    expect(await check(byOwner)).to.be.true;
    expect(await check(byStranger)).to.be.false;
    expect(await ledger.accept({ voucher: byOwner, price: PRICE })).to.include({
      accepted: false,
      reason: "contract_signature_unverified",
    });
    expect(
      (await ledger.accept({ voucher: byOwner, price: PRICE, contractSignatureVerified: true }))
        .accepted,
    ).to.be.true;
    const outcome = await clearPending(stack.operatorWallet, {
      ledger,
      token: token.address,
      accounts: [{ payer: payer.address }],
    });
    expect(outcome.cleared).to.equal(1);
    expect(await stack.getCleared(token, payer.address, payees[0]!)).to.deep.equal({
      value: PRICE,
      fee: computeVoucherFee(FEE, PRICE),
    });
  });

  it("watches a withdrawal request: shrinks acceptance at once, lists the account by deadline, cleared before the delay runs out", async () => {
    const payer = payers[1]!;
    await stack.testClient.setBalance({ address: payer.address, value: 10n ** 18n });
    const accepted = await ledger.accept({
      voucher: await voucher(1, payees[0]!, 4n * PRICE),
      price: PRICE,
    });
    expect(accepted.accepted).to.be.true;

    const notified: WithdrawalDeadline[][] = [];
    const errors: unknown[] = [];
    const unwatch = watchLedger(stack.client, {
      ledger,
      pollingInterval: 100,
      onWithdrawalRequested: (deadlines) => notified.push(deadlines),
      onError: (error) => errors.push(error),
    });
    try {
      const balance = (await stack.getAccount(token, payer.address)).balance;
      await stack.send(
        await stack.client.writeContract({
          account: payer,
          address: stack.house.address,
          abi: stack.house.abi,
          functionName: "requestWithdrawal",
          args: [stack.operator, token.address, balance],
        }),
      );
      await waitFor(() => notified.length > 0);
      expect(errors).to.deep.equal([]);
      const chain = await stack.getAccount(token, payer.address);
      const deadlines = notified.at(-1)!;
      expect(deadlines.map((d) => d.payer)).to.deep.equal([payer.address.toLowerCase()]);
      expect(deadlines[0]!.readyAt).to.equal(chain.withdrawalReadyAt);
      expect(deadlines[0]!.uncleared).to.equal(
        PRICE + computeVoucherFee(FEE, 4n * PRICE) - computeVoucherFee(FEE, 3n * PRICE),
      );
      expect(ledger.withdrawalDeadlines()).to.deep.equal(deadlines);
      // The whole balance is being withdrawn: nothing more can be accepted for this account.
      const after = await ledger.accept({
        voucher: await voucher(1, payees[1]!, 4n * PRICE),
        price: PRICE,
      });
      expect(after).to.include({ accepted: false, reason: "withdrawal_pending" });

      const cleared = await clearPending(stack.operatorWallet, {
        ledger,
        token: token.address,
        accounts: deadlines,
      });
      expect(cleared.cleared).to.equal(1);
      const block = await stack.client.getBlock();
      expect(block.timestamp < BigInt(chain.withdrawalReadyAt)).to.be.true;
      expect(ledger.withdrawalDeadlines()).to.deep.equal([]);

      await stack.testClient.increaseTime({ seconds: DELAY });
      await stack.testClient.mine({ blocks: 1 });
      const remaining = ledger.getAccount({ payer: payer.address, token: token.address })!.balance;
      const walletBefore = await stack.balanceOf(token, payer.address);
      await stack.send(
        await stack.client.writeContract({
          account: payer,
          address: stack.house.address,
          abi: stack.house.abi,
          functionName: "withdraw",
          args: [stack.operator, token.address],
        }),
      );
      expect((await stack.balanceOf(token, payer.address)) - walletBefore).to.equal(remaining);
      // The Withdrawn event re-reads the account.
      await waitFor(
        () => ledger.getAccount({ payer: payer.address, token: token.address })!.balance === 0n,
      );
      await expectMirrorMatchesChain();
      expect(errors).to.deep.equal([]);
    } finally {
      unwatch();
    }
  });
  it("stops watching at once when unwatched, even with the node unreachable from then on", async () => {
    let reachable = true;
    let requestsAfterStop = 0;
    const client = createPublicClient({
      chain: stack.client.chain,
      transport: custom({
        request: async (args: { method: string; params?: unknown }) => {
          if (!reachable) {
            requestsAfterStop += 1;
            throw new Error("node unreachable");
          }
          return stack.client.request(args as never);
        },
      }),
      pollingInterval: 50,
    });
    const errors: unknown[] = [];
    const unwatch = watchLedger(client, { ledger, onError: (error) => errors.push(error) });
    // Let it poll a few times against the live node.
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(errors).to.deep.equal([]);
    // The node goes away as the watch is stopped (a facilitator shutting down with its node).
    reachable = false;
    unwatch();
    requestsAfterStop = 0;
    // A poller that outlived its unwatch would now ask the unreachable node again and again.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(requestsAfterStop).to.equal(0);
  });
});
