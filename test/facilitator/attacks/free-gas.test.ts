import { expect } from "chai";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import {
  fundedPayers,
  nonceUsed,
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
  paymentBody,
  relayerIdle,
  relayerSpend,
  requirementsFor,
  settle,
  verify,
  type PaymentBody,
  type SettleAnswer,
} from "./helpers.js";

function expectRefused(answers: { status: number; json: SettleAnswer }[]): void {
  for (const answer of answers) {
    expect(answer.json.success, JSON.stringify(answer.json)).to.equal(false);
    expect(answer.json.errorReason, JSON.stringify(answer.json)).to.match(REASON_CODE);
  }
}

describe("facilitator under attack: nobody burns the relayer's gas for free (issue 9, finding 4)", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let ours: RunningFacilitator;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base);
  });

  after(async function () {
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  /** Runs `attack`, waits for the relayer to be idle, and returns what it spent meanwhile. */
  async function spentDuring<T>(attack: () => Promise<T>) {
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });
    const result = await attack();
    await relayerIdle(base);
    const spend = await relayerSpend(base, startBlock);
    console.log(
      `      relayer: ${spend.transactions} transaction(s), ${spend.gasUsed} gas, ` +
        `${spend.settledItems} item(s) settled, ${spend.failedItems} failed`,
    );
    return { result, spend };
  }

  it("settles none of 50 zero-value payments from unfunded keys and spends no gas on them", async function () {
    const requirements = requirementsFor(payTo, 0n);
    const bodies = await Promise.all(
      Array.from({ length: 50 }, () =>
        paymentBody(privateKeyToAccount(generatePrivateKey()), requirements),
      ),
    );
    const { result: answers, spend } = await spentDuring(() =>
      Promise.all(bodies.map((body) => settle(ours.url, body))),
    );
    console.log(
      `      answers: ${[...new Set(answers.map((a) => a.json.errorReason ?? "success"))]}`,
    );
    expectRefused(answers);
    for (const body of bodies) {
      const { from, nonce } = body.paymentPayload.payload.authorization;
      expect(await nonceUsed(base.client, from, nonce)).to.equal(false);
    }
    expect(spend.gasUsed, "relayer gas").to.equal(0n);
  });

  it("refuses at /settle, as at /verify, a payment signed for another EIP-712 name, and spends no gas on it", async function () {
    const [payer] = await fundedPayers(base, 1, 10n * PRICE);
    // "USDC" is the name on Base Sepolia: a client configured for the wrong network.
    const body = await paymentBody(payer!, requirementsFor(payTo, PRICE, { name: "USDC" }));
    const verdict = await verify(ours.url, body);
    expect(verdict.json.isValid, JSON.stringify(verdict.json)).to.equal(false);
    const { result: answer, spend } = await spentDuring(() => settle(ours.url, body));
    expectRefused([answer]);
    expect(await usdcBalance(base.client, payer!.address)).to.equal(10n * PRICE);
    expect(spend.gasUsed, "relayer gas").to.equal(0n);
  });

  it("settles one of 40 payments backed by one balance and refuses the others before spending gas on them", async function () {
    const V = 5_000n;
    const [payer] = await fundedPayers(base, 1, V);
    const requirements = requirementsFor(payTo, V);
    const bodies: PaymentBody[] = await Promise.all(
      Array.from({ length: 40 }, () => paymentBody(payer!, requirements)),
    );
    const payeeBefore = await usdcBalance(base.client, payTo);
    const { result: answers, spend } = await spentDuring(() =>
      Promise.all(bodies.map((body) => settle(ours.url, body))),
    );
    const successes = answers.filter((answer) => answer.json.success === true);
    console.log(
      `      answers: ${successes.length} success, refused: ${[
        ...new Set(answers.filter((a) => !a.json.success).map((a) => a.json.errorReason)),
      ]}`,
    );
    expect(successes, "payments answered settled").to.have.length(1);
    expectRefused(answers.filter((answer) => answer.json.success !== true));
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + V);
    expect(await usdcBalance(base.client, payer!.address)).to.equal(0n);
    expect(spend.settledItems, "items the relayer settled").to.equal(1);
    expect(spend.failedItems, "items the relayer paid for in vain").to.equal(0);
    expect(spend.wastedGas).to.equal(0n);
  });

  it("refuses a payment in an asset that is not allow-listed (a gas-burning fake EIP-3009 token) and spends no gas on it", async function () {
    const fake = await deployArtifact(
      base,
      "contracts/test/mocks/GasBurningEIP3009Token.sol",
      "GasBurningEIP3009Token",
    );
    const requirements = requirementsFor(payTo, PRICE, {
      asset: fake,
      name: "Fake Dollar",
      version: "2",
    });
    const bodies = await Promise.all(
      Array.from({ length: 3 }, () =>
        paymentBody(privateKeyToAccount(generatePrivateKey()), requirements),
      ),
    );
    const { result: answers, spend } = await spentDuring(() =>
      Promise.all(bodies.map((body) => settle(ours.url, body))),
    );
    console.log(
      `      answers: ${[...new Set(answers.map((a) => a.json.errorReason ?? "success"))]}`,
    );
    expectRefused(answers);
    expect(spend.gasUsed, "relayer gas").to.equal(0n);
  });
});
