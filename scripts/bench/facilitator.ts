/**
 * `npm run bench -- --methods facilitator`: paid HTTP requests through the official x402 SDKs
 * (`@x402/fetch` client, `@x402/express` server), side by side in one run on the same chain, token,
 * block time and clients, in four rows: `exact` settled by the official `@x402/evm` facilitator
 * (one transaction per payment), and by this project's facilitator `exact` (SettlementRouter
 * batches), `routed` (routed authorizations, the relayer's fee bound in the signature) and
 * `clearing` (a deposit once, then vouchers). Closed loop (`clients` paying one request after
 * another) or open loop (`rates`: requests fired on a schedule, one step per rate). Each row is an
 * adapter: a client scheme, a server scheme and a facilitator (facilitatorSchemes.ts); the clients
 * and the resource server run in worker threads of their own (facilitatorLoad.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";

import type { Network, PaymentPayload, PaymentRequirements } from "@x402/core/types";
import {
  erc20Abi,
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
import { deployBenchContract } from "../../src/bench/contracts.js";
import { BenchmarkInputError } from "../../src/bench/errors.js";
import type { BenchmarkMethod } from "../../src/bench/methods/types.js";
import {
  createOfficialFacilitator,
  loadOfficialSdk,
  type OfficialFacilitator,
} from "../../src/bench/official.js";
import type { BenchmarkRun } from "../../src/bench/schema.js";
import { benchPrivateKey } from "../../src/bench/tokens.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { BatchFacilitator } from "../../src/facilitator/facilitator.js";
import { resolveX402Network } from "../../src/facilitator/networks.js";
import { createFacilitatorServer } from "../../src/facilitator/server.js";
import { FacilitatorStore } from "../../src/facilitator/store.js";
import {
  closeServer,
  createLoadGenerator,
  hostResourceServer,
  type PhaseResult,
  threadCpuMs,
} from "./facilitatorLoad.js";
import {
  DEFAULT_P99_BOUND_MS,
  DEFAULT_STEP_SECONDS,
  FACILITATOR_ROW_METHODS,
  FACILITATOR_ROWS,
  type FacilitatorRowName,
} from "./facilitatorRows.js";
import {
  loadX402Schemes,
  type PayerKey,
  type RowScheme,
  type RowSchemeSpec,
} from "./facilitatorSchemes.js";

export { DEFAULT_P99_BOUND_MS, DEFAULT_STEP_SECONDS, FACILITATOR_ROW_METHODS, FACILITATOR_ROWS };
export type { FacilitatorRowName };

/** The chain the benchmark runs on: public, wallet and test actions, plus node accounts. */
export interface FacilitatorBenchChain {
  /** Public + test (`setBalance`) actions; its `pollingInterval` is used by both facilitators. */
  client: PublicClient & {
    setBalance(args: { address: Address; value: bigint }): Promise<void>;
  };
  /** The node's unlocked accounts; the official facilitator sends from `wallets[2]` (or the last). */
  wallets: readonly unknown[];
}

/** The routed row's relayer fee per payment, smallest unit (on top of the price). */
export const ROUTED_BENCH_FEE = 100n;
/** The clearing row's operator fee, basis points of the cumulative value. */
export const CLEARING_BENCH_FEE_BPS = 100;
/** The clearing row's withdrawal delay (the shortest the ClearingHouse accepts), seconds. */
export const CLEARING_BENCH_WITHDRAWAL_DELAY = 15 * 60;

/**
 * Options of {@link runFacilitatorBenchmark} (a superset of what `scripts/bench.ts` passes).
 */
export interface FacilitatorBenchOptions {
  chain: FacilitatorBenchChain;
  /** The EIP-3009 token paid in, with its EIP-712 domain. */
  token: { name: string; address: Address; domain: { name: string; version: string } };
  /** The SettlementRouter the batching facilitator relays through. */
  router: Address;
  /** Funded payers; each makes `paymentsPerPayer` paid requests per closed-loop row. */
  payers: readonly LocalAccount[];
  /**
   * The payers' private keys, in the same order: with them the clients run in worker threads
   * (`threads`); without them, in this thread.
   */
  payerKeys?: readonly PayerKey[];
  payee: Address;
  /** Price of one request, in the token's smallest unit. */
  amount: bigint;
  /** The first `payments` payers take part (default: all). */
  payments?: number;
  /** Paid requests per payer in a closed-loop row (default 1). */
  paymentsPerPayer?: number;
  /** Rows to run, in {@link FACILITATOR_ROWS} order (default: all four). */
  rows?: readonly FacilitatorRowName[];
  /** Our facilitator's `maxBatchSize`, one exact and one routed row each (default [100]). */
  batchSizes?: readonly number[];
  /** Seconds between blocks the chain is mining at (0: one block per transaction); informative. */
  blockTime: number;
  /** Closed loop: concurrent clients, each sending one paid request after another (default 50). */
  clients?: number;
  /**
   * Open loop instead of closed: one step per rate, paid requests fired at `rate` per second for
   * `durationSeconds`, whatever answers. A row stops at its first step that is not sustained.
   */
  rates?: readonly number[];
  /** Seconds per open-loop step (default {@link DEFAULT_STEP_SECONDS}). */
  durationSeconds?: number;
  /** A step is sustained when every request was paid and p99 ≤ this (default 250 ms). */
  p99BoundMs?: number;
  /** Worker threads of the paying clients (default 1 with `payerKeys`, else 0: this thread). */
  clientThreads?: number;
  /** Run each row's resource server in a worker thread (default: with `payerKeys`). */
  serverThread?: boolean;
  /**
   * The resource server calls its facilitator over a keep-alive undici pool (default true) rather
   * than the SDK's `HTTPFacilitatorClient` over `fetch`; the same for every row.
   */
  pooledFacilitatorClient?: boolean;
  /** Receives the routed row's relayer fees and the clearing operator's fees. */
  feeRecipient?: Address;
  /** Our facilitator's `maxWaitMs` (default: the block time, or 100 ms on automine). */
  maxWaitMs?: number;
  /** Our facilitator's `flushMarginMs` (default 200 ms) when blocks come every `blockTime` s. */
  flushMarginMs?: number;
  /** Deploys the clearing row's ClearingHouse (default: none, and the clearing row cannot run). */
  deployClearingHouse?: () => Promise<Address>;
  /** Progress reporting, as the bench's progress bar offers it. */
  progress?: { tick(count?: number): void; label(text: string): void };
}

/** One row of the facilitator benchmark (one open-loop step of a row in open loop). */
export interface FacilitatorBenchResult {
  token: string;
  /** The row: {@link FACILITATOR_ROW_METHODS}. */
  method: (typeof FACILITATOR_ROW_METHODS)[FacilitatorRowName];
  /** The x402 scheme paid with. */
  scheme: RowScheme;
  /** Who settles: the official `@x402/evm` facilitator or this project's. */
  facilitator: "official" | "x402-clearing";
  /** `closed` (`clients` loops) or `open` (requests at `rate` per second). */
  mode: "closed" | "open";
  /** Payments per transaction allowed: 1 for the official facilitator, `maxBatchSize` for ours. */
  batchSize: number;
  /** Paid requests made (the clearing row's first requests not included). */
  payments: number;
  /** Paid requests answered 200 with a successful payment response. */
  settled: number;
  failed: number;
  /** Receipt gasUsed of the facilitator's transactions during the row / settled payments. */
  gasPerPayment: number;
  /** OP-stack L1 data estimate (receipt `l1GasUsed` / 16) / settled payments, bytes. */
  l1BytesPerPayment: number;
  /** Paid requests per second, first request sent to last response received. */
  requestsPerSecond: number;
  /** The same figure under the engine's name. */
  paymentsPerSecond: number;
  /** Transactions the row's facilitator sent (deposits and clears included). */
  transactions: number;
  /** Latency of one paid request (402, sign, paid retry, verify, settle), milliseconds. */
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Closed loop: concurrent clients. */
  clients: number;
  blockTime: number;
  payers: number;
  /** Open loop: the step's target rate, requests per second, and its length in seconds. */
  rate?: number;
  durationSeconds?: number;
  /** Open loop: the row's highest sustained rate (0: none) and the first rate it did not sustain. */
  sustainedRate?: number;
  breaksAt?: number | null;
  /** Open loop: whether this step was sustained (all paid, p99 within the bound). */
  sustained?: boolean;
  /** Open loop: the p99 bound of a sustained step, ms. */
  p99BoundMs?: number;
  /** Clearing: latency of every payer's first request (it carries the deposit), reported apart. */
  firstRequestLatencyP50Ms?: number;
  firstRequestLatencyP99Ms?: number;
  /** Routed: fees the fee recipient received over the row, smallest unit. */
  feeReceived?: number;
  /**
   * Where a paid request's time goes, medians in ms: the unpaid request answered 402
   * (`challenge`), the client signing (`sign`), the paid retry (`paid`), and within it the resource
   * server's `/verify` and `/settle` calls to the facilitator.
   */
  stagesP50Ms: { challenge: number; sign: number; paid: number; verify: number; settle: number };
  /**
   * CPU time of the whole process (chain, facilitator, resource server and clients, every thread)
   * over the phase / settled payments, ms: what a paid request costs whatever the machine's load.
   */
  cpuMsPerPayment?: number;
  /**
   * The same CPU time by thread / settled payments, ms: the main thread (chain and facilitator),
   * the resource server's, the clients' and the rest of the process (the clearing store's writer,
   * the chain's and libuv's native threads).
   */
  cpuMsPerPaymentByThread?: { main: number; server: number; clients: number; other: number };
  failureReasons?: Record<string, number>;
  /** Closed loop, ours: this row divided by the official row (throughput, p50, p99, transactions, gas). */
  vsOfficial?: {
    paymentsPerSecond: number;
    latencyP50: number;
    latencyP99: number;
    transactions: number;
    gasPerPayment: number;
  };
}

/** The batching facilitator's relayer and clearing operator in the benchmark (a fixed local key, funded with ETH). */
const RELAYER = privateKeyToAccount(keccak256(toHex("x402-clearing:bench-facilitator-relayer")));

function round(value: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** The `p`th percentile (nearest rank) of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number {
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

/** A running facilitator of one row. */
interface RunningFacilitator {
  url: string;
  close(): Promise<void>;
}

/** One row: which scheme the client and server speak, and the facilitator that settles it. */
interface RowAdapter {
  row: FacilitatorRowName;
  scheme: RowScheme;
  batchSize: number;
  /** The accounts whose transactions count for the row (gas, transactions). */
  senders: Address[];
  start(): Promise<RunningFacilitator>;
  /** Every payer's first request is a warm-up reported apart (the clearing deposit). */
  firstApart: boolean;
}

/** What every row of one run shares. */
interface RunContext {
  options: FacilitatorBenchOptions;
  client: FacilitatorBenchChain["client"];
  network: Network;
  x402Network: ReturnType<typeof resolveX402Network>;
  payers: readonly LocalAccount[];
  keys: readonly PayerKey[] | undefined;
  dir: string;
  feeRecipient: Address;
  maxWaitMs: number;
}

// The clearing facilitator's durable store is another area's module, loaded when the row runs.
const CLEARING_STORE_MODULE = "../../src/facilitator/clearing/store.js";

/**
 * What our facilitator is configured with for `scheme` beyond `exact`'s options: the routed fee
 * and its recipient; the clearing operator (the relayer's key, registered by the facilitator), its
 * ClearingHouse, fee terms and durable store.
 */
async function schemeFacilitatorOptions(
  ctx: RunContext,
  scheme: RowScheme,
  clearingHouse: Address | undefined,
): Promise<object> {
  if (scheme === "routed") return { fee: ROUTED_BENCH_FEE, feeRecipient: ctx.feeRecipient };
  if (scheme !== "clearing") return {};
  const { ClearingStore } = (await import(CLEARING_STORE_MODULE)) as {
    ClearingStore: new (path: string) => object;
  };
  return {
    clearing: {
      clearingHouse,
      operator: RELAYER,
      store: new ClearingStore(path.join(ctx.dir, "clearing.sqlite")),
      tokens: [ctx.options.token.address],
      feeBasisPoints: CLEARING_BENCH_FEE_BPS,
      feeRecipient: ctx.feeRecipient,
      withdrawalDelaySeconds: CLEARING_BENCH_WITHDRAWAL_DELAY,
    },
  };
}

/** Our facilitator (BatchFacilitator behind the Fastify server) for one row. */
async function startOurs(
  ctx: RunContext,
  scheme: RowScheme,
  batchSize: number,
  clearingHouse?: Address,
): Promise<RunningFacilitator> {
  const { options, client } = ctx;
  const facilitator = new BatchFacilitator({
    client,
    relayer: RELAYER,
    network: ctx.x402Network,
    router: options.router,
    store: new FacilitatorStore(path.join(ctx.dir, `facilitator-${scheme}-${batchSize}.sqlite`)),
    // The benchmark's token is the one allow-listed asset (USDC by default; the test token when benched).
    assets: [options.token.address],
    maxBatchSize: batchSize,
    maxWaitMs: ctx.maxWaitMs,
    pollingIntervalMs: client.pollingInterval ?? 250,
    ...(options.blockTime > 0
      ? { blockTimeMs: options.blockTime * 1000, flushMarginMs: options.flushMarginMs }
      : {}),
    ...(await schemeFacilitatorOptions(ctx, scheme, clearingHouse)),
  });
  await facilitator.start();
  const server = createFacilitatorServer(facilitator);
  const { url } = await server.listen();
  return { url, close: () => server.close() };
}

/** The rows of a run, as adapters. */
async function rowAdapters(ctx: RunContext): Promise<RowAdapter[]> {
  const { options, client } = ctx;
  const rows = FACILITATOR_ROWS.filter((row) => (options.rows ?? FACILITATOR_ROWS).includes(row));
  const batchSizes = options.batchSizes ?? [100];
  const adapters: RowAdapter[] = [];
  for (const row of rows) {
    if (row === "official") {
      // The official facilitator: the SDK's exact scheme, sending from one of the node's accounts.
      const wallets = options.chain.wallets as Parameters<
        typeof createOfficialFacilitator
      >[1]["walletClient"][];
      const official = createOfficialFacilitator(await loadOfficialSdk("facilitator"), {
        publicClient: client,
        walletClient: wallets[Math.min(2, wallets.length - 1)]!,
      });
      adapters.push({
        row,
        scheme: "exact",
        batchSize: 1,
        senders: [official.address],
        firstApart: false,
        start: async () => {
          const server = serveOfficial(official, ctx.network);
          const url = await listen(server);
          return { url, close: () => closeServer(server) };
        },
      });
    } else if (row === "exact" || row === "routed") {
      for (const batchSize of batchSizes)
        adapters.push({
          row,
          scheme: row,
          batchSize,
          senders: [RELAYER.address],
          firstApart: false,
          start: () => startOurs(ctx, row, batchSize),
        });
    } else {
      const batchSize = batchSizes.at(-1)!;
      adapters.push({
        row,
        scheme: "clearing",
        batchSize,
        senders: [RELAYER.address],
        firstApart: true,
        start: async () => {
          if (!options.deployClearingHouse)
            throw new Error("the clearing row needs deployClearingHouse");
          const clearingHouse = await options.deployClearingHouse();
          return startOurs(ctx, "clearing", batchSize, clearingHouse);
        },
      });
    }
  }
  return adapters;
}

/** The transactions `senders` had mined in blocks `from`..latest, with their receipts. */
async function transactionsFrom(
  client: PublicClient,
  senders: readonly Address[],
  from: bigint,
): Promise<TransactionReceipt[]> {
  const latest = await client.getBlockNumber();
  const hashes: Hex[] = [];
  for (let n = from; n <= latest; n++) {
    const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
    for (const tx of block.transactions)
      if (senders.some((sender) => isAddressEqual(sender, tx.from))) hashes.push(tx.hash);
  }
  return Promise.all(hashes.map((hash) => client.getTransactionReceipt({ hash })));
}

/** Gas, L1 bytes and transactions of `receipts` over `settled` payments. */
function chainFigures(receipts: readonly TransactionReceipt[], settled: number) {
  const gas = receipts.reduce((sum, receipt) => sum + receipt.gasUsed, 0n);
  const l1 = receipts.reduce(
    (sum, receipt) => sum + Number(getReceiptL1Data(receipt)?.l1Bytes ?? 0n),
    0,
  );
  return {
    gasPerPayment: settled > 0 ? Math.round(Number(gas) / settled) : 0,
    l1BytesPerPayment: settled > 0 ? round(l1 / settled) : 0,
    transactions: receipts.length,
  };
}

function latencyFigures(phase: PhaseResult) {
  const sorted = [...phase.latencies].sort((a, b) => a - b);
  return {
    latencyP50Ms: Math.round(percentile(sorted, 50)),
    latencyP99Ms: Math.round(percentile(sorted, 99)),
  };
}

/** User plus system CPU time of the whole process (every thread), ms. */
function cpuMsOf(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

function perPayment(ms: number, settled: number): number {
  return settled > 0 ? round(ms / settled, 2) : 0;
}

/** Runs one row: its facilitator, resource server and clients, closed loop or every open-loop step. */
async function runRow(ctx: RunContext, adapter: RowAdapter): Promise<FacilitatorBenchResult[]> {
  const { options, client } = ctx;
  const method = FACILITATOR_ROW_METHODS[adapter.row];
  const label = `${options.token.name}: ${method}${adapter.row === "official" ? "" : ` @ ${adapter.batchSize}`}`;
  options.progress?.label(label);
  const perPayer = Math.max(1, options.paymentsPerPayer ?? 1);
  const rates = options.rates ?? [];
  const duration = options.durationSeconds ?? DEFAULT_STEP_SECONDS;
  const bound = options.p99BoundMs ?? DEFAULT_P99_BOUND_MS;
  const open = rates.length > 0;
  const requestsPerPayer = open
    ? Math.ceil(rates.reduce((n, rate) => n + rate * duration, 0) / ctx.payers.length)
    : perPayer;
  const spec: RowSchemeSpec = {
    scheme: adapter.scheme,
    network: ctx.network,
    asset: options.token.address,
    domain: { ...options.token.domain },
    amount: options.amount.toString(),
    payTo: options.payee,
    defaultAsset: isAddressEqual(options.token.address, USDC_ADDRESS),
    depositPayments: requestsPerPayer + 1,
    pooledFacilitatorClient: options.pooledFacilitatorClient ?? true,
  };
  const threads = ctx.keys ? (options.clientThreads ?? 1) : 0;
  const serverThread = options.serverThread ?? ctx.keys !== undefined;
  const feeBalance = () =>
    client.readContract({
      address: options.token.address,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [ctx.feeRecipient],
    });

  const facilitator = await adapter.start();
  const resource = await hostResourceServer(spec, facilitator.url, serverThread);
  const load = await createLoadGenerator(spec, ctx.keys ?? ctx.payers, resource.url, threads);
  const results: FacilitatorBenchResult[] = [];
  try {
    const feesBefore = await feeBalance();
    const base = {
      token: options.token.name,
      method,
      scheme: adapter.scheme,
      facilitator: adapter.row === "official" ? ("official" as const) : ("x402-clearing" as const),
      batchSize: adapter.batchSize,
      clients: open ? 0 : Math.max(1, options.clients ?? 50),
      blockTime: options.blockTime,
      payers: ctx.payers.length,
    };
    let first: { latencyP50Ms: number; latencyP99Ms: number } | undefined;
    if (adapter.firstApart) {
      const warmup = await load.run({
        type: "closed",
        jobs: ctx.payers.map((_, i) => i),
        clients: Math.max(1, options.clients ?? 50),
      });
      options.progress?.tick(warmup.ok + warmup.failed);
      if (warmup.failed > 0)
        throw new Error(
          `${method}: ${warmup.failed} of the payers' first requests failed (${JSON.stringify(warmup.reasons)})`,
        );
      first = latencyFigures(warmup);
      await resource.stages();
    }
    const firstFields = first
      ? {
          firstRequestLatencyP50Ms: first.latencyP50Ms,
          firstRequestLatencyP99Ms: first.latencyP99Ms,
        }
      : {};
    const phaseRow = async (
      phase: PhaseResult,
      fromBlock: bigint,
      cpu: { process: number; main: number },
      extra: Partial<FacilitatorBenchResult>,
    ): Promise<FacilitatorBenchResult> => {
      const server = await resource.stages();
      const receipts = await transactionsFrom(client, adapter.senders, fromBlock);
      const p50 = (values: number[]) =>
        round(
          percentile(
            [...values].sort((a, b) => a - b),
            50,
          ),
        );
      const stagesP50Ms = {
        challenge: p50(phase.stages.challenge),
        sign: p50(phase.stages.sign),
        paid: p50(phase.stages.paid),
        verify: p50(server.verify),
        settle: p50(server.settle),
      };
      const settled = phase.ok;
      const perSecond = phase.elapsedMs > 0 ? round((settled * 1000) / phase.elapsedMs) : 0;
      // In one thread the server's and clients' CPU time is the main thread's.
      const serverCpu = serverThread ? server.cpuMs : 0;
      const clientsCpu = threads > 0 ? phase.cpuMs : 0;
      const byThread = {
        main: perPayment(cpu.main, settled),
        server: perPayment(serverCpu, settled),
        clients: perPayment(clientsCpu, settled),
        other: perPayment(Math.max(0, cpu.process - cpu.main - serverCpu - clientsCpu), settled),
      };
      return {
        ...base,
        mode: open ? "open" : "closed",
        payments: phase.ok + phase.failed,
        settled,
        failed: phase.failed,
        ...chainFigures(receipts, settled),
        requestsPerSecond: perSecond,
        paymentsPerSecond: perSecond,
        ...latencyFigures(phase),
        stagesP50Ms,
        cpuMsPerPayment: perPayment(cpu.process, settled),
        cpuMsPerPaymentByThread: byThread,
        ...firstFields,
        ...(Object.keys(phase.reasons).length > 0 ? { failureReasons: phase.reasons } : {}),
        ...extra,
      };
    };

    if (!open) {
      const from = (await client.getBlockNumber()) + 1n;
      // Rounds of every payer once, as the engine's workloads pay.
      const jobs: number[] = [];
      for (let round = 0; round < perPayer; round++) ctx.payers.forEach((_, i) => jobs.push(i));
      await resource.stages();
      const cpu = process.cpuUsage();
      const mainCpu = process.threadCpuUsage();
      const phase = await load.run({
        type: "closed",
        jobs,
        clients: Math.max(1, options.clients ?? 50),
      });
      const cpuMs = { process: cpuMsOf(process.cpuUsage(cpu)), main: threadCpuMs(mainCpu) };
      options.progress?.tick(phase.ok + phase.failed);
      results.push(await phaseRow(phase, from, cpuMs, {}));
    } else {
      let sustainedRate = 0;
      let breaksAt: number | null = null;
      for (const rate of rates) {
        options.progress?.label(`${label}: ${rate}/s`);
        const from = (await client.getBlockNumber()) + 1n;
        const count = Math.max(1, Math.round(rate * duration));
        await resource.stages();
        const cpu = process.cpuUsage();
        const mainCpu = process.threadCpuUsage();
        const phase = await load.run({ type: "open", rate, count, maxInFlight: 8_192 });
        const cpuMs = { process: cpuMsOf(process.cpuUsage(cpu)), main: threadCpuMs(mainCpu) };
        options.progress?.tick(count);
        const row = await phaseRow(phase, from, cpuMs, {
          rate,
          durationSeconds: duration,
          p99BoundMs: bound,
        });
        row.sustained = row.failed === 0 && row.latencyP99Ms <= bound;
        results.push(row);
        if (!row.sustained) {
          breaksAt = rate;
          break;
        }
        sustainedRate = rate;
      }
      for (const row of results) Object.assign(row, { sustainedRate, breaksAt });
    }
    if (adapter.scheme === "routed") {
      const fees = Number((await feeBalance()) - feesBefore);
      for (const row of results) row.feeReceived = fees;
    }
  } finally {
    await load.close();
    await resource.close();
    await facilitator.close();
  }
  return results;
}

/**
 * Runs paid HTTP requests through the official x402 SDK client and server, one row after the
 * other on the same chain: `exact` settled by the official `@x402/evm` facilitator (served in
 * process over HTTP, one transaction per payment), then by this project's facilitator in `exact`
 * (per batch size), `routed` (per batch size) and `clearing`. Closed loop: `clients` concurrent
 * clients pay `paymentsPerPayer` requests per payer. Open loop (`rates`): every step fires
 * `rate × durationSeconds` requests on schedule. Reports throughput, latency p50/p99,
 * transactions and gas per payment per row (per step in open loop).
 *
 * @example
 * const runs = await runFacilitatorBenchmark({ chain, token, router, payers, payee, amount: 10_000n,
 *   blockTime: 2, clients: 50, rows: ["official", "exact"] });
 * console.table(runs);
 */
export async function runFacilitatorBenchmark(
  options: FacilitatorBenchOptions,
): Promise<FacilitatorBenchResult[]> {
  const client = options.chain.client;
  const chainId = await client.getChainId();
  const x402Network = resolveX402Network(String(chainId));
  const payers = options.payers.slice(0, options.payments ?? options.payers.length);
  const keys = options.payerKeys?.slice(0, payers.length);
  if (keys)
    keys.forEach((key, i) => {
      if (!isAddressEqual(privateKeyToAccount(key).address, payers[i]!.address))
        throw new Error(`payerKeys[${i}] is not the key of payers[${i}]`);
    });
  const dir = mkdtempSync(path.join(tmpdir(), "bench-facilitator-"));
  const ctx: RunContext = {
    options,
    client,
    network: x402Network.v2 as Network,
    x402Network,
    payers,
    keys,
    dir,
    feeRecipient: options.feeRecipient ?? RELAYER.address,
    maxWaitMs:
      options.maxWaitMs ?? (options.blockTime > 0 ? Math.round(options.blockTime * 1000) : 100),
  };
  // The routed and clearing rows need src/x402's scheme classes: fail before any row runs.
  for (const row of ["routed", "clearing"] as const)
    if ((options.rows ?? FACILITATOR_ROWS).includes(row)) await loadX402Schemes(row);
  await client.setBalance({ address: RELAYER.address, value: parseEther("1000") });
  const results: FacilitatorBenchResult[] = [];
  try {
    for (const adapter of await rowAdapters(ctx)) results.push(...(await runRow(ctx, adapter)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const official = results.find((r) => r.method === "facilitator-official" && r.mode === "closed");
  if (official)
    for (const run of results)
      if (run !== official && run.mode === "closed")
        run.vsOfficial = {
          paymentsPerSecond: round(run.paymentsPerSecond / (official.paymentsPerSecond || 1), 2),
          latencyP50: round(run.latencyP50Ms / (official.latencyP50Ms || 1), 3),
          latencyP99: round(run.latencyP99Ms / (official.latencyP99Ms || 1), 3),
          transactions: round(run.transactions / (official.transactions || 1), 3),
          gasPerPayment: round(run.gasPerPayment / (official.gasPerPayment || 1), 3),
        };
  return results;
}

/** Open-loop and row settings of the `facilitator` method (the CLI's `--rate`, `--duration`, ...). */
export interface FacilitatorMethodOptions {
  rows?: readonly FacilitatorRowName[];
  rates?: readonly number[];
  durationSeconds?: number;
  p99BoundMs?: number;
  clientThreads?: number;
  serverThread?: boolean;
}

/**
 * `facilitator`: {@link runFacilitatorBenchmark} as a method of the library's benchmark, once per
 * token and workload (each payer pays `paymentsPerPair` times per row), on the benchmark's router,
 * payers, payee and block time; the clients run in a worker thread.
 */
export function createFacilitatorMethod(settings: FacilitatorMethodOptions = {}): BenchmarkMethod {
  const rows = settings.rows ?? FACILITATOR_ROWS;
  return {
    name: "facilitator",
    description:
      "paid HTTP requests through the official SDKs: the official facilitator vs ours (exact, routed, clearing)",
    batched: false,
    usesRouter: true,
    paymentsPerPayer: (batchSizes, workload) => {
      const runsOfRows = rows.reduce(
        (n, row) => n + (row === "exact" || row === "routed" ? batchSizes.length : 1),
        0,
      );
      // Open loop: the steps' requests spread over the payers; a clearing deposit covers them all.
      const perRow =
        settings.rates && settings.rates.length > 0
          ? Math.ceil(
              settings.rates.reduce(
                (n, rate) => n + rate * (settings.durationSeconds ?? DEFAULT_STEP_SECONDS),
                0,
              ) / workload.payers,
            )
          : workload.payers > 0
            ? workload.paymentsPerPair
            : 1;
      return runsOfRows * (perRow + 2);
    },
    async run(ctx) {
      if (ctx.payees.length > 1)
        throw new BenchmarkInputError("payees", "the facilitator method pays one payee");
      // The engine's payers are the bench's deterministic accounts: the worker threads rebuild them.
      const keys = ctx.payers.map((_, i) => benchPrivateKey("bench-payer", i));
      const derived = keys.every((key, i) =>
        isAddressEqual(privateKeyToAccount(key).address, ctx.payers[i]!.address),
      );
      const runs = await runFacilitatorBenchmark({
        chain: {
          client: ctx.node.client as unknown as FacilitatorBenchChain["client"],
          wallets: ctx.node.wallets,
        },
        token: ctx.token,
        router: ctx.router!,
        payers: ctx.payers,
        ...(derived ? { payerKeys: keys } : {}),
        payee: ctx.payee,
        amount: ctx.amount,
        paymentsPerPayer: ctx.paymentsPerPair,
        batchSizes: ctx.batchSizes,
        blockTime: ctx.blockTime,
        clients: ctx.clients,
        feeRecipient: ctx.feeRecipient,
        deployClearingHouse: () =>
          deployBenchContract(ctx.node, ctx.submitter, "ClearingHouse", []),
        ...settings,
        rows,
        progress: { tick: (count) => ctx.tick(count), label: (text) => ctx.label(text) },
      });
      return { runs: runs as unknown as BenchmarkRun[] };
    },
  };
}

/** The `facilitator` method with every row, closed loop. */
export const facilitatorMethod: BenchmarkMethod = createFacilitatorMethod();
