import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import express from "express";
import {
  type Address,
  type Hex,
  createWalletClient,
  erc20Abi,
  getAddress,
  http,
  toFunctionSelector,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { fundTetherLike, installTetherLikeToken } from "../../src/chain/tetherLike.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import { ClearingClientScheme } from "../../src/x402/clearing/ClearingClientScheme.js";
import { ClearingServerScheme } from "../../src/x402/clearing/ClearingServerScheme.js";
import {
  network,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "../facilitator/harness.js";
import { deployClearingHouse } from "../facilitator/clearingHarness.js";

const NETWORK = network.v2 as `${string}:${string}`;
const PRICE = 1_000n;
const FEE_BPS = 100;
const DELAY = 900;
const DEPOSIT_PAYMENTS = 100;
const FUNDS = 10_000_000n;

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

describe("x402 clearing through Permit2: official @x402/fetch and @x402/express paying a USDT-like token through our facilitator", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let clearingHouse: Address;
  let usdt: Address;
  let facilitator: RunningFacilitator;
  let resource: { server: Server; url: string };
  let dir: string;
  const served = { count: 0 };
  const payee = privateKeyToAccount(generatePrivateKey()).address;
  const keys: Hex[] = [generatePrivateKey(), generatePrivateKey()];
  const payers = keys.map((key) => privateKeyToAccount(key));
  const operator = () => base.relayer.address;

  const balanceOf = (owner: Address) =>
    base.client.readContract({
      address: usdt,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner],
    });
  const cleared = (payer: Address) =>
    base.client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getCleared",
      args: [payer, payee, operator(), usdt],
    });
  const account = (payer: Address) =>
    base.client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getAccount",
      args: [payer, operator(), usdt],
    });

  /** The official `@x402/fetch` client, unchanged, with our scheme; the token is opted in with a cap. */
  function clearingFetch(key: Hex) {
    const scheme = new ClearingClientScheme({
      signer: key,
      deposit: { payments: DEPOSIT_PAYMENTS },
      publicClient: base.client,
    });
    const client = x402Client.fromConfig({
      schemes: [{ network: NETWORK, client: scheme }],
      spendControls: {
        allowedAssets: [{ network: NETWORK, asset: usdt, maxAmountPerPayment: PRICE.toString() }],
      },
    });
    return { scheme, pay: wrapFetchWithPayment(fetch, client) };
  }

  before(async function () {
    base = await startLocalBase();
    clearingHouse = getAddress(await deployClearingHouse(base));
    usdt = await installTetherLikeToken(base.testClient as never);
    dir = mkdtempSync(path.join(tmpdir(), "x402-clearing-permit2-"));
    facilitator = await startFacilitator(base, {
      assets: [USDC_ADDRESS, usdt],
      permit2Assets: [usdt],
      clearing: {
        clearingHouse,
        operator: base.relayer,
        store: new ClearingStore(path.join(dir, "clearing.sqlite")),
        tokens: [USDC_ADDRESS, usdt],
        permit2Assets: [usdt],
        feeBasisPoints: FEE_BPS,
        withdrawalDelaySeconds: DELAY,
        clearIntervalMs: 0,
        clearThreshold: 0n,
        pollingIntervalMs: 100,
      },
    });
    // Mined in one block: the chain's clock stays near the wall clock.
    await setIntervalMining(base, 1_000);
    await fundTetherLike(base.testClient as never, {
      recipients: payers.map((p) => p.address),
      amount: FUNDS,
    });
    await setAutomine(base);
    // The payer's one-time approval of Permit2: its own transaction, as the README says.
    for (const payer of payers) {
      await base.testClient.setBalance({ address: payer.address, value: 10n ** 18n });
      const wallet = createWalletClient({
        account: payer,
        chain: base.client.chain,
        transport: http(base.rpcUrl),
      });
      await approvePermit2(wallet, { token: usdt });
    }
    const resourceServer = new x402ResourceServer(
      new HTTPFacilitatorClient({ url: facilitator.url }),
    ).register(NETWORK, new ClearingServerScheme({ facilitatorUrl: facilitator.url }));
    const app = express();
    app.use(
      paymentMiddleware(
        {
          "GET /weather": {
            accepts: {
              scheme: "clearing",
              price: { amount: PRICE.toString(), asset: usdt },
              network: NETWORK,
              payTo: payee,
            },
            description: "weather, paid with clearing vouchers on a USDT-like token",
          },
        },
        resourceServer,
      ),
    );
    app.get("/weather", (_req, res) => {
      served.count += 1;
      res.json({ report: "sunny" });
    });
    resource = await listen(app);
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

  it("/supported lists the USDT-like token as a Permit2 asset of the clearing kind, and the 402 asks for a Permit2 deposit", async function () {
    const kind = facilitator.facilitator.supported().kinds.find((k) => k.scheme === "clearing");
    const extra = kind?.extra as Record<string, unknown>;
    expect(extra.permit2Assets).to.deep.equal([usdt]);
    expect((extra.assets as { asset: Address }[]).map((a) => a.asset)).to.deep.equal([
      USDC_ADDRESS,
    ]);
    const response = await fetch(`${resource.url}/weather`);
    expect(response.status).to.equal(402);
    const required = JSON.parse(
      Buffer.from(response.headers.get("payment-required")!, "base64").toString("utf8"),
    ) as { accepts: { asset: string; extra: Record<string, unknown> }[] };
    expect(required.accepts[0]!.asset).to.equal(usdt);
    expect(required.accepts[0]!.extra).to.deep.include({
      assetTransferMethod: "permit2",
      clearingHouse,
      operator: operator(),
    });
    expect(required.accepts[0]!.extra.name).to.equal(undefined);
  });

  it("serves 50 concurrent paid requests (two payers, 30 and 20 at once), deposits in depositWithPermit2, cleared on chain, every unit conserved", async function () {
    const tracked = [...payers.map((p) => p.address), clearingHouse, payee, operator()];
    const before = await Promise.all(tracked.map(balanceOf));
    const fromBlock = await base.client.getBlockNumber();
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
    expect(
      answers.map((a) => a.status),
      JSON.stringify(answers.find((a) => a.status !== 200)),
    ).to.deep.equal(Array(50).fill(200));
    for (const answer of answers) {
      expect(answer.body.report).to.equal("sunny");
      expect(answer.settle).to.deep.include({ success: true, transaction: "", network: NETWORK });
    }
    expect(served.count).to.equal(50);

    // The deposits went on chain through depositWithPermit2 (one per payer), all credited.
    const logs = await base.client.getContractEvents({
      address: clearingHouse,
      abi: clearingHouseAbi,
      eventName: "DepositsProcessed",
      fromBlock,
    });
    const results = logs.flatMap((log) => [...Buffer.from(log.args.results!.slice(2), "hex")]);
    expect(results).to.deep.equal([0, 0]);
    for (const log of logs) {
      const tx = await base.client.getTransaction({ hash: log.transactionHash });
      expect(tx.input.slice(0, 10)).to.equal(
        toFunctionSelector("depositWithPermit2(address,bytes)"),
      );
    }

    await facilitator.facilitator.clearing!.clearNow();
    const deposit =
      BigInt(DEPOSIT_PAYMENTS) * PRICE +
      computeVoucherFee({ basisPoints: FEE_BPS }, BigInt(DEPOSIT_PAYMENTS) * PRICE);
    let fees = 0n;
    for (const [i, payer] of payers.entries()) {
      const value = BigInt(counts[i]!) * PRICE;
      const fee = computeVoucherFee({ basisPoints: FEE_BPS }, value);
      fees += fee;
      expect(await cleared(payer.address)).to.deep.equal([value, fee]);
      // One deposit per payer (the concurrent first payments waited for it), less what was cleared.
      expect((await account(payer.address)).balance).to.equal(deposit - value - fee);
      const pair = await clients[i]!.scheme.getPair({
        network: NETWORK,
        clearingHouse,
        operator: operator(),
        token: usdt,
        payee,
      });
      expect(pair!.cumulativeValue).to.equal(value);
    }
    const after = await Promise.all(tracked.map(balanceOf));
    const delta = after.map((balance, i) => balance - before[i]!);
    // Each payer paid exactly its deposit; the ClearingHouse holds what was not cleared; the
    // payee got the price of every request served and the operator the fees.
    expect(delta.slice(0, 2)).to.deep.equal([-deposit, -deposit]);
    expect(delta[3]).to.equal(50n * PRICE);
    expect(delta[4]).to.equal(fees);
    expect(delta[2]).to.equal(2n * deposit - 50n * PRICE - fees);
    expect(delta.reduce((sum, d) => sum + d, 0n)).to.equal(0n);
  });
});
