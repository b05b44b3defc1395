import { expect } from "chai";
import { encodeFunctionData, getAbiItem, isAddressEqual, parseEventLogs, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { fiatTokenV2_2Abi } from "../../../src/abi/fiatTokenV2_2.js";
import { multicall3Abi } from "../../../src/abi/multicall3.js";
import { MULTICALL3_ADDRESS, USDC_ADDRESS } from "../../../src/chain/base.js";
import {
  fundedPayers,
  nonceUsed,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../harness.js";
import {
  REASON_CODE,
  mineBlock,
  paymentBody,
  paymentKey,
  pauseMining,
  relayerIdle,
  relayerSpend,
  requirementsFor,
  sendAsOutsider,
  settle,
  waitUntilSubmittedOrAnswered,
  type PaymentBody,
  type SettleAnswer,
} from "./helpers.js";

/** The Multicall3 call that runs one signed payment body's authorization on USDC. */
function transferCall(body: PaymentBody) {
  const payload = body.paymentPayload.payload as unknown as {
    signature: Hex;
    authorization: {
      from: Hex;
      to: Hex;
      value: string;
      validAfter: string;
      validBefore: string;
      nonce: Hex;
    };
  };
  const a = payload.authorization;
  return {
    target: USDC_ADDRESS,
    allowFailure: false,
    callData: encodeFunctionData({
      abi: fiatTokenV2_2Abi,
      functionName: "transferWithAuthorization",
      args: [
        a.from,
        a.to,
        BigInt(a.value),
        BigInt(a.validAfter),
        BigInt(a.validBefore),
        a.nonce,
        payload.signature,
      ],
    }),
  };
}

describe("facilitator under attack: one transfer proves one payment (issue 9, finding 2)", function () {
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

  it("answers at most the payment whose own Transfer moved the funds as settled when a Multicall3 front-run reuses the other nonces with zero-value authorizations", async function () {
    const K = 5;
    const V = 10_000n;
    const [payer] = await fundedPayers(base, 1, V);
    const requirements = requirementsFor(payTo, V);
    const payments = await Promise.all(
      Array.from({ length: K }, () => paymentBody(payer!, requirements)),
    );
    const keys = payments.map((p) =>
      paymentKey(payer!.address, p.paymentPayload.payload.authorization.nonce),
    );
    // The attack: authorization 1 as signed, then zero-value authorizations reusing nonces 2..K.
    const zeroValue = await Promise.all(
      payments.slice(1).map((p) =>
        paymentBody(payer!, requirements, {
          value: 0n,
          nonce: p.paymentPayload.payload.authorization.nonce,
        }),
      ),
    );
    const payeeBefore = await usdcBalance(base.client, payTo);
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });

    const answered = new Set<string>();
    let answers: Promise<{ status: number; json: SettleAnswer }[]> | undefined;
    let frontRun: Hex | undefined;
    await pauseMining(base);
    try {
      answers = Promise.all(
        payments.map((p, i) => settle(ours.url, p).finally(() => answered.add(keys[i]!))),
      );
      await waitUntilSubmittedOrAnswered(base, keys, answered, 20_000);
      frontRun = await sendAsOutsider(base, {
        to: MULTICALL3_ADDRESS,
        data: encodeFunctionData({
          abi: multicall3Abi,
          functionName: "aggregate3",
          args: [[transferCall(payments[0]!), ...zeroValue.map(transferCall)]],
        }),
      });
      await mineBlock(base);
    } finally {
      await setIntervalMining(base, 1_000);
    }
    const results = await answers!;
    await setAutomine(base);
    await relayerIdle(base);

    // The front-run ran first and used every nonce; it moved V once.
    const frontRunReceipt = await base.client.getTransactionReceipt({ hash: frontRun! });
    expect(frontRunReceipt.status).to.equal("success");
    for (const p of payments) {
      expect(
        await nonceUsed(base.client, payer!.address, p.paymentPayload.payload.authorization.nonce),
      ).to.equal(true);
    }
    const transfers = parseEventLogs({
      abi: [getAbiItem({ abi: fiatTokenV2_2Abi, name: "Transfer" })],
      logs: frontRunReceipt.logs,
    });
    expect(transfers.filter((t) => t.args.value === V)).to.have.length(1);
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + V);

    console.log(
      `      answers: ${results.map((r) => (r.json.success ? "success" : r.json.errorReason)).join(", ")}`,
    );
    const successes = results
      .map((answer, index) => ({ answer, index }))
      .filter(({ answer }) => answer.json.success === true);
    expect(successes.length, "payments answered settled for one transfer of V").to.be.at.most(1);
    for (const { answer, index } of successes) {
      expect(index, "the payment answered settled").to.equal(0);
      const receipt = await base.client.getTransactionReceipt({
        hash: answer.json.transaction as Hex,
      });
      const own = parseEventLogs({
        abi: [getAbiItem({ abi: fiatTokenV2_2Abi, name: "Transfer" })],
        logs: receipt.logs,
      }).filter(
        (t) =>
          isAddressEqual(t.args.from, payer!.address) &&
          isAddressEqual(t.args.to, payTo) &&
          t.args.value === V,
      );
      expect(own, "its transaction moved V from the payer to the payee").to.have.length(1);
    }
    for (const answer of results.filter((r) => r.json.success !== true)) {
      expect(answer.json.success).to.equal(false);
      expect(answer.json.errorReason).to.match(REASON_CODE);
    }
    const spend = await relayerSpend(base, startBlock);
    console.log(
      `      relayer: ${spend.transactions} transaction(s), ${spend.gasUsed} gas, ${spend.wastedGas} on payments that did not settle`,
    );
    expect(spend.settledItems, "payments the relayer itself settled").to.equal(0);
  });
});
