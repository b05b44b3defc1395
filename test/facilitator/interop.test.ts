import type { Server } from "node:http";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { toClientEvmSigner } from "@x402/evm";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import express from "express";
import {
  createWalletClient,
  getAbiItem,
  http,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { base as baseChain } from "viem/chains";
import { paymentMiddleware as paymentMiddlewareV1 } from "x402-express";
import { decodeXPaymentResponse, wrapFetchWithPayment as wrapFetchWithPaymentV1 } from "x402-fetch";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { eip3009Abi } from "../../src/facilitator/abi.js";
import {
  fundedPayers,
  network,
  nonceUsed,
  postJson,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const PRICE_UNITS = 1_000n; // "$0.001" in USDC base units

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A resource server using the official v2 (`@x402/express`) and v1 (`x402-express`) middleware. */
async function startResourceServer(facilitatorUrl: string, payTo: Address) {
  const app = express();
  const resourceServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: facilitatorUrl }),
  ).register(network.v2 as `${string}:${string}`, new ExactEvmServerScheme());
  app.use(
    paymentMiddleware(
      {
        "GET /v2/weather": {
          accepts: {
            scheme: "exact",
            price: "$0.001",
            network: network.v2 as `${string}:${string}`,
            payTo,
            maxTimeoutSeconds: 300,
          },
          description: "weather, paid with x402 v2",
        },
      },
      resourceServer,
    ),
  );
  app.use(
    paymentMiddlewareV1(
      payTo,
      {
        "GET /v1/weather": { price: "$0.001", network: "base", config: { maxTimeoutSeconds: 300 } },
      },
      { url: facilitatorUrl as `${string}://${string}` },
    ),
  );
  app.get("/v2/weather", (_req, res) => {
    res.json({ report: "sunny", version: 2 });
  });
  app.get("/v1/weather", (_req, res) => {
    res.json({ report: "sunny", version: 1 });
  });
  return listen(app);
}

function v2Fetch(account: LocalAccount) {
  const client = new x402Client().register(
    network.v2 as `${string}:${string}`,
    new ExactEvmClientScheme(toClientEvmSigner(account)),
  );
  return wrapFetchWithPayment(fetch, client);
}

function v1Fetch(account: LocalAccount, rpcUrl: string) {
  const wallet = createWalletClient({ account, chain: baseChain, transport: http(rpcUrl) });
  return wrapFetchWithPaymentV1(fetch, wallet as never);
}

describe("facilitator: official x402 SDKs paying through our facilitator", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  let resource: { server: Server; url: string };
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base, { maxBatchSize: 100, maxWaitMs: 1_000 });
    resource = await startResourceServer(ours.url, payTo);
  });

  after(async function () {
    if (resource) await closeServer(resource.server);
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("answers /supported with the exact and routed kinds, the payment-identifier extension and the relayer as signer", async function () {
    const response = await fetch(`${ours.url}/supported`);
    expect(response.status).to.equal(200);
    expect(await response.json()).to.deep.equal({
      kinds: [
        { x402Version: 1, scheme: "exact", network: "base" },
        { x402Version: 2, scheme: "exact", network: "eip155:8453" },
        {
          x402Version: 2,
          scheme: "routed",
          network: "eip155:8453",
          extra: { router: base.router, fee: "0", feeRecipient: base.relayer.address },
        },
      ],
      extensions: ["payment-identifier"],
      signers: { "eip155:*": [base.relayer.address] },
    });
  });

  it("settles 50 concurrent paid requests (v2 and v1 clients) in far fewer transactions", async function () {
    const payers = await fundedPayers(base, 50, 1_000_000n);
    const before = await usdcBalance(base.client, payTo);
    const payerBefore = await Promise.all(payers.map((p) => usdcBalance(base.client, p.address)));
    const startBlock = await base.client.getBlockNumber();

    const results = await Promise.all(
      payers.map(async (payer, index) => {
        const v2 = index % 2 === 0;
        const pay = v2 ? v2Fetch(payer) : v1Fetch(payer, base.rpcUrl);
        const response = await pay(`${resource.url}/${v2 ? "v2" : "v1"}/weather`);
        const body = (await response.json()) as { report?: string; version?: number };
        const header = response.headers.get(v2 ? "PAYMENT-RESPONSE" : "X-PAYMENT-RESPONSE");
        return { v2, status: response.status, body, header, payer: payer.address };
      }),
    );

    const transactions = new Set<Hex>();
    for (const result of results) {
      expect(result.status, JSON.stringify(result)).to.equal(200);
      expect(result.body).to.deep.equal({ report: "sunny", version: result.v2 ? 2 : 1 });
      expect(result.header, "payment response header").to.be.a("string");
      const settle = (
        result.v2
          ? decodePaymentResponseHeader(result.header!)
          : decodeXPaymentResponse(result.header!)
      ) as { success: boolean; transaction: Hex; network: string; payer?: string };
      expect(settle.success).to.equal(true);
      expect(settle.network).to.equal(result.v2 ? "eip155:8453" : "base");
      expect(settle.payer?.toLowerCase()).to.equal(result.payer.toLowerCase());
      expect(settle.transaction).to.match(/^0x[0-9a-f]{64}$/);
      transactions.add(settle.transaction);
      // The reported transaction moved exactly this payment.
      const receipt = await base.client.getTransactionReceipt({ hash: settle.transaction });
      expect(receipt.status).to.equal("success");
      expect(receipt.to?.toLowerCase()).to.equal(base.router.toLowerCase());
    }
    expect(transactions.size, "batch transactions").to.be.at.most(5);
    expect(transactions.size * 10).to.be.at.most(results.length);
    expect(await usdcBalance(base.client, payTo)).to.equal(before + PRICE_UNITS * 50n);
    const payerAfter = await Promise.all(payers.map((p) => usdcBalance(base.client, p.address)));
    payerAfter.forEach((balance, index) =>
      expect(balance).to.equal(payerBefore[index] - PRICE_UNITS),
    );
    // Every transfer log in those blocks came from one of the reported transactions.
    const logs = await base.client.getLogs({
      address: USDC_ADDRESS,
      event: getAbiItem({ abi: eip3009Abi, name: "Transfer" }),
      args: { to: payTo },
      fromBlock: startBlock + 1n,
    });
    expect(logs).to.have.length(50);
    for (const log of logs) expect(transactions.has(log.transactionHash!)).to.equal(true);
  });

  it("answers one settle of a payload with success and refuses its copies, and settles it once", async function () {
    const [payer] = await fundedPayers(base, 1, 10_000n);
    const requirements = {
      scheme: "exact",
      network: network.v2,
      amount: "2500",
      asset: USDC_ADDRESS,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    const client = new ExactEvmClientScheme(toClientEvmSigner(payer));
    const created = await client.createPaymentPayload(2, requirements as never);
    const body = {
      x402Version: 2,
      paymentPayload: {
        ...created,
        accepted: requirements,
        extensions: {
          "payment-identifier": { info: { required: false, id: "pay_interop_0000001" } },
        },
      },
      paymentRequirements: requirements,
    };
    const verify = await postJson(`${ours.url}/verify`, body);
    expect(verify.status).to.equal(200);
    expect(verify.json).to.deep.equal({ isValid: true, payer: payer.address });
    const withoutId = { ...body, paymentPayload: { ...body.paymentPayload, extensions: {} } };
    const [first, second] = await Promise.all([
      postJson(`${ours.url}/settle`, body),
      postJson(`${ours.url}/settle`, withoutId),
    ]);
    const third = await postJson(`${ours.url}/settle`, withoutId);
    const retry = await postJson(`${ours.url}/settle`, body);
    const answers = [first.json, second.json];
    const successes = answers.filter((answer) => answer.success === true);
    expect(successes, JSON.stringify(answers)).to.have.length(1);
    const refused = answers.find((answer) => answer.success !== true)!;
    expect(refused.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
    expect(third.json.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
    // The request answered success was the one with the identifier, or the identifier's retry is
    // refused like any copy; either way exactly one success overall before the retry.
    if (first.json.success === true) expect(retry.json).to.deep.equal(first.json);
    else expect(retry.json.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
    const auth = (created.payload as { authorization: { nonce: Hex } }).authorization;
    expect(await nonceUsed(base.client, payer.address, auth.nonce)).to.equal(true);
    expect(await usdcBalance(base.client, payer.address)).to.equal(7_500n);
    // Once settled, verify says what the official facilitator says: the nonce is used.
    const again = await postJson(`${ours.url}/verify`, body);
    expect(again.json.isValid).to.equal(false);
    expect(again.json.invalidReason).to.equal("invalid_exact_evm_nonce_already_used");
  });
});
