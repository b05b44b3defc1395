import { expect } from "chai";
import { type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import {
  fundedPayers,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../harness.js";
import {
  PRICE,
  REASON_CODE,
  deployArtifact,
  mineBlock,
  paymentBody,
  paymentKey,
  pauseMining,
  relayerIdle,
  relayerSpend,
  requirementsFor,
  sendDelegations,
  settle,
  waitUntilSubmittedOrAnswered,
  type SettleAnswer,
} from "./helpers.js";

/** The router's gas limit for one item's token call (SettlementRouter.ITEM_GAS_LIMIT). */
const ITEM_GAS_LIMIT = 200_000n;
/** Router bookkeeping, calldata and event of one item beyond its token call (generous). */
const ITEM_OVERHEAD = 30_000n;

describe("facilitator under attack: payers that gain code after verification (issue 9, finding 3)", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let ours: RunningFacilitator;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base);
  });

  after(async function () {
    if (base) await setAutomine(base).catch(() => {});
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("settles every honest payment when 10 payers delegate to a gas-burning ERC-1271 wallet (EIP-7702) after verification, and bounds the relayer's gas", async function () {
    // The delegate: isValidSignature burns all the gas it is given. USDC sends any `from` with code
    // to ERC-1271, even on the (v, r, s) overload, so a delegated "EOA" item burns the router's
    // per-item gas limit.
    const burner = await deployArtifact(
      base,
      "contracts/test/router/mocks/HostileERC1271Wallet.sol",
      "HostileERC1271Wallet",
      [true],
    );
    const honest = await fundedPayers(base, 20, 10n * PRICE);
    const attackers = await fundedPayers(base, 10, 10n * PRICE);
    const requirements = requirementsFor(payTo, PRICE);
    // Two honest payments, then one attacker's, and so on: every batch holds both.
    const order = [
      ...honest.map((payer, index) => ({ payer, honest: true, at: index * 1.5 })),
      ...attackers.map((payer, index) => ({ payer, honest: false, at: index * 3 + 2 })),
    ].sort((a, b) => a.at - b.at);
    const bodies = await Promise.all(order.map(({ payer }) => paymentBody(payer, requirements)));
    const keys = bodies.map((body, index) =>
      paymentKey(order[index]!.payer.address, body.paymentPayload.payload.authorization.nonce),
    );
    const payeeBefore = await usdcBalance(base.client, payTo);
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });

    const answered = new Set<string>();
    let answers: Promise<{ status: number; json: SettleAnswer }[]> | undefined;
    let delegation: Hex | undefined;
    await pauseMining(base);
    try {
      answers = Promise.all(
        bodies.map((body, index) =>
          settle(ours.url, body).finally(() => answered.add(keys[index]!)),
        ),
      );
      // Verified and handed to the relayer (the accounts have no code yet) ...
      await waitUntilSubmittedOrAnswered(base, keys, answered, 30_000);
      // ... then the attackers delegate, in a transaction ordered before the relayer's in the block.
      delegation = await sendDelegations(base, attackers, burner);
      await mineBlock(base);
    } finally {
      await setIntervalMining(base, 1_000);
    }
    const results = await answers!;
    await setAutomine(base);
    await relayerIdle(base);

    const delegationReceipt = await base.client.getTransactionReceipt({ hash: delegation! });
    expect(delegationReceipt.status).to.equal("success");
    for (const attacker of attackers) {
      const code = await base.client.getCode({ address: attacker.address });
      expect(code?.startsWith("0xef0100"), "an EIP-7702 delegation").to.equal(true);
    }
    const spend = await relayerSpend(base, startBlock);
    // The attack needs the delegation to run before the relayer's first batch.
    const firstBatch = spend.receipts[0];
    expect(firstBatch, "a relayer transaction").to.not.equal(undefined);
    expect(
      firstBatch!.blockNumber > delegationReceipt.blockNumber ||
        firstBatch!.transactionIndex > delegationReceipt.transactionIndex,
      "the delegation ran before the relayer's batch",
    ).to.equal(true);

    const honestAnswers = results.filter((_, index) => order[index]!.honest);
    const attackerAnswers = results.filter((_, index) => !order[index]!.honest);
    console.log(
      `      honest: ${honestAnswers.filter((a) => a.json.success).length}/20 settled; attackers: ` +
        `${attackerAnswers.map((a) => (a.json.success ? "success" : a.json.errorReason)).join(", ")}`,
    );
    console.log(
      `      relayer: ${spend.transactions} transaction(s) (${spend.reverted} reverted), ${spend.gasUsed} gas, ` +
        `${spend.wastedGas} on payments that did not settle`,
    );
    honestAnswers.forEach((answer, index) =>
      expect(
        answer.json.success,
        `honest payment ${index}: ${JSON.stringify(answer.json)}`,
      ).to.equal(true),
    );
    for (const answer of attackerAnswers) {
      expect(answer.json.success, JSON.stringify(answer.json)).to.equal(false);
      expect(answer.json.errorReason).to.match(REASON_CODE);
    }
    for (const payer of honest) {
      expect(await usdcBalance(base.client, payer.address)).to.equal(9n * PRICE);
    }
    for (const payer of attackers) {
      expect(await usdcBalance(base.client, payer.address)).to.equal(10n * PRICE);
    }
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + 20n * PRICE);
    // No batch lost for want of gas: at most each attacker's item limit was spent in vain.
    expect(spend.reverted, "reverted relayer transactions").to.equal(0);
    expect(Number(spend.wastedGas), "gas spent on payments that did not settle").to.be.at.most(
      Number(10n * (ITEM_GAS_LIMIT + ITEM_OVERHEAD)),
    );
  });
});
