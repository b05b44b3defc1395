import type { Server } from "node:http";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import express from "express";
import { getAbiItem, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { eip3009Abi } from "../../src/facilitator/abi.js";
import { RoutedClientScheme, RoutedServerScheme } from "../../src/x402/index.js";
import {
  fundedPayers,
  network,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../facilitator/harness.js";

const PRICE_UNITS = 1_000n; // "$0.001"
const FEE = 50n;
const CAIP = network.v2 as `${string}:${string}`;

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

/** A resource server on the official `@x402/express` middleware: one routed and one exact route. */
async function startResourceServer(facilitatorUrl: string, payTo: Address) {
  const app = express();
  const resourceServer = new x402ResourceServer(new HTTPFacilitatorClient({ url: facilitatorUrl }))
    .register(CAIP, new RoutedServerScheme())
    .register(CAIP, new ExactEvmServerScheme());
  const route = (scheme: string) => ({
    accepts: { scheme, price: "$0.001", network: CAIP, payTo, maxTimeoutSeconds: 300 },
    description: `weather, paid with ${scheme}`,
  });
  app.use(
    paymentMiddleware(
      { "GET /routed/weather": route("routed"), "GET /exact/weather": route("exact") },
      resourceServer,
    ),
  );
  app.get("/routed/weather", (_req, res) => void res.json({ report: "sunny", scheme: "routed" }));
  app.get("/exact/weather", (_req, res) => void res.json({ report: "sunny", scheme: "exact" }));
  return listen(app);
}

function routedFetch(account: LocalAccount, maxFee = FEE) {
  const client = new x402Client().register(
    CAIP,
    new RoutedClientScheme(toClientEvmSigner(account), { maxFee }),
  );
  return wrapFetchWithPayment(fetch, client);
}

function exactFetch(account: LocalAccount) {
  const client = new x402Client().register(
    CAIP,
    new ExactEvmClientScheme(toClientEvmSigner(account)),
  );
  return wrapFetchWithPayment(fetch, client);
}

interface PaidRun {
  transactions: Set<Hex>;
  gasUsed: bigint;
}

/** 50 concurrent paid requests from fresh payers; every one must be served and settled. */
async function payConcurrently(
  base: LocalBase,
  url: string,
  pay: (account: LocalAccount) => typeof fetch,
): Promise<PaidRun> {
  const payers = await fundedPayers(base, 50, 1_000_000n);
  const results = await Promise.all(
    payers.map(async (payer) => {
      const response = await pay(payer)(url);
      const body = (await response.json()) as { report?: string };
      return { status: response.status, body, header: response.headers.get("PAYMENT-RESPONSE") };
    }),
  );
  const transactions = new Set<Hex>();
  for (const result of results) {
    expect(result.status, JSON.stringify(result)).to.equal(200);
    expect(result.body.report).to.equal("sunny");
    const settle = decodePaymentResponseHeader(result.header!) as {
      success: boolean;
      transaction: Hex;
    };
    expect(settle.success).to.equal(true);
    transactions.add(settle.transaction);
  }
  let gasUsed = 0n;
  for (const hash of transactions) {
    const receipt = await base.client.getTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    expect(receipt.to?.toLowerCase()).to.equal(base.router.toLowerCase());
    gasUsed += receipt.gasUsed;
  }
  for (const [index, payer] of payers.entries()) {
    const spent = 1_000_000n - (await usdcBalance(base.client, payer.address));
    expect(spent, `payer ${index}`).to.equal(
      url.includes("/routed/") ? PRICE_UNITS + FEE : PRICE_UNITS,
    );
  }
  return { transactions, gasUsed };
}

describe("x402 routed scheme: official @x402/fetch and @x402/express paying through our facilitator", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  let resource: { server: Server; url: string };
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const feeRecipient = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    // A batch leaves when 50 payments wait (or after 10 s): both runs of 50 concurrent requests
    // are compared on the same batching, whatever the machine's load.
    ours = await startFacilitator(base, {
      maxBatchSize: 50,
      maxWaitMs: 10_000,
      fee: FEE,
      feeRecipient,
    });
    resource = await startResourceServer(ours.url, payTo);
  });

  after(async function () {
    if (resource) await closeServer(resource.server);
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("lists routed in /supported with the router, the fee and the fee recipient", async function () {
    const response = await fetch(`${ours.url}/supported`);
    const body = (await response.json()) as { kinds: { scheme: string; extra?: unknown }[] };
    expect(body.kinds.find((kind) => kind.scheme === "routed")).to.deep.equal({
      x402Version: 2,
      scheme: "routed",
      network: "eip155:8453",
      extra: { router: base.router, fee: FEE.toString(), feeRecipient },
    });
  });

  it("serves a 402 whose routed requirements carry the facilitator's terms", async function () {
    const response = await fetch(`${resource.url}/routed/weather`);
    expect(response.status).to.equal(402);
    const header = response.headers.get("PAYMENT-REQUIRED")!;
    const required = JSON.parse(Buffer.from(header, "base64").toString("utf8")) as {
      accepts: { scheme: string; amount: string; extra: Record<string, unknown> }[];
    };
    const [accepted] = required.accepts;
    expect(accepted!.scheme).to.equal("routed");
    expect(accepted!.amount).to.equal(PRICE_UNITS.toString());
    expect(accepted!.extra).to.include({
      router: base.router,
      fee: FEE.toString(),
      feeRecipient,
      name: "USD Coin",
      version: "2",
    });
  });

  it("settles 50 concurrent routed requests: the payee gets every price, the fee recipient every fee, in no more transactions than exact", async function () {
    const payeeBefore = await usdcBalance(base.client, payTo);
    const feesBefore = await usdcBalance(base.client, feeRecipient);
    const routed = await payConcurrently(base, `${resource.url}/routed/weather`, routedFetch);
    expect(await usdcBalance(base.client, payTo)).to.equal(payeeBefore + PRICE_UNITS * 50n);
    expect(await usdcBalance(base.client, feeRecipient)).to.equal(feesBefore + FEE * 50n);
    // Every transfer to the payee in those transactions is a routed group's netted payout.
    const payouts = await base.client.getLogs({
      address: USDC_ADDRESS,
      event: getAbiItem({ abi: eip3009Abi, name: "Transfer" }),
      args: { from: base.router, to: payTo },
      fromBlock: 0n,
    });
    for (const log of payouts) expect(routed.transactions.has(log.transactionHash!)).to.equal(true);

    const exact = await payConcurrently(base, `${resource.url}/exact/weather`, exactFetch);
    expect(routed.transactions.size, "routed transactions").to.be.at.most(exact.transactions.size);
    const routedGas = routed.gasUsed / 50n;
    const exactGas = exact.gasUsed / 50n;
    console.log(
      `      routed: ${routed.transactions.size} tx, ${routedGas} gas/payment; exact: ${exact.transactions.size} tx, ${exactGas} gas/payment`,
    );
  });

  it("refuses a fee above the client's cap before signing anything", async function () {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const pay = routedFetch(payer!, FEE - 1n);
    const failed = await pay(`${resource.url}/routed/weather`).then(
      () => undefined,
      (error: unknown) => error as Error,
    );
    expect(failed?.message ?? "").to.match(/maxFee/);
    expect(await usdcBalance(base.client, payer!.address)).to.equal(1_000_000n);
  });
});
