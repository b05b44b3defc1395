import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import express from "express";
import { type Address, type Hex, createWalletClient, getAddress, http } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { readBenchArtifact } from "../../src/bench/contracts.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";
import { ClearingClientScheme } from "../../src/x402/clearing/ClearingClientScheme.js";
import { ClearingServerScheme } from "../../src/x402/clearing/ClearingServerScheme.js";
import {
  network,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../facilitator/harness.js";

const NETWORK = network.v2 as `${string}:${string}`;
const PRICE = 1_000n; // "$0.001"
const FEE_BPS = 100;
const DELAY = 900;
const DEPOSIT_PAYMENTS = 100;

/** Deploys a ClearingHouse from its build artifact with the relayer. */
async function deployClearingHouse(base: LocalBase): Promise<Address> {
  const { abi, bytecode } = readBenchArtifact("ClearingHouse");
  const wallet = createWalletClient({ account: base.relayer, transport: http(base.rpcUrl) });
  const hash = await wallet.deployContract({ abi, bytecode, chain: null });
  const receipt = await base.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (!receipt.contractAddress) throw new Error("ClearingHouse not deployed");
  return getAddress(receipt.contractAddress);
}

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

/** A resource server on the official `@x402/express` middleware, unchanged, with our server scheme. */
async function startResourceServer(facilitatorUrl: string, payTo: Address) {
  const served = { count: 0 };
  const resourceServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: facilitatorUrl }),
  ).register(NETWORK, new ClearingServerScheme({ facilitatorUrl }));
  const app = express();
  app.use(
    paymentMiddleware(
      {
        "GET /weather": {
          accepts: { scheme: "clearing", price: "$0.001", network: NETWORK, payTo },
          description: "weather, paid with clearing vouchers",
        },
      },
      resourceServer,
    ),
  );
  app.get("/weather", (_req, res) => {
    served.count += 1;
    res.json({ report: "sunny" });
  });
  return { ...(await listen(app)), served };
}

/** The official `@x402/fetch` client, unchanged, with our client scheme registered. */
function clearingFetch(key: Hex) {
  const scheme = new ClearingClientScheme({
    signer: key,
    deposit: { payments: DEPOSIT_PAYMENTS },
  });
  return { scheme, pay: wrapFetchWithPayment(fetch, new x402Client().register(NETWORK, scheme)) };
}

describe("x402 clearing: official @x402/fetch and @x402/express paying through our facilitator", function () {
  let base: LocalBase;
  let clearingHouse: Address;
  let facilitator: RunningFacilitator;
  let resource: Awaited<ReturnType<typeof startResourceServer>>;
  let dir: string;
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const keys: Hex[] = [generatePrivateKey(), generatePrivateKey()];
  const payers = keys.map((key) => privateKeyToAccount(key));
  const operator = () => base.relayer.address;

  const cleared = (payer: Address) =>
    base.client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getCleared",
      args: [payer, payee, operator(), USDC_ADDRESS],
    });
  const account = (payer: Address) =>
    base.client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getAccount",
      args: [payer, operator(), USDC_ADDRESS],
    });

  before(async function () {
    base = await startLocalBase();
    clearingHouse = await deployClearingHouse(base);
    dir = mkdtempSync(path.join(tmpdir(), "x402-clearing-interop-"));
    facilitator = await startFacilitator(base, {
      clearing: {
        clearingHouse,
        operator: base.relayer,
        store: new ClearingStore(path.join(dir, "clearing.sqlite")),
        feeBasisPoints: FEE_BPS,
        withdrawalDelaySeconds: DELAY,
        clearIntervalMs: 0,
        clearThreshold: 0n,
        pollingIntervalMs: 100,
      },
    });
    // Mined in one block, as fundedPayers does: the chain's clock stays near the wall clock.
    await setIntervalMining(base, 1_000);
    await fundUsdc(base.testClient as never, {
      recipients: payers.map((p) => p.address),
      amount: 10_000_000n,
    });
    await setAutomine(base);
    resource = await startResourceServer(facilitator.url, payee);
  });

  after(async function () {
    if (resource) {
      resource.server.closeAllConnections();
      await new Promise<void>((resolve) => resource.server.close(() => resolve()));
    }
    await facilitator?.stop();
    await base?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("the server's 402 offers clearing with the facilitator's terms, settled before the handler", async function () {
    const response = await fetch(`${resource.url}/weather`);
    expect(response.status).to.equal(402);
    const required = JSON.parse(
      Buffer.from(response.headers.get("payment-required")!, "base64").toString("utf8"),
    ) as { accepts: { scheme: string; amount: string; extra: Record<string, unknown> }[] };
    expect(required.accepts).to.have.length(1);
    expect(required.accepts[0]).to.deep.include({ scheme: "clearing", amount: PRICE.toString() });
    expect(required.accepts[0]!.extra).to.deep.include({
      name: "USD Coin",
      version: "2",
      clearingHouse,
      operator: operator(),
      feeBasisPoints: FEE_BPS,
      withdrawalDelay: DELAY,
      paymentFlow: "upfront",
    });
  });

  it("serves 50 concurrent paid requests (two payers, 30 and 20 at once), none charged twice: the payee's cleared total is the price times the requests served", async function () {
    const payeeBefore = await usdcBalance(base.client, payee);
    const clients = keys.map((key) => clearingFetch(key));
    const counts = [30, 20];
    const answers = await Promise.all(
      clients.flatMap(({ pay }, i) =>
        Array.from({ length: counts[i]! }, async () => {
          const response = await pay(`${resource.url}/weather`);
          const body = (await response.json()) as { report?: string };
          const header = response.headers.get("payment-response");
          return {
            status: response.status,
            body,
            settle: header && decodePaymentResponseHeader(header),
          };
        }),
      ),
    );
    expect(answers.map((a) => a.status)).to.deep.equal(Array(50).fill(200));
    expect(answers.every((a) => a.body.report === "sunny")).to.equal(true);
    for (const answer of answers) {
      expect(answer.settle).to.deep.include({ success: true, transaction: "", network: NETWORK });
    }
    expect(resource.served.count).to.equal(50);
    // Each client holds exactly its requests' total.
    for (const [i, { scheme }] of clients.entries()) {
      const pair = await scheme.getPair({
        network: NETWORK,
        clearingHouse,
        operator: operator(),
        token: USDC_ADDRESS,
        payee,
      });
      expect(pair!.cumulativeValue).to.equal(BigInt(counts[i]!) * PRICE);
    }

    await facilitator.facilitator.clearing!.clearNow();
    const deposit =
      BigInt(DEPOSIT_PAYMENTS) * PRICE +
      computeVoucherFee({ basisPoints: FEE_BPS }, BigInt(DEPOSIT_PAYMENTS) * PRICE);
    for (const [i, payer] of payers.entries()) {
      const value = BigInt(counts[i]!) * PRICE;
      const fee = computeVoucherFee({ basisPoints: FEE_BPS }, value);
      expect(await cleared(payer.address)).to.deep.equal([value, fee]);
      // One deposit per payer (the concurrent first payments waited for it), less what was cleared.
      expect((await account(payer.address)).balance).to.equal(deposit - value - fee);
    }
    expect((await usdcBalance(base.client, payee)) - payeeBefore).to.equal(50n * PRICE);
  });

  it("a client that lost its store recovers from the refusal's pair state and pays exactly one price more", async function () {
    const { scheme, pay } = clearingFetch(keys[0]!);
    const response = await pay(`${resource.url}/weather`);
    expect(response.status).to.equal(200);
    expect(resource.served.count).to.equal(51);
    const pair = await scheme.getPair({
      network: NETWORK,
      clearingHouse,
      operator: operator(),
      token: USDC_ADDRESS,
      payee,
    });
    expect(pair!.cumulativeValue).to.equal(31n * PRICE);
    await facilitator.facilitator.clearing!.clearNow();
    expect((await cleared(payers[0]!.address))[0]).to.equal(31n * PRICE);
  });
});
