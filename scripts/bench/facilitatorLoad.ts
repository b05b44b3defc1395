/**
 * The two HTTP sides of a facilitator benchmark row: the resource server (the official
 * `@x402/express` middleware in front of one paid route) and the paying clients (the official
 * `@x402/fetch` client, one per payer), driven closed loop (N clients, each pays again when its
 * answer arrives) or open loop (requests fired on a schedule, whatever answers). Both run either in
 * this thread or in a worker thread of their own (`facilitatorWorker.ts`), so the clients' signing,
 * the server's middleware and the facilitator with the chain do not share one JavaScript thread.
 */
import { createServer, type Server } from "node:http";
import { Worker } from "node:worker_threads";

import { type FacilitatorClient, HTTPFacilitatorClient } from "@x402/core/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import express from "express";

import { PooledFacilitatorClient } from "./facilitatorClient.js";
import { createPooledFetch, type PooledFetch } from "./pooledFetch.js";
import {
  createClientScheme,
  createServerScheme,
  type PayerInput,
  type PayerKey,
  type RowSchemeSpec,
} from "./facilitatorSchemes.js";

/** The paid route of every row's resource server. */
export const RESOURCE_PATH = "/resource";

/** What one phase of paid requests did (merged over the load's threads). */
export interface PhaseResult {
  /** Every request's latency, answered or failed, ms (open loop: from its scheduled send time). */
  latencies: number[];
  ok: number;
  failed: number;
  /** Why requests failed, with counts. */
  reasons: Record<string, number>;
  /** Distinct non-empty settlement transactions named by the payment responses. */
  transactions: string[];
  /** First request sent to last answer received, ms. */
  elapsedMs: number;
  /** Per paid request, ms: the unpaid request answered 402, the client's signing between, the paid retry. */
  stages: { challenge: number[]; sign: number[]; paid: number[] };
  /** CPU time of the clients' thread(s) over the phase, ms. */
  cpuMs: number;
}

/** The resource server's calls to its facilitator, ms each. */
export interface ServerStages {
  verify: number[];
  settle: number[];
  /** CPU time of the resource server's thread since the previous report, ms. */
  cpuMs: number;
}

/** CPU time of the calling thread (user and system) since `since`, ms. */
export function threadCpuMs(since?: NodeJS.CpuUsage): number {
  const usage = process.threadCpuUsage(since);
  return (usage.user + usage.system) / 1000;
}

/** Closed loop: `clients` loops pay for `jobs` (payer indices, in order) one after another. */
export interface ClosedPhase {
  type: "closed";
  jobs: number[];
  clients: number;
}

/** Open loop: `count` requests at `rate` per second, payers in turn; at most `maxInFlight` at once. */
export interface OpenPhase {
  type: "open";
  rate: number;
  count: number;
  maxInFlight: number;
}

export type Phase = ClosedPhase | OpenPhase;

/** Longest one paid request may take before it counts as failed. */
export const REQUEST_TIMEOUT_MS = 60_000;

function countReason(reasons: Record<string, number>, reason: string): void {
  reasons[reason] = (reasons[reason] ?? 0) + 1;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return `http://127.0.0.1:${port}`;
}

/** Closes `server`, cutting idle keep-alive connections. */
export async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A resource server with the official v2 middleware in front of `GET /resource`, in this thread. */
export async function startResourceServer(
  spec: RowSchemeSpec,
  facilitatorUrl: string,
): Promise<{ url: string; close(): Promise<void>; stages(): ServerStages }> {
  const stages = { verify: [] as number[], settle: [] as number[] };
  let cpuMark = process.threadCpuUsage();
  const facilitator = spec.pooledFacilitatorClient
    ? new PooledFacilitatorClient(facilitatorUrl)
    : new HTTPFacilitatorClient({ url: facilitatorUrl });
  // Each /verify and /settle call, timed.
  for (const stage of ["verify", "settle"] as const) {
    const call = facilitator[stage].bind(facilitator) as FacilitatorClient["verify"];
    (facilitator as FacilitatorClient)[stage] = (async (payload, requirements) => {
      const t0 = performance.now();
      try {
        return await call(payload, requirements);
      } finally {
        stages[stage].push(performance.now() - t0);
      }
    }) as FacilitatorClient["verify"] & FacilitatorClient["settle"];
  }
  const app = express();
  // The paid answer is a fresh JSON body each time: no ETag hashed over it, no X-Powered-By.
  app.disable("etag");
  app.disable("x-powered-by");
  const resourceServer = new x402ResourceServer(facilitator).register(
    spec.network,
    await createServerScheme(spec),
  );
  app.use(
    paymentMiddleware(
      {
        [`GET ${RESOURCE_PATH}`]: {
          accepts: {
            scheme: spec.scheme,
            network: spec.network,
            payTo: spec.payTo,
            // The chain's clock may run ahead of the wall clock: a long validity window.
            maxTimeoutSeconds: 3_600,
            price: { amount: spec.amount, asset: spec.asset, extra: { ...spec.domain } },
          },
          description: "benchmark resource",
        },
      },
      resourceServer,
    ),
  );
  app.get(RESOURCE_PATH, (_request, response) => {
    response.json({ ok: true });
  });
  const server = createServer(app);
  // Under an open-loop backlog, idle keep-alive connections must not be cut while the clients
  // reuse them (undici then fails the request with UND_ERR_SOCKET); requests are timed by the clients.
  server.keepAliveTimeout = REQUEST_TIMEOUT_MS;
  server.headersTimeout = REQUEST_TIMEOUT_MS + 5_000;
  server.requestTimeout = 0;
  const url = await listen(server);
  return {
    url,
    close: async () => {
      await closeServer(server);
      if (facilitator instanceof PooledFacilitatorClient) await facilitator.close();
    },
    stages: () => {
      const cpuMs = threadCpuMs(cpuMark);
      cpuMark = process.threadCpuUsage();
      return { verify: stages.verify.splice(0), settle: stages.settle.splice(0), cpuMs };
    },
  };
}

type Pay = (input: string, init?: RequestInit) => Promise<Response>;
/** The start and end of each HTTP call of one paid request. */
type Marks = [number, number][];

/**
 * The paying clients of one row in this thread: one official x402 client per payer, kept across
 * phases, over one pooled `fetch` (pooledFetch.ts).
 */
export class PayingClients {
  private cursor = 0;
  private readonly http: PooledFetch = createPooledFetch();

  private constructor(
    private readonly clients: x402Client[],
    private readonly url: string,
  ) {}

  /** Closes the clients' connections. */
  close(): Promise<void> {
    return this.http.close();
  }

  static async create(spec: RowSchemeSpec, payers: readonly PayerInput[], url: string) {
    const pays = await Promise.all(
      payers.map(async (payer) => {
        const client = new x402Client().register(
          spec.network,
          await createClientScheme(spec, payer),
        );
        // The client's spend controls accept only default assets (USDC) unless told otherwise.
        if (!spec.defaultAsset) client.setSpendControls({ allowedAssets: true });
        return client;
      }),
    );
    return new PayingClients(pays, `${url}${RESOURCE_PATH}`);
  }

  /** The payer's x402 client over a fetch that marks each HTTP call of this request. */
  private pay(index: number, marks: Marks): Pay {
    const timed = async (input: string | URL | Request, init?: RequestInit) => {
      const t0 = performance.now();
      const response = await this.http.fetch(input, init);
      marks.push([t0, performance.now()]);
      return response;
    };
    return wrapFetchWithPayment(timed, this.clients[index]!) as Pay;
  }

  /** One paid request by payer `index`; resolves with its outcome, never rejects. */
  private async request(
    index: number,
    marks: Marks = [],
  ): Promise<{ ok: true; transaction: string } | { ok: false; reason: string }> {
    try {
      const response = await this.pay(index, marks)(this.url, {
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      await response.arrayBuffer();
      if (response.status !== 200) return { ok: false, reason: `http_${response.status}` };
      const header = response.headers.get("PAYMENT-RESPONSE");
      if (!header) return { ok: false, reason: "no_payment_response" };
      const settlement = decodePaymentResponseHeader(header) as {
        success: boolean;
        transaction?: string;
        errorReason?: string;
      };
      return settlement.success
        ? { ok: true, transaction: settlement.transaction ?? "" }
        : { ok: false, reason: settlement.errorReason ?? "settle_failed" };
    } catch (error) {
      const failure = error as Error & { code?: string; cause?: { code?: string } };
      if (failure?.name === "TimeoutError") return { ok: false, reason: "timeout" };
      // undici's network errors carry a code (ECONNRESET, UND_ERR_SOCKET, ...), fetch's their cause's.
      const code = failure?.code ?? failure?.cause?.code;
      return { ok: false, reason: code ? `client_error_${code}` : "client_error" };
    }
  }

  /** Runs one phase and reports it. */
  async run(phase: Phase): Promise<PhaseResult> {
    const latencies: number[] = [];
    const reasons: Record<string, number> = {};
    const transactions = new Set<string>();
    let ok = 0;
    let failed = 0;
    const stages: PhaseResult["stages"] = { challenge: [], sign: [], paid: [] };
    const record = (
      outcome: Awaited<ReturnType<PayingClients["request"]>>,
      startedAt: number,
      marks: Marks,
    ) => {
      latencies.push(performance.now() - startedAt);
      if (outcome.ok) {
        ok += 1;
        if (marks.length === 2) {
          stages.challenge.push(marks[0]![1] - marks[0]![0]);
          stages.sign.push(marks[1]![0] - marks[0]![1]);
          stages.paid.push(marks[1]![1] - marks[1]![0]);
        }
        if (outcome.transaction) transactions.add(outcome.transaction);
      } else {
        failed += 1;
        countReason(reasons, outcome.reason);
      }
    };
    const started = performance.now();
    const cpuMark = process.threadCpuUsage();
    if (phase.type === "closed") {
      let next = 0;
      const loop = async () => {
        for (;;) {
          const job = next;
          next += 1;
          if (job >= phase.jobs.length) return;
          const t0 = performance.now();
          const marks: Marks = [];
          record(await this.request(phase.jobs[job]!, marks), t0, marks);
        }
      };
      await Promise.all(Array.from({ length: Math.max(1, phase.clients) }, loop));
    } else {
      const inFlight = new Set<Promise<void>>();
      const interval = 1000 / phase.rate;
      let fired = 0;
      await new Promise<void>((resolve) => {
        const tick = () => {
          const due = Math.min(
            phase.count,
            Math.floor((performance.now() - started) / interval) + 1,
          );
          while (fired < due) {
            const scheduled = started + fired * interval;
            fired += 1;
            if (inFlight.size >= phase.maxInFlight) {
              failed += 1;
              countReason(reasons, "overload");
              continue;
            }
            const index = this.cursor;
            this.cursor = (this.cursor + 1) % this.clients.length;
            const marks: Marks = [];
            const done = this.request(index, marks).then((outcome) => {
              record(outcome, scheduled, marks);
              inFlight.delete(done);
            });
            inFlight.add(done);
          }
          if (fired >= phase.count) resolve();
          else setTimeout(tick, Math.max(0, Math.min(5, interval - 0.5)));
        };
        tick();
      });
      await Promise.all(inFlight);
    }
    return {
      latencies,
      ok,
      failed,
      reasons,
      transactions: [...transactions],
      elapsedMs: performance.now() - started,
      stages,
      cpuMs: threadCpuMs(cpuMark),
    };
  }
}

/** Merges the phase results of several threads that ran side by side. */
export function mergePhases(parts: readonly PhaseResult[]): PhaseResult {
  const reasons: Record<string, number> = {};
  for (const part of parts)
    for (const [reason, n] of Object.entries(part.reasons))
      reasons[reason] = (reasons[reason] ?? 0) + n;
  return {
    latencies: parts.flatMap((p) => p.latencies),
    ok: parts.reduce((n, p) => n + p.ok, 0),
    failed: parts.reduce((n, p) => n + p.failed, 0),
    reasons,
    transactions: [...new Set(parts.flatMap((p) => p.transactions))],
    elapsedMs: Math.max(0, ...parts.map((p) => p.elapsedMs)),
    stages: {
      challenge: parts.flatMap((p) => p.stages.challenge),
      sign: parts.flatMap((p) => p.stages.sign),
      paid: parts.flatMap((p) => p.stages.paid),
    },
    cpuMs: parts.reduce((n, p) => n + p.cpuMs, 0),
  };
}

/** Data a worker thread of `facilitatorWorker.ts` starts from. */
export type WorkerData =
  | { role: "server"; spec: RowSchemeSpec; facilitatorUrl: string }
  | { role: "clients"; spec: RowSchemeSpec; keys: PayerKey[]; url: string };

/** A request to a worker and its answer. */
export type WorkerRequest = { id: number; phase: Phase | null };
export type WorkerAnswer =
  | { id: number; ready: true; url?: string }
  | { id: number; result: PhaseResult }
  | { id: number; stages: ServerStages }
  | { id: number; error: string };

/**
 * A worker thread running `facilitatorWorker.ts`, with the TypeScript loader the main thread has
 * (tsx under `npm run bench`; added when the host registered it another way, as Hardhat's mocha does).
 */
class ThreadHost {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly waiting = new Map<number, (answer: WorkerAnswer) => void>();
  private failure: Error | undefined;

  constructor(data: WorkerData) {
    const hasTsx = process.execArgv.some((arg) => arg.includes("tsx"));
    this.worker = new Worker(new URL("./facilitatorWorker.ts", import.meta.url), {
      workerData: data,
      execArgv: hasTsx ? process.execArgv : [...process.execArgv, "--import", "tsx"],
    });
    this.worker.on("message", (answer: WorkerAnswer) => {
      const resolve = this.waiting.get(answer.id);
      this.waiting.delete(answer.id);
      resolve?.(answer);
    });
    const fail = (error: Error) => {
      this.failure = error;
      for (const [id, resolve] of this.waiting) resolve({ id, error: error.message });
      this.waiting.clear();
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => fail(new Error(`worker exited with ${code}`)));
  }

  /** Waits for the answer with id 0 (the worker is ready) or to `phase`. */
  async ask(phase: Phase | null, id = this.nextId++): Promise<WorkerAnswer> {
    if (this.failure) throw this.failure;
    const answer = new Promise<WorkerAnswer>((resolve) => this.waiting.set(id, resolve));
    if (id !== 0) this.worker.postMessage({ id, phase } satisfies WorkerRequest);
    const got = await answer;
    if ("error" in got) throw new Error(`facilitator benchmark worker: ${got.error}`);
    return got;
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners("exit");
    await this.worker.terminate();
  }
}

/** A row's resource server, in a worker thread or in this one. */
export async function hostResourceServer(
  spec: RowSchemeSpec,
  facilitatorUrl: string,
  inWorker: boolean,
): Promise<{ url: string; close(): Promise<void>; stages(): Promise<ServerStages> }> {
  if (!inWorker) {
    const server = await startResourceServer(spec, facilitatorUrl);
    return { ...server, stages: async () => server.stages() };
  }
  const host = new ThreadHost({ role: "server", spec, facilitatorUrl });
  const ready = await host.ask(null, 0);
  return {
    url: (ready as { url: string }).url,
    close: () => host.terminate(),
    // The server thread answers a request without a phase with its stages so far.
    stages: async () => ((await host.ask(null)) as { stages: ServerStages }).stages,
  };
}

/** A row's paying clients, split over `threads` worker threads (0: in this thread). */
export interface LoadGenerator {
  /** Runs `phase` (jobs and rate are split over the threads) and merges what they report. */
  run(phase: Phase): Promise<PhaseResult>;
  close(): Promise<void>;
}

/**
 * The paying clients of `payers`: in this thread with `threads` 0, else split over worker
 * threads, which rebuild the payers from their private keys (accounts cannot cross threads).
 */
export async function createLoadGenerator(
  spec: RowSchemeSpec,
  payers: readonly PayerInput[],
  url: string,
  threads: number,
): Promise<LoadGenerator> {
  if (threads <= 0) {
    const clients = await PayingClients.create(spec, payers, url);
    return { run: (phase) => clients.run(phase), close: () => clients.close() };
  }
  const keys = payers.map((payer) => {
    if (typeof payer !== "string") throw new Error("worker threads need the payers' private keys");
    return payer;
  });
  // Payer i lives in thread i % threads; job lists keep their order within each thread.
  const count = Math.min(threads, keys.length);
  const hosts = Array.from(
    { length: count },
    (_, t) =>
      new ThreadHost({
        role: "clients",
        spec,
        keys: keys.filter((_, i) => i % count === t),
        url,
      }),
  );
  await Promise.all(hosts.map((host) => host.ask(null, 0)));
  return {
    async run(phase) {
      const parts = await Promise.all(
        hosts.map(async (host, t) => {
          const local: Phase =
            phase.type === "closed"
              ? {
                  type: "closed",
                  jobs: phase.jobs.filter((i) => i % count === t).map((i) => Math.floor(i / count)),
                  clients: Math.max(1, Math.round(phase.clients / count)),
                }
              : {
                  type: "open",
                  rate: phase.rate / count,
                  count: Math.floor(phase.count / count) + (t < phase.count % count ? 1 : 0),
                  maxInFlight: Math.max(1, Math.floor(phase.maxInFlight / count)),
                };
          return ((await host.ask(local)) as { result: PhaseResult }).result;
        }),
      );
      return mergePhases(parts);
    },
    close: async () => {
      await Promise.all(hosts.map((host) => host.terminate()));
    },
  };
}
