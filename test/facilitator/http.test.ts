import { spawn } from "node:child_process";
import { createServer as createHttpServer, type Server } from "node:http";
import { connect, type Socket } from "node:net";

import { expect } from "chai";
import type { Address } from "viem";

import type { FacilitatorGauges } from "../../src/facilitator/metrics.js";
import { createPrometheusMetrics } from "../../src/facilitator/prometheus.js";
import { parsePaymentRequest } from "../../src/facilitator/schemas.js";
import {
  createFacilitatorServer,
  serverReasons,
  type FacilitatorServer,
  type FacilitatorServerOptions,
  type FacilitatorService,
} from "../../src/facilitator/server.js";
import { freePort, startChain, type ChainProcess } from "../helpers/chainProcess.js";
import { projectRoot, RELAYER_KEY } from "./harness.js";

/** A promise resolved from outside. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A facilitator whose answers the test controls: every verify/settle call is recorded and held
 * until the test releases it (or answered at once with `answer` when given).
 */
function stubFacilitator(answer?: { status: number; body: unknown }) {
  const calls: { path: string; body: unknown; release: (a?: unknown) => void }[] = [];
  const events: string[] = [];
  let gauges: FacilitatorGauges | undefined;
  const handle = (path: string) => async (body: unknown) => {
    events.push(`${path} called`);
    if (answer) return answer;
    const held = deferred<unknown>();
    calls.push({ path, body, release: (a) => held.resolve(a) });
    const released = await held.promise;
    events.push(`${path} answered`);
    return { status: 200, body: released ?? { ok: true, path } };
  };
  const facilitator: FacilitatorService & { closed: boolean } = {
    closed: false,
    verify: handle("verify"),
    settle: handle("settle"),
    supported: () => ({ kinds: [] }),
    health: () => ({ status: "ok" }),
    async close() {
      events.push("facilitator closed");
      this.closed = true;
    },
    gauges: () => gauges!,
  };
  return {
    facilitator,
    calls,
    events,
    setGauges: (value: FacilitatorGauges) => (gauges = value),
  };
}

interface Answer {
  status: number;
  headers: Headers;
  json: Record<string, unknown>;
}

async function post(
  url: string,
  body: string,
  contentType = "application/json",
  signal?: AbortSignal,
): Promise<Answer> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
    signal,
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, headers: response.headers, json };
}

/** A raw TCP connection that records what the server sends and when it closes. */
function rawConnection(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  const state = { data: "", closed: false, error: undefined as Error | undefined };
  socket.on("data", (chunk: Buffer) => (state.data += chunk.toString()));
  socket.on("error", (error) => (state.error = error));
  socket.on("close", () => (state.closed = true));
  const connected = new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  return { socket, state, connected };
}

const PAYMENT_BODY = JSON.stringify({
  x402Version: 2,
  paymentPayload: {},
  paymentRequirements: { network: "eip155:8453" },
});

describe("facilitator HTTP server (Fastify): limits, timeouts, shutdown, metrics", function () {
  const servers: FacilitatorServer[] = [];
  async function serve(
    facilitator: FacilitatorService,
    options: FacilitatorServerOptions = {},
  ): Promise<{ server: FacilitatorServer; url: string; port: number }> {
    const server = createFacilitatorServer(facilitator, { shutdownGraceMs: 5_000, ...options });
    servers.push(server);
    const { url, port } = await server.listen();
    return { server, url, port };
  }
  afterEach(async function () {
    for (const server of servers.splice(0)) {
      server.app.server.closeAllConnections();
      await server.close();
    }
  });

  it("cuts off a client that sends its headers slowly (slowloris)", async function () {
    const stub = stubFacilitator();
    const { port } = await serve(stub.facilitator, {
      headersTimeoutMs: 500,
      requestTimeoutMs: 1_000,
    });
    const slow = rawConnection(port);
    await slow.connected;
    slow.socket.write("POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    // One header byte every 100 ms: the connection is never idle, the headers never end.
    const drip = setInterval(() => {
      if (!slow.state.closed) slow.socket.write("X");
    }, 100);
    try {
      await until(() => slow.state.closed, "the server to close the slow connection", 20_000);
    } finally {
      clearInterval(drip);
    }
    expect(slow.state.data).to.match(/^HTTP\/1\.1 408/);
    expect(stub.calls).to.have.length(0);
  });

  it("cuts off a client that sends its body slowly (request timeout)", async function () {
    const stub = stubFacilitator();
    const { port } = await serve(stub.facilitator, {
      headersTimeoutMs: 300,
      requestTimeoutMs: 800,
    });
    const slow = rawConnection(port);
    await slow.connected;
    slow.socket.write(
      "POST /settle HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{",
    );
    const drip = setInterval(() => {
      if (!slow.state.closed) slow.socket.write(" ");
    }, 100);
    try {
      await until(() => slow.state.closed, "the server to close the slow body", 20_000);
    } finally {
      clearInterval(drip);
    }
    expect(slow.state.data).to.match(/^HTTP\/1\.1 408/);
    expect(stub.calls).to.have.length(0);
  });

  it("answers 503 facilitator_busy with Retry-After beyond the request cap, and serves the queue in order", async function () {
    const stub = stubFacilitator();
    const { url, server } = await serve(stub.facilitator, {
      maxConcurrentRequests: 2,
      maxQueuedRequests: 1,
      queueTimeoutMs: 60_000,
      retryAfterSeconds: 3,
    });
    const first = post(`${url}/settle`, PAYMENT_BODY);
    const second = post(`${url}/verify`, PAYMENT_BODY);
    await until(() => stub.calls.length === 2, "two requests in the facilitator");
    const queued = post(`${url}/verify`, PAYMENT_BODY);
    await sleep(100);
    // Two handled, one waiting: the next is refused at once.
    const refused = await post(`${url}/settle`, PAYMENT_BODY);
    expect(refused.status).to.equal(503);
    expect(refused.headers.get("retry-after")).to.equal("3");
    expect(refused.json).to.include({ success: false, errorReason: serverReasons.busy });
    expect(refused.json.errorMessage).to.contain("2 requests in progress and 1 waiting");
    const refusedVerify = await post(`${url}/verify`, PAYMENT_BODY);
    expect(refusedVerify.status).to.equal(503);
    expect(refusedVerify.json).to.include({ isValid: false, invalidReason: serverReasons.busy });
    expect(stub.calls).to.have.length(2);

    // A slot frees: the waiting request takes it.
    stub.calls[0]!.release();
    expect((await first).status).to.equal(200);
    await until(() => stub.calls.length === 3, "the queued request to reach the facilitator");
    stub.calls[1]!.release();
    stub.calls[2]!.release();
    expect((await second).status).to.equal(200);
    expect((await queued).status).to.equal(200);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/x402_facilitator_http_refused_total\{reason="queue_full"\} 2/);
    expect(server.metrics).to.exist;
  });

  it("answers 503 when a request waited its queueTimeoutMs for a slot", async function () {
    const stub = stubFacilitator();
    const { url } = await serve(stub.facilitator, {
      maxConcurrentRequests: 1,
      maxQueuedRequests: 10,
      queueTimeoutMs: 200,
    });
    const held = post(`${url}/verify`, PAYMENT_BODY);
    await until(() => stub.calls.length === 1, "one request in the facilitator");
    const late = await post(`${url}/verify`, PAYMENT_BODY);
    expect(late.status).to.equal(503);
    expect(late.headers.get("retry-after")).to.equal("1");
    expect(late.json.invalidReason).to.equal(serverReasons.busy);
    expect(late.json.invalidMessage).to.contain("within 200 ms");
    stub.calls[0]!.release();
    expect((await held).status).to.equal(200);
    expect(stub.calls).to.have.length(1);
  });

  it("refuses connections over the connection cap", async function () {
    const stub = stubFacilitator();
    const { port, url } = await serve(stub.facilitator, { maxConnections: 2 });
    const open = [rawConnection(port), rawConnection(port)];
    await Promise.all(open.map((c) => c.connected));
    // Both are established (a request each, held by the facilitator).
    for (const c of open) {
      c.socket.write(
        `POST /verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${PAYMENT_BODY.length}\r\n\r\n${PAYMENT_BODY}`,
      );
    }
    await until(() => stub.calls.length === 2, "two held requests");
    const third = rawConnection(port);
    await until(() => third.state.closed, "the third connection to be closed");
    expect(third.state.data).to.equal("");
    expect(stub.calls).to.have.length(2);
    for (const call of stub.calls) call.release();
    await until(() => open.every((c) => c.state.data.includes("200 OK")), "the held answers");
    for (const c of open) c.socket.destroy();
    await until(() => open.every((c) => c.state.closed), "the two connections to close");
    await sleep(100);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).to.match(/x402_facilitator_http_refused_total\{reason="connection_limit"\} 1/);
  });

  it("shuts down gracefully: stops accepting, answers in-flight requests, then closes the facilitator", async function () {
    const stub = stubFacilitator();
    const { url, port, server } = await serve(stub.facilitator);
    const inFlight = post(`${url}/settle`, PAYMENT_BODY);
    // A keep-alive connection that served a request and is idle when the shutdown starts.
    const idle = rawConnection(port);
    await idle.connected;
    idle.socket.write("GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n");
    await until(() => idle.state.data.includes("200 OK"), "the idle connection's first answer");
    await until(() => stub.calls.length === 1, "the settle in the facilitator");

    const closed = server.close();
    let closeDone = false;
    void closed.then(() => (closeDone = true));
    await sleep(200);
    // No new connections...
    const error = await fetch(`${url}/health`).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error, "a connection accepted while shutting down").to.be.instanceOf(Error);
    await until(() => idle.state.closed, "the idle connection to be closed");
    // ...but the in-flight /settle still answers, and only then is the facilitator closed.
    expect(closeDone).to.equal(false);
    expect(stub.facilitator.closed).to.equal(false);
    stub.calls[0]!.release({ success: true, transaction: "0xabc" });
    const answer = await inFlight;
    expect(answer.status).to.equal(200);
    expect(answer.json).to.deep.equal({ success: true, transaction: "0xabc" });
    await closed;
    expect(stub.events).to.deep.equal(["settle called", "settle answered", "facilitator closed"]);
  });

  it("cuts in-flight requests after shutdownGraceMs and still closes the facilitator", async function () {
    const stub = stubFacilitator();
    const { url, server } = await serve(stub.facilitator, { shutdownGraceMs: 300 });
    const inFlight = post(`${url}/settle`, PAYMENT_BODY).then(
      () => "answered",
      () => "cut",
    );
    await until(() => stub.calls.length === 1, "the settle in the facilitator");
    await server.close();
    expect(await inFlight).to.equal("cut");
    expect(stub.facilitator.closed).to.equal(true);
    stub.calls[0]!.release();
  });

  it("answers bodies that are not payment requests with 4xx and a reason, and passes the facilitator's status through", async function () {
    const stub = stubFacilitator();
    const { url } = await serve(stub.facilitator, { maxBodyBytes: 1_024 });
    const large = await post(`${url}/verify`, JSON.stringify({ pad: "x".repeat(2_000) }));
    expect(large.status).to.equal(413);
    expect(large.json).to.include({ isValid: false, invalidReason: "invalid_payload" });
    const text = await post(`${url}/settle`, PAYMENT_BODY, "text/plain");
    expect(text.status).to.equal(415);
    expect(text.json).to.include({ success: false, errorReason: "invalid_payload" });
    expect(text.json.errorMessage).to.contain("application/json");
    const broken = await post(`${url}/settle`, "{not json");
    expect(broken.status).to.equal(400);
    expect(broken.json).to.include({
      errorReason: "invalid_payload",
      errorMessage: "body is not JSON",
    });
    const empty = await post(`${url}/verify`, "");
    expect(empty.status).to.equal(400);
    expect(empty.json.invalidReason).to.equal("invalid_payload");
    const poisoned = await post(`${url}/verify`, '{"__proto__":{"x":1}}');
    expect(poisoned.status).to.equal(400);
    expect(poisoned.json.invalidReason).to.equal("invalid_payload");
    const get = await fetch(`${url}/settle`);
    expect(get.status).to.equal(405);
    expect(((await get.json()) as Record<string, unknown>).errorReason).to.equal("invalid_payload");
    expect((await fetch(`${url}/nowhere`)).status).to.equal(404);
    expect((await fetch(`${url}/health`, { method: "POST" })).status).to.equal(405);
    expect(stub.calls).to.have.length(0);

    // The facilitator's own statuses (429 over a pending limit, 503 closing) keep their status.
    const limited = stubFacilitator({ status: 429, body: { isValid: false, invalidReason: "x" } });
    const { url: limitedUrl } = await serve(limited.facilitator, { retryAfterSeconds: 7 });
    const answer = await post(`${limitedUrl}/verify`, PAYMENT_BODY);
    expect(answer.status).to.equal(429);
    expect(answer.headers.get("retry-after")).to.equal("7");
    expect(answer.json).to.deep.equal({ isValid: false, invalidReason: "x" });
  });

  it("serves Prometheus metrics: facilitator counters, gauges read at scrape, the relayer balance", async function () {
    const stub = stubFacilitator();
    stub.setGauges({ queued: 7, submitted: 3, batchesInFlight: 2, relayerNonce: 41 });
    let balanceReads = 0;
    let balanceFails = false;
    const relayer: Address = "0x00000000000000000000000000000000000000aa";
    const token: Address = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
    const metrics = createPrometheusMetrics({
      balance: {
        client: {
          getBalance: async ({ address }: { address: Address }) => {
            balanceReads++;
            if (balanceFails) throw new Error("node down");
            expect(address).to.equal(relayer);
            return 1_500_000_000_000_000_000n;
          },
        } as never,
        address: relayer,
      },
      balanceCacheMs: 60_000,
    });
    const { url } = await serve(stub.facilitator, { metrics });
    metrics.verifyAnswered(true, 12);
    metrics.verifyAnswered(false, 3);
    metrics.settleAnswered("success", 2_100);
    metrics.settleAnswered("pending", 60_000);
    metrics.batchSent(token, 40);
    metrics.batchMined(token, 40, 38, 1_900_000n);
    metrics.wastedGas(95_000n);

    const response = await fetch(`${url}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.contain("text/plain");
    const text = await response.text();
    const usdc = token.toLowerCase();
    for (const line of [
      'x402_facilitator_verify_answers_total{valid="true"} 1',
      'x402_facilitator_verify_answers_total{valid="false"} 1',
      'x402_facilitator_settle_answers_total{outcome="success"} 1',
      'x402_facilitator_settle_answers_total{outcome="pending"} 1',
      'x402_facilitator_settle_duration_seconds_bucket{le="3",outcome="success"} 1',
      'x402_facilitator_settle_duration_seconds_bucket{le="2",outcome="success"} 0',
      `x402_facilitator_batches_sent_total{token="${usdc}"} 1`,
      `x402_facilitator_batch_size_bucket{le="50",token="${usdc}"} 1`,
      `x402_facilitator_batch_size_bucket{le="20",token="${usdc}"} 0`,
      `x402_facilitator_batches_mined_total{token="${usdc}"} 1`,
      `x402_facilitator_batch_payments_total{token="${usdc}",settled="true"} 38`,
      `x402_facilitator_batch_payments_total{token="${usdc}",settled="false"} 2`,
      `x402_facilitator_gas_used_total{token="${usdc}"} 1900000`,
      "x402_facilitator_wasted_gas_total 95000",
      "x402_facilitator_queued_payments 7",
      "x402_facilitator_submitted_payments 3",
      "x402_facilitator_batches_in_flight 2",
      "x402_facilitator_relayer_nonce 41",
      "x402_facilitator_relayer_balance_wei 1500000000000000000",
    ]) {
      expect(text.split("\n"), line).to.include(line);
    }

    // Gauges are read at each scrape; the balance is cached.
    stub.setGauges({ queued: 0, submitted: 1, batchesInFlight: 1, relayerNonce: undefined });
    const again = (await (await fetch(`${url}/metrics`)).text()).split("\n");
    expect(again).to.include("x402_facilitator_queued_payments 0");
    expect(again).to.include("x402_facilitator_relayer_nonce Nan");
    expect(balanceReads).to.equal(1);
    expect(again).to.include(
      'x402_facilitator_http_requests_total{route="/metrics",status="200"} 1',
    );
  });

  it("never fails a scrape for the relayer balance: a failing or hanging read keeps the last value", async function () {
    let mode: "ok" | "fail" | "hang" = "fail";
    const metrics = createPrometheusMetrics({
      balance: {
        client: {
          getBalance: () =>
            mode === "ok"
              ? Promise.resolve(42n)
              : mode === "fail"
                ? Promise.reject(new Error("connection refused"))
                : new Promise<bigint>(() => {}),
        } as never,
        address: "0x00000000000000000000000000000000000000aa",
      },
      balanceCacheMs: 0,
      balanceTimeoutMs: 200,
    });
    const { url } = await serve(stubFacilitator().facilitator, { metrics });
    const scrape = async () => {
      const response = await fetch(`${url}/metrics`);
      expect(response.status).to.equal(200);
      return (await response.text()).split("\n");
    };
    let lines = await scrape();
    expect(lines).to.include("x402_facilitator_relayer_balance_wei Nan");
    expect(lines).to.include("x402_facilitator_relayer_balance_read_errors_total 1");
    mode = "ok";
    expect(await scrape()).to.include("x402_facilitator_relayer_balance_wei 42");
    mode = "hang";
    lines = await scrape();
    expect(lines).to.include("x402_facilitator_relayer_balance_wei 42");
    expect(lines).to.include("x402_facilitator_relayer_balance_read_errors_total 2");
  });
});

describe("facilitator request bodies: which part is to blame, and every problem listed", function () {
  const requirements = {
    scheme: "exact",
    network: "eip155:8453",
    amount: "1000",
    asset: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    payTo: "0x000000000000000000000000000000000000dEaD",
    maxTimeoutSeconds: 300,
    extra: { name: "USD Coin", version: "2" },
  };

  it("answers a v2 body missing only paymentPayload fields with invalid_payload", function () {
    const parsed = parsePaymentRequest({
      x402Version: 2,
      paymentPayload: { x402Version: 2 },
      paymentRequirements: requirements,
    });
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    expect(parsed.rejection.reason).to.equal("invalid_payload");
    expect(parsed.rejection.message).to.contain("paymentPayload.accepted");
    expect(parsed.rejection.message).to.contain("paymentPayload.payload");
  });

  it("blames the requirements only when they alone are wrong", function () {
    const signature = `0x${"11".repeat(65)}`;
    const authorization = {
      from: "0x00000000000000000000000000000000000000aa",
      to: requirements.payTo,
      value: "1000",
      validAfter: "0",
      validBefore: "99999999999",
      nonce: `0x${"22".repeat(32)}`,
    };
    const parsed = parsePaymentRequest({
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        accepted: requirements,
        payload: { signature, authorization },
      },
      paymentRequirements: { ...requirements, amount: "-1", payTo: "nope" },
    });
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    expect(parsed.rejection.reason).to.equal("invalid_payment_requirements");
  });

  it("lists every problem, not only the first three", function () {
    const parsed = parsePaymentRequest({
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        accepted: requirements,
        payload: {
          signature: "0x",
          authorization: { from: 1, to: 2, value: 3, validAfter: 4, validBefore: 5, nonce: 6 },
        },
      },
      paymentRequirements: requirements,
    });
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    for (const field of [
      "signature",
      "from",
      "to",
      "value",
      "validAfter",
      "validBefore",
      "nonce",
    ]) {
      expect(parsed.rejection.message).to.contain(`paymentPayload.payload.`);
      expect(parsed.rejection.message).to.match(new RegExp(`\\.${field}: `));
    }
  });
});

/** Runs `npm run facilitator` (tsx) with `env`, to its exit or until `until` is seen. */
function runFacilitator(env: Record<string, string>, args: string[] = []) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/facilitator.ts", ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => resolve(code)),
  );
  return { child, out, exited };
}

/** A JSON-RPC endpoint that answers every eth_chainId with `chainId`. */
async function fakeNode(chainId: number): Promise<{ server: Server; url: string }> {
  const server = createHttpServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const parsed = JSON.parse(body) as { id: number; method: string } | { id: number }[];
      const answer = (call: { id: number }) => ({
        jsonrpc: "2.0",
        id: call.id,
        result: `0x${chainId.toString(16)}`,
      });
      response.setHeader("content-type", "application/json");
      response.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(answer) : answer(parsed)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

describe("npm run facilitator: start-up edges, logs, metrics and shutdown", function () {
  const base = { EVM_PRIVATE_KEY: RELAYER_KEY, FACILITATOR_DB: ":memory:" };

  it("documents every setting in --help", async function () {
    const run = runFacilitator({}, ["--help"]);
    expect(await run.exited).to.equal(0);
    for (const name of [
      "PORT",
      "EVM_PRIVATE_KEY",
      "EVM_NETWORK",
      "RPC_URL",
      "EVM_RPC_URL",
      "POLLING_INTERVAL_MS",
      "BLOCK_TIME_MS",
      "FLUSH_MARGIN_MS",
      "SETTLE_TIMEOUT_MS",
      "HEADERS_TIMEOUT_MS",
      "REQUEST_TIMEOUT_MS",
      "KEEP_ALIVE_TIMEOUT_MS",
      "MAX_CONNECTIONS",
      "MAX_CONCURRENT_REQUESTS",
      "MAX_QUEUED_REQUESTS",
      "SHUTDOWN_GRACE_MS",
    ]) {
      expect(run.out.stdout).to.contain(name);
    }
  });

  it("gives one line and exit code 2 for a bad setting", async function () {
    const run = runFacilitator({ ...base }, ["--max-connections", "-5"]);
    expect(await run.exited).to.equal(2);
    expect(run.out.stderr.trim().split("\n")).to.deep.equal([
      'facilitator: --max-connections must be an integer in 1..1000000, got "-5"',
    ]);
  });

  it("gives one line and exit code 3 for an unreachable node, without a stack trace", async function () {
    const port = await freePort();
    const run = runFacilitator({ ...base, EVM_RPC_URL: `http://127.0.0.1:${port}` });
    expect(await run.exited).to.equal(3);
    const lines = run.out.stderr.trim().split("\n");
    expect(lines, run.out.stderr).to.have.length(1);
    expect(lines[0]).to.match(
      /^facilitator: cannot reach the JSON-RPC node at http:\/\/127\.0\.0\.1:\d+: /,
    );
  });

  it("gives one line and exit code 3 for a node of another chain", async function () {
    const node = await fakeNode(1);
    try {
      const run = runFacilitator({ ...base, EVM_RPC_URL: node.url });
      expect(await run.exited).to.equal(3);
      const lines = run.out.stderr.trim().split("\n");
      expect(lines, run.out.stderr).to.have.length(1);
      expect(lines[0]).to.contain("serves chain 1, not eip155:8453");
    } finally {
      node.server.close();
    }
  });

  describe("against an npm run chain node", function () {
    let chain: ChainProcess;
    before(async function () {
      chain = await startChain();
    });
    after(async function () {
      await chain?.stop();
    });

    it("starts without the SQLite warning, logs JSON lines, serves /metrics, and exits 0 on SIGTERM", async function () {
      const port = await freePort();
      const run = runFacilitator({
        ...base,
        EVM_RPC_URL: chain.url,
        PORT: String(port),
        // Any address: the router is not used by this test, and ensureRouter is skipped.
        ROUTER_ADDRESS: "0x0000000000000000000000000000000000000001",
      });
      await until(
        () => run.out.stdout.includes("Facilitator listening"),
        "the facilitator",
        60_000,
      );
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      // Hardhat's account #0 holds ETH on the node: the balance is read at scrape.
      const balance = /^x402_facilitator_relayer_balance_wei (\S+)$/m.exec(metrics)?.[1];
      expect(Number(balance)).to.be.greaterThan(0);
      run.child.kill("SIGTERM");
      expect(await run.exited).to.equal(0);
      expect(run.out.stderr).to.not.contain("ExperimentalWarning");
      expect(run.out.stderr, run.out.stderr).to.equal("");
      const lines = run.out.stdout.trim().split("\n");
      for (const line of lines) {
        const entry = JSON.parse(line) as { level: number; msg: string };
        expect(entry.level).to.be.a("number");
      }
      expect(lines.at(-1)).to.contain('"msg":"closed"');
    });
  });
});
