/**
 * `npm run bench -- --methods facilitator`: paid HTTP requests through the official x402 SDKs
 * (`@x402/fetch` client, `@x402/express` server), settled once by the official `@x402/evm` `exact`
 * facilitator (one transaction per payment) and once by this project's batching facilitator
 * (SettlementRouter batches), side by side on the same chain, token, block time and clients.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import { HTTPFacilitatorClient } from "@x402/core/server";
import type { Network, PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import express from "express";
import {
  isAddressEqual,
  keccak256,
  parseEther,
  toHex,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
  type TransactionReceipt,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { getReceiptL1Data } from "../../src/batch/getReceiptL1Data.js";
import type { BenchmarkMethod } from "../../src/bench/methods/types.js";
import {
  createOfficialFacilitator,
  loadOfficialSdk,
  type OfficialFacilitator,
} from "../../src/bench/official.js";
import type { BenchmarkRun } from "../../src/bench/schema.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { BatchFacilitator } from "../../src/facilitator/facilitator.js";
import { resolveX402Network } from "../../src/facilitator/networks.js";
import { createFacilitatorServer } from "../../src/facilitator/server.js";
import { FacilitatorStore } from "../../src/facilitator/store.js";

/** The chain the benchmark runs on: public, wallet and test actions, plus node accounts. */
export interface FacilitatorBenchChain {
  /** Public + test (`setBalance`) actions; its `pollingInterval` is used by both facilitators. */
  client: PublicClient & {
    setBalance(args: { address: Address; value: bigint }): Promise<void>;
  };
  /** The node's unlocked accounts; the official facilitator sends from `wallets[2]` (or the last). */
  wallets: readonly unknown[];
}

/**
 * Options of {@link runFacilitatorBenchmark} (a superset of what `scripts/bench.ts` passes).
 */
export interface FacilitatorBenchOptions {
  chain: FacilitatorBenchChain;
  /** The EIP-3009 token paid in, with its EIP-712 domain. */
  token: { name: string; address: Address; domain: { name: string; version: string } };
  /** The SettlementRouter the batching facilitator relays through. */
  router: Address;
  /** Funded payers: each pays once per facilitator run, so at least `payments` of them. */
  payers: readonly LocalAccount[];
  payee: Address;
  /** Price of one request, in the token's smallest unit. */
  amount: bigint;
  /** Paid requests per facilitator run. */
  payments: number;
  /** Our facilitator's `maxBatchSize`, one run each (default [100]). */
  batchSizes?: readonly number[];
  /** Seconds between blocks the chain is mining at (0: one block per transaction); informative. */
  blockTime: number;
  /** Concurrent clients, each sending one paid request after another (default 50). */
  clients?: number;
  /** Our facilitator's `maxWaitMs` (default: the block time, or 100 ms on automine). */
  maxWaitMs?: number;
  /** Our facilitator's `flushMarginMs` (default 200 ms) when blocks come every `blockTime` s. */
  flushMarginMs?: number;
  /** Progress reporting, as the bench's progress bar offers it. */
  progress?: { tick(count?: number): void; label(text: string): void };
}

/** One facilitator run: the bench's run fields plus the HTTP figures. */
export interface FacilitatorBenchResult {
  token: string;
  /** `facilitator-official` (one transaction per payment) or `facilitator-batching` (ours). */
  method: "facilitator-official" | "facilitator-batching";
  /** Payments per transaction allowed: 1 for the official facilitator, `maxBatchSize` for ours. */
  batchSize: number;
  payments: number;
  /** Paid requests answered 200 with a successful payment response. */
  settled: number;
  failed: number;
  /** Receipt gasUsed of the settling transactions / settled payments. */
  gasPerPayment: number;
  /** OP-stack L1 data estimate (receipt `l1GasUsed` / 16) / settled payments, bytes. */
  l1BytesPerPayment: number;
  /** Paid requests per second, first request sent to last response received. */
  paymentsPerSecond: number;
  /** Settlement transactions sent. */
  transactions: number;
  /** Latency of one paid request (402, sign, paid retry, settlement), milliseconds. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  clients: number;
  blockTime: number;
  /** Ours only: this run divided by the official run (throughput, p99, transactions, gas). */
  vsOfficial?: {
    paymentsPerSecond: number;
    latencyP99: number;
    transactions: number;
    gasPerPayment: number;
  };
}

/** The batching facilitator's relayer in the benchmark (a fixed local key, funded with ETH). */
const RELAYER = privateKeyToAccount(keccak256(toHex("x402-clearing:bench-facilitator-relayer")));

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return `http://127.0.0.1:${port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function readJson(request: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (error) {
        reject(error);
      }
    });
    request.on("error", reject);
  });
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { "content-type": "application/json" });
  response.end(text);
}

/**
 * The official facilitator served over HTTP the way x402's facilitator examples serve it:
 * `/verify` and `/settle` hand the body to the SDK's `exact` scheme, `/supported` lists its kind.
 */
function serveOfficial(official: OfficialFacilitator, network: string): Server {
  return createServer((request, response) => {
    const path = (request.url ?? "/").split("?")[0];
    if (path === "/supported") {
      reply(response, 200, {
        kinds: [{ x402Version: 2, scheme: "exact", network }],
        extensions: [],
        signers: { "eip155:*": [official.address] },
      });
      return;
    }
    if (request.method !== "POST" || (path !== "/verify" && path !== "/settle")) {
      reply(response, 404, { error: "not_found" });
      return;
    }
    readJson(request)
      .then(async (body) => {
        const { paymentPayload, paymentRequirements } = body as {
          paymentPayload: PaymentPayload;
          paymentRequirements: PaymentRequirements;
        };
        const result =
          path === "/verify"
            ? await official.verify(paymentPayload, paymentRequirements)
            : await official.settle(paymentPayload, paymentRequirements);
        reply(response, 200, result);
      })
      .catch((error: unknown) => reply(response, 500, { error: String(error) }));
  });
}

/** A resource server with the official v2 middleware in front of one paid route. */
async function serveResource(
  facilitatorUrl: string,
  options: FacilitatorBenchOptions,
  network: Network,
): Promise<{ server: Server; url: string }> {
  const app = express();
  const resourceServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: facilitatorUrl }),
  ).register(network, new ExactEvmServerScheme());
  app.use(
    paymentMiddleware(
      {
        "GET /resource": {
          accepts: {
            scheme: "exact",
            network,
            payTo: options.payee,
            // The chain's clock may run ahead of the wall clock: a long validity window.
            maxTimeoutSeconds: 3_600,
            price: {
              amount: options.amount.toString(),
              asset: options.token.address,
              extra: { name: options.token.domain.name, version: options.token.domain.version },
            },
          },
          description: "benchmark resource",
        },
      },
      resourceServer,
    ),
  );
  app.get("/resource", (_request, response) => {
    response.json({ ok: true });
  });
  const server = createServer(app);
  return { server, url: await listen(server) };
}

interface LoadResult {
  latencies: number[];
  elapsedMs: number;
  settled: number;
  transactions: Set<Hex>;
}

/** `clients` concurrent loops of paid requests until `payers` are used up. */
async function drive(
  url: string,
  payers: readonly LocalAccount[],
  clients: number,
  network: Network,
  defaultAsset: boolean,
  onDone: () => void,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const transactions = new Set<Hex>();
  let next = 0;
  let settled = 0;
  const started = performance.now();
  const loop = async () => {
    for (;;) {
      const index = next;
      next += 1;
      if (index >= payers.length) return;
      const client = new x402Client().register(
        network,
        new ExactEvmClientScheme(toClientEvmSigner(payers[index]!)),
      );
      // The client's spend controls accept only default assets (USDC) unless told otherwise.
      if (!defaultAsset) client.setSpendControls({ allowedAssets: true });
      const pay = wrapFetchWithPayment(fetch, client);
      const t0 = performance.now();
      try {
        const response = await pay(`${url}/resource`);
        await response.arrayBuffer();
        const header = response.headers.get("PAYMENT-RESPONSE");
        if (response.status === 200 && header) {
          const settlement = decodePaymentResponseHeader(header) as {
            success: boolean;
            transaction: Hex;
          };
          if (settlement.success) {
            settled += 1;
            transactions.add(settlement.transaction);
          }
        }
      } catch {
        // counted as failed
      }
      latencies.push(performance.now() - t0);
      onDone();
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  return { latencies, elapsedMs: performance.now() - started, settled, transactions };
}

async function receiptsOf(
  client: PublicClient,
  hashes: Iterable<Hex>,
): Promise<TransactionReceipt[]> {
  return Promise.all([...hashes].map((hash) => client.getTransactionReceipt({ hash })));
}

function summarize(
  method: FacilitatorBenchResult["method"],
  batchSize: number,
  options: FacilitatorBenchOptions,
  payments: number,
  clients: number,
  load: LoadResult,
  receipts: TransactionReceipt[],
): FacilitatorBenchResult {
  const gas = receipts.reduce((sum, receipt) => sum + receipt.gasUsed, 0n);
  const l1 = receipts.reduce(
    (sum, receipt) => sum + Number(getReceiptL1Data(receipt)?.l1Bytes ?? 0n),
    0,
  );
  const sorted = [...load.latencies].sort((a, b) => a - b);
  const settled = load.settled;
  return {
    token: options.token.name,
    method,
    batchSize,
    payments,
    settled,
    failed: payments - settled,
    gasPerPayment: settled > 0 ? Math.round(Number(gas) / settled) : 0,
    l1BytesPerPayment: settled > 0 ? round(l1 / settled) : 0,
    paymentsPerSecond: load.elapsedMs > 0 ? round((settled * 1000) / load.elapsedMs) : 0,
    transactions: receipts.length,
    latencyP50Ms: Math.round(percentile(sorted, 50)),
    latencyP99Ms: Math.round(percentile(sorted, 99)),
    clients,
    blockTime: options.blockTime,
  };
}

/**
 * Runs paid HTTP requests through the official x402 SDK client and server against the official
 * `@x402/evm` facilitator (served in process over HTTP, one transaction per payment), then against
 * this project's batching facilitator once per batch size, each with `payments` requests from
 * `clients` concurrent clients, and reports throughput, latency p50/p99, transactions and gas.
 * The first `payments` payers pay the official run, the same payers pay again in each of ours
 * (each needs `amount` per run).
 *
 * @example
 * const runs = await runFacilitatorBenchmark({ chain, token, payers, payee, amount: 10_000n,
 *   payments: 200, blockTime: 2, clients: 50 });
 * console.table(runs);
 */
export async function runFacilitatorBenchmark(
  options: FacilitatorBenchOptions,
): Promise<FacilitatorBenchResult[]> {
  const { chain } = options;
  const client = chain.client;
  const chainId = await client.getChainId();
  const x402Network = resolveX402Network(String(chainId));
  const network = x402Network.v2 as Network;
  const clients = Math.max(1, options.clients ?? 50);
  const payments = Math.min(options.payments, options.payers.length);
  const payers = options.payers.slice(0, payments);
  const pollingIntervalMs = client.pollingInterval ?? 250;
  const maxWaitMs =
    options.maxWaitMs ?? (options.blockTime > 0 ? Math.round(options.blockTime * 1000) : 100);
  const tick = () => options.progress?.tick(1);
  const defaultAsset = isAddressEqual(options.token.address, USDC_ADDRESS);
  const results: FacilitatorBenchResult[] = [];

  // The official facilitator: the SDK's exact scheme, sending from one of the node's accounts.
  const wallets = chain.wallets as Parameters<
    typeof createOfficialFacilitator
  >[1]["walletClient"][];
  const official = createOfficialFacilitator(await loadOfficialSdk("facilitator"), {
    publicClient: client,
    walletClient: wallets[Math.min(2, wallets.length - 1)]!,
  });
  options.progress?.label(`${options.token.name}: official facilitator over HTTP`);
  const officialServer = serveOfficial(official, network);
  const officialUrl = await listen(officialServer);
  const officialResource = await serveResource(officialUrl, options, network);
  try {
    const load = await drive(officialResource.url, payers, clients, network, defaultAsset, tick);
    const receipts = await receiptsOf(client, load.transactions);
    results.push(summarize("facilitator-official", 1, options, payments, clients, load, receipts));
  } finally {
    await close(officialResource.server);
    await close(officialServer);
  }
  const baseline = results[0]!;

  // Ours: the batching facilitator with a durable store, relaying through the SettlementRouter.
  await client.setBalance({ address: RELAYER.address, value: parseEther("1000") });
  const { router } = options;
  const dir = mkdtempSync(path.join(tmpdir(), "bench-facilitator-"));
  try {
    for (const batchSize of options.batchSizes ?? [100]) {
      options.progress?.label(`${options.token.name}: batching facilitator @ ${batchSize}`);
      const facilitator = new BatchFacilitator({
        client,
        relayer: RELAYER,
        network: x402Network,
        router,
        store: new FacilitatorStore(path.join(dir, `facilitator-${batchSize}.sqlite`)),
        // The benchmark's token is the one allow-listed asset (USDC by default; the test token when benched).
        assets: [options.token.address],
        maxBatchSize: batchSize,
        maxWaitMs,
        pollingIntervalMs,
        ...(options.blockTime > 0
          ? { blockTimeMs: options.blockTime * 1000, flushMarginMs: options.flushMarginMs }
          : {}),
      });
      await facilitator.start();
      const server = createFacilitatorServer(facilitator);
      const { url } = await server.listen();
      const resource = await serveResource(url, options, network);
      try {
        const load = await drive(resource.url, payers, clients, network, defaultAsset, tick);
        const receipts = await receiptsOf(client, load.transactions);
        const run = summarize(
          "facilitator-batching",
          batchSize,
          options,
          payments,
          clients,
          load,
          receipts,
        );
        run.vsOfficial = {
          paymentsPerSecond: round(run.paymentsPerSecond / (baseline.paymentsPerSecond || 1), 2),
          latencyP99: round(run.latencyP99Ms / (baseline.latencyP99Ms || 1), 2),
          transactions: round(run.transactions / (baseline.transactions || 1), 3),
          gasPerPayment: round(run.gasPerPayment / (baseline.gasPerPayment || 1), 3),
        };
        results.push(run);
      } finally {
        await close(resource.server);
        await server.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

/**
 * `facilitator`: {@link runFacilitatorBenchmark} as a method of the library's benchmark, once per
 * token (the official facilitator once, ours at every batch size), on the benchmark's router,
 * payers, payee and block time.
 */
export const facilitatorMethod: BenchmarkMethod = {
  name: "facilitator",
  description:
    "paid HTTP requests through the official SDKs: the official facilitator vs the batching one",
  batched: false,
  usesRouter: true,
  defaultWorkloadOnly: true,
  paymentsPerPayer: (batchSizes) => 1 + batchSizes.length,
  async run(ctx) {
    const runs = await runFacilitatorBenchmark({
      chain: {
        client: ctx.node.client as unknown as FacilitatorBenchChain["client"],
        wallets: ctx.node.wallets,
      },
      token: ctx.token,
      router: ctx.router!,
      payers: ctx.payers,
      payee: ctx.payee,
      amount: ctx.amount,
      payments: ctx.payers.length,
      batchSizes: ctx.batchSizes,
      blockTime: ctx.blockTime,
      clients: ctx.clients,
      progress: { tick: (count) => ctx.tick(count), label: (text) => ctx.label(text) },
    });
    return { runs: runs as unknown as BenchmarkRun[] };
  },
};
