import { decodePaymentSignatureHeader } from "@x402/core/http";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { toClientEvmSigner } from "@x402/evm";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import { type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import {
  fundedPayers,
  nonceUsed,
  setAutomine,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../harness.js";
import {
  NETWORK,
  PRICE,
  REASON_CODE,
  mineBlock,
  paymentBody,
  paymentKey,
  pauseMining,
  refusalReason,
  relayerIdle,
  relayerSpend,
  requirementsFor,
  settle,
  startPaidResource,
  verify,
  waitFor,
  waitUntilSubmittedOrAnswered,
  type PaidResource,
} from "./helpers.js";

/**
 * Pays for `url` with the official `@x402/fetch` client, but keeps the PAYMENT-SIGNATURE header
 * the client sends instead of delivering it: the captured header is an unused payment.
 */
async function capturePaymentHeader(url: string, payer: LocalAccount): Promise<string> {
  let captured: string | undefined;
  const recorder = async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const request = new Request(input, init);
    const header = request.headers.get("PAYMENT-SIGNATURE");
    if (!header) return fetch(request);
    captured = header;
    return new Response(null, { status: 204 });
  };
  const client = new x402Client().register(
    NETWORK,
    new ExactEvmClientScheme(toClientEvmSigner(payer)),
  );
  await wrapFetchWithPayment(recorder as typeof fetch, client)(url);
  if (!captured) throw new Error("the official client sent no PAYMENT-SIGNATURE header");
  return captured;
}

function authorizationOf(header: string): { from: Address; nonce: Hex } {
  const payload = decodePaymentSignatureHeader(header) as unknown as {
    payload: { authorization: { from: Address; nonce: Hex } };
  };
  return payload.payload.authorization;
}

async function replay(url: string, header: string) {
  const response = await fetch(url, { headers: { "PAYMENT-SIGNATURE": header } });
  const text = await response.text();
  return { status: response.status, reason: refusalReason(response), text };
}

describe("facilitator under attack: one payment buys one response (issue 9, finding 1)", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let ours: RunningFacilitator;
  let resource: PaidResource;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base);
    resource = await startPaidResource(ours.url, payTo);
  });

  after(async function () {
    if (base) await setAutomine(base).catch(() => {});
    if (resource) await resource.close();
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("serves one payment header replayed 5 times at once exactly once, and refuses it again once settled", async function () {
    const [payer] = await fundedPayers(base, 1, 10n * PRICE);
    const header = await capturePaymentHeader(resource.url, payer);
    const { nonce } = authorizationOf(header);
    const payeeBefore = await usdcBalance(base.client, payTo);
    const payerBefore = await usdcBalance(base.client, payer.address);
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });
    const runsBefore = resource.handlerRuns();

    const replays = await Promise.all(
      Array.from({ length: 5 }, () => replay(resource.url, header)),
    );
    const runsAtOnce = resource.handlerRuns() - runsBefore;
    console.log(
      `      5 replays at once: statuses ${replays.map((r) => r.status).join(", ")}; ` +
        `reasons ${replays.map((r) => r.reason ?? "-").join(", ")}; handler ran ${runsAtOnce} time(s)`,
    );
    const served = replays.filter((r) => r.status === 200);
    expect(served, "responses served for one payment").to.have.length(1);
    expect(JSON.parse(served[0]!.text)).to.deep.equal({ served: true });
    for (const refused of replays.filter((r) => r.status !== 200)) {
      expect(refused.status, refused.text).to.be.oneOf([402, 500, 502, 503]);
      expect(refused.reason, `reason code of a refused replay (${refused.status})`).to.match(
        REASON_CODE,
      );
    }
    expect(await nonceUsed(base.client, payer.address, nonce)).to.equal(true);
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + PRICE);
    expect(await usdcBalance(base.client, payer.address)).to.equal(payerBefore - PRICE);

    // Once more after it is mined: refused before the handler runs.
    const runsBeforeLate = resource.handlerRuns();
    const late = await replay(resource.url, header);
    expect(late.status, late.text).to.not.equal(200);
    expect(late.reason, "reason code of the late replay").to.match(REASON_CODE);
    expect(resource.handlerRuns(), "handler runs for the late replay").to.equal(runsBeforeLate);
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + PRICE);

    await relayerIdle(base);
    const spend = await relayerSpend(base, startBlock);
    expect(spend.settledItems, "payments the relayer settled").to.equal(1);
    expect(spend.failedItems, "payments the relayer paid for in vain").to.equal(0);
  });

  it("refuses a replayed payment header while its payment waits to be mined, without running the handler", async function () {
    const [payer] = await fundedPayers(base, 1, 10n * PRICE);
    const header = await capturePaymentHeader(resource.url, payer);
    const { from, nonce } = authorizationOf(header);
    const payeeBefore = await usdcBalance(base.client, payTo);
    const runsBefore = resource.handlerRuns();

    await pauseMining(base);
    let first: Promise<Awaited<ReturnType<typeof replay>>> | undefined;
    let second: Promise<Awaited<ReturnType<typeof replay>>> | undefined;
    try {
      first = replay(resource.url, header);
      // The first request was verified, served by the handler and handed to /settle.
      await waitUntilSubmittedOrAnswered(base, [paymentKey(from, nonce)], new Set(), 15_000);
      let secondDone = false;
      second = replay(resource.url, header).finally(() => (secondDone = true));
      // A refused replay is answered at once; one that is let through waits for the block.
      await waitFor(() => secondDone, 10_000);
    } finally {
      await mineBlock(base);
      await setAutomine(base);
    }
    const [firstAnswer, secondAnswer] = await Promise.all([first!, second!]);
    expect(firstAnswer.status, firstAnswer.text).to.equal(200);
    expect(secondAnswer.status, secondAnswer.text).to.not.equal(200);
    expect(secondAnswer.reason, "reason code of the replay").to.match(REASON_CODE);
    expect(resource.handlerRuns() - runsBefore, "handler runs").to.equal(1);
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + PRICE);
  });

  it("answers one of 5 concurrent /settle calls of one payment with success and the others with invalid_exact_evm_nonce_already_used", async function () {
    const [payer] = await fundedPayers(base, 1, 10n * PRICE);
    const body = await paymentBody(payer, requirementsFor(payTo, PRICE));
    const payeeBefore = await usdcBalance(base.client, payTo);
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });

    const answers = await Promise.all(Array.from({ length: 5 }, () => settle(ours.url, body)));
    const successes = answers.filter((answer) => answer.json.success === true);
    expect(successes, JSON.stringify(answers.map((a) => a.json))).to.have.length(1);
    for (const answer of answers.filter((a) => a.json.success !== true)) {
      expect(answer.json.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
    }
    const receipt = await base.client.getTransactionReceipt({
      hash: successes[0]!.json.transaction as Hex,
    });
    expect(receipt.status).to.equal("success");
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + PRICE);

    await relayerIdle(base);
    const spend = await relayerSpend(base, startBlock);
    expect(spend.settledItems, "payments the relayer settled").to.equal(1);
    expect(spend.failedItems, "payments the relayer paid for in vain").to.equal(0);
  });

  it("refuses /verify of a payment it has accepted and not yet settled", async function () {
    const [payer] = await fundedPayers(base, 1, 10n * PRICE);
    const body = await paymentBody(payer, requirementsFor(payTo, PRICE));
    const { from, nonce } = body.paymentPayload.payload.authorization;
    expect((await verify(ours.url, body)).json.isValid, "verify before settle").to.equal(true);

    await pauseMining(base);
    let settling: ReturnType<typeof settle> | undefined;
    let during: Awaited<ReturnType<typeof verify>> | undefined;
    try {
      settling = settle(ours.url, body);
      await waitUntilSubmittedOrAnswered(base, [paymentKey(from, nonce)], new Set(), 15_000);
      during = await verify(ours.url, body);
    } finally {
      await mineBlock(base);
      await setAutomine(base);
    }
    const settled = await settling!;
    expect(settled.json.success, JSON.stringify(settled.json)).to.equal(true);
    expect(during!.json.isValid, `verify while accepted: ${JSON.stringify(during!.json)}`).to.equal(
      false,
    );
    expect(during!.json.invalidReason).to.match(REASON_CODE);
    const after = await verify(ours.url, body);
    expect(after.json.isValid).to.equal(false);
    expect(after.json.invalidReason).to.equal("invalid_exact_evm_nonce_already_used");
  });
});
