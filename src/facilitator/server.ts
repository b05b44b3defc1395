import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";

import { RequestLimiter, type RequestRefusal } from "./requestLimiter.js";
import type { FacilitatorGauges } from "./metrics.js";
import { createPrometheusMetrics, type PrometheusMetrics } from "./prometheus.js";
import { reasons } from "./reasons.js";

/**
 * What the server needs of a facilitator: {@link BatchFacilitator} is one. `verify` and `settle`
 * answer `{ status, body }`, and the status is passed through (400 malformed, 429 over a pending
 * limit, 503 closing or unavailable).
 */
export interface FacilitatorService {
  verify(body: unknown): Promise<{ status: number; body: unknown }>;
  settle(body: unknown): Promise<{ status: number; body: unknown }>;
  supported(): unknown;
  health(): unknown;
  /** Called once by {@link FacilitatorServer.close}, after the last in-flight request answered. */
  close(): Promise<void>;
  /** Queue and relayer gauges for `GET /metrics`, when the facilitator has them. */
  gauges?(): FacilitatorGauges;
  /** `POST /clearing/pair` (the `clearing` scheme's pair state), when the facilitator has it. */
  clearingPair?(body: unknown): Promise<{ status: number; body: unknown }>;
}

/** Options of {@link createFacilitatorServer}; every limit has a default ({@link FACILITATOR_SERVER_DEFAULTS}). */
export interface FacilitatorServerOptions {
  /** Largest accepted request body in bytes; larger bodies get 413. */
  maxBodyBytes?: number;
  /** Longest a client may take to send the request headers; slower connections are cut (408). */
  headersTimeoutMs?: number;
  /** Longest a client may take to send the whole request (headers and body); then 408. */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept open between requests. */
  keepAliveTimeoutMs?: number;
  /**
   * Longest a connection may go without any traffic, an answer included, before it is destroyed.
   * Keep it above the facilitator's `settleTimeoutMs`, so a waiting `/settle` gets its answer.
   */
  idleTimeoutMs?: number;
  /** Open connections at once; further connections are closed as soon as they are accepted. */
  maxConnections?: number;
  /** `/verify` and `/settle` requests handled at once. */
  maxConcurrentRequests?: number;
  /** Requests waiting for a slot when all are taken; beyond it, 503 at once. */
  maxQueuedRequests?: number;
  /** Longest a request waits for a slot before it is answered 503. */
  queueTimeoutMs?: number;
  /** The `Retry-After` (seconds) sent with every 429 and 503. */
  retryAfterSeconds?: number;
  /** Longest {@link FacilitatorServer.close} waits for in-flight requests before cutting them. */
  shutdownGraceMs?: number;
  /** Where requests and server events are logged (a pino logger); none by default. */
  logger?: FastifyBaseLogger;
  /** Metrics served on `GET /metrics`; a fresh {@link createPrometheusMetrics} by default. */
  metrics?: PrometheusMetrics;
}

/** The defaults of {@link FacilitatorServerOptions}. */
export const FACILITATOR_SERVER_DEFAULTS = {
  maxBodyBytes: 64 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 120_000,
  maxConnections: 1_024,
  maxConcurrentRequests: 512,
  maxQueuedRequests: 1_024,
  queueTimeoutMs: 2_000,
  retryAfterSeconds: 1,
  shutdownGraceMs: 30_000,
} as const satisfies Required<Omit<FacilitatorServerOptions, "logger" | "metrics">>;

/** Reason codes of answers the server gives itself, before or instead of the facilitator. */
export const serverReasons = {
  /** Every request slot is taken and the wait for one is full or timed out (503). */
  busy: "facilitator_busy",
  /** The server is shutting down (503). */
  closing: "facilitator_closing",
} as const;

/** A facilitator served over HTTP (Fastify). */
export interface FacilitatorServer {
  /** The Fastify instance (for `inject` in tests, or more routes). */
  readonly app: FastifyInstance;
  readonly metrics: PrometheusMetrics;
  /** Starts listening (`port` 0 picks a free one; default host 127.0.0.1) and reports where. */
  listen(options?: { port?: number; host?: string }): Promise<{ port: number; url: string }>;
  /**
   * Graceful shutdown: stops accepting connections, refuses new and waiting requests with 503,
   * lets the in-flight ones answer (for at most `shutdownGraceMs`), then closes the facilitator.
   * Idempotent.
   */
  close(): Promise<void>;
}

type PaymentRoute = "/verify" | "/settle";

function firstLine(text: string): string {
  return text.split("\n")[0]!.slice(0, 200);
}

/** The refusal in the shape of the route's answer (x402 VerifyResponse or SettleResponse). */
function refusalBody(route: PaymentRoute, reason: string, message: string, body?: unknown) {
  if (route === "/verify")
    return { isValid: false, invalidReason: reason, invalidMessage: message };
  const network = (body as { paymentRequirements?: { network?: unknown } } | null | undefined)
    ?.paymentRequirements?.network;
  return {
    success: false,
    errorReason: reason,
    errorMessage: message,
    transaction: "",
    network: typeof network === "string" ? network.slice(0, 64) : "",
  };
}

/** Settings that may be 0: no waiting room, no wait, no grace, `Retry-After: 0`. */
const ZERO_ALLOWED = new Set<string>([
  "maxQueuedRequests",
  "queueTimeoutMs",
  "retryAfterSeconds",
  "shutdownGraceMs",
]);

function atLeast(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) {
    throw new RangeError(
      `createFacilitatorServer: ${name} must be a number >= ${min}, got ${value}`,
    );
  }
  return Math.floor(value);
}

/**
 * The facilitator's HTTP face, on Fastify: `POST /verify`, `POST /settle`, `GET /supported`,
 * `GET /health` and `GET /metrics` (Prometheus text). Bodies must be JSON (415 otherwise) within
 * `maxBodyBytes` (413); anything that is not a payment request is answered 400 with a reason,
 * never a 5xx. Under load: slow request headers and bodies are cut (408), connections beyond
 * `maxConnections` are closed at once, and `/verify`/`/settle` requests beyond
 * `maxConcurrentRequests` wait in a bounded queue, or get 503 `facilitator_busy` with
 * `Retry-After`. The facilitator's own statuses pass through (429 and 503 with `Retry-After`).
 *
 * @example
 * const server = createFacilitatorServer(facilitator, { logger: pino() });
 * const { url } = await server.listen({ port: 4022 });
 * process.once("SIGTERM", () => server.close());
 */
export function createFacilitatorServer(
  facilitator: FacilitatorService,
  options: FacilitatorServerOptions = {},
): FacilitatorServer {
  const settings: Record<keyof typeof FACILITATOR_SERVER_DEFAULTS, number> = {
    ...FACILITATOR_SERVER_DEFAULTS,
  };
  for (const key of Object.keys(settings) as (keyof typeof settings)[]) {
    const value = options[key];
    if (value !== undefined) settings[key] = atLeast(key, value, ZERO_ALLOWED.has(key) ? 0 : 1);
  }
  if (settings.headersTimeoutMs > settings.requestTimeoutMs) {
    throw new RangeError(
      "createFacilitatorServer: headersTimeoutMs must not exceed requestTimeoutMs",
    );
  }
  const metrics = options.metrics ?? createPrometheusMetrics();
  metrics.readGaugesFrom(facilitator);
  const limiter = new RequestLimiter({
    maxActive: settings.maxConcurrentRequests,
    maxWaiting: settings.maxQueuedRequests,
    maxWaitMs: settings.queueTimeoutMs,
  });
  const retryAfter = String(settings.retryAfterSeconds);

  const app: FastifyInstance = Fastify({
    loggerInstance: options.logger,
    // Requests are logged by the onResponse hook below (debug), not twice at info.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: settings.maxBodyBytes,
    connectionTimeout: settings.idleTimeoutMs,
    keepAliveTimeout: settings.keepAliveTimeoutMs,
    requestTimeout: settings.requestTimeoutMs,
    http: {
      headersTimeout: settings.headersTimeoutMs,
      // How often Node checks for expired header and request timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, settings.headersTimeoutMs / 4)),
    },
    forceCloseConnections: "idle",
    return503OnClosing: false,
  });
  app.server.maxConnections = settings.maxConnections;
  app.server.on("drop", () => {
    metrics.httpRefused("connection_limit");
    app.log.warn({ maxConnections: settings.maxConnections }, "connection refused: at the cap");
  });
  app.removeContentTypeParser(["text/plain"]);

  let closing = false;
  app.addHook("onRequest", async (request, reply) => {
    if (!closing) return;
    reply.header("connection", "close").header("retry-after", retryAfter);
    const route = request.routeOptions.url;
    const message = "the facilitator is shutting down";
    if (route === "/verify" || route === "/settle") {
      return reply.code(503).send(refusalBody(route, serverReasons.closing, message));
    }
    return reply.code(503).send({ error: serverReasons.closing, message });
  });
  app.addHook("onSend", async (_request, reply) => {
    // Answers given while shutting down close their connection, so the server can finish.
    if (closing) reply.header("connection", "close");
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "other";
    metrics.httpAnswered(route, reply.statusCode, reply.elapsedTime);
    if (reply.statusCode >= 500) {
      app.log.warn({ route, status: reply.statusCode }, "request answered with a server error");
    } else {
      app.log.debug({ route, status: reply.statusCode, ms: reply.elapsedTime }, "answered");
    }
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const route = request.routeOptions.url;
    const status =
      typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500
        ? error.statusCode
        : 500;
    let message: string;
    switch (error.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        message = `body larger than ${settings.maxBodyBytes} bytes`;
        break;
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        message = "content-type must be application/json";
        break;
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        message = "body is empty";
        break;
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        message = "body is not JSON";
        break;
      default:
        message = status === 500 ? "internal error" : firstLine(error.message || "bad request");
    }
    if (status === 500) app.log.error({ err: error, route }, "request failed");
    if (status === 413) reply.header("connection", "close");
    if (route === "/verify" || route === "/settle") {
      const reason =
        status < 500
          ? reasons.invalidPayload
          : route === "/verify"
            ? reasons.unexpectedVerifyError
            : reasons.unexpectedSettleError;
      return reply.code(status).send(refusalBody(route, reason, message));
    }
    return reply
      .code(status)
      .send({ error: status < 500 ? "bad_request" : "internal_error", message });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: "not_found" }));

  const refusalMessage = (refusal: RequestRefusal) =>
    refusal === "queue_full"
      ? `${settings.maxConcurrentRequests} requests in progress and ${settings.maxQueuedRequests} waiting`
      : refusal === "queue_timeout"
        ? `no request slot free within ${settings.queueTimeoutMs} ms`
        : "the facilitator is shutting down";

  const payment = (route: PaymentRoute) => async (request: FastifyRequest, reply: FastifyReply) => {
    const entry = await limiter.enter();
    if (!entry.admitted) {
      const reason = entry.refusal === "closing" ? serverReasons.closing : serverReasons.busy;
      metrics.httpRefused(entry.refusal);
      return reply
        .code(503)
        .header("retry-after", retryAfter)
        .send(refusalBody(route, reason, refusalMessage(entry.refusal), request.body));
    }
    try {
      const answer =
        route === "/verify"
          ? await facilitator.verify(request.body)
          : await facilitator.settle(request.body);
      if (answer.status === 429 || answer.status === 503) reply.header("retry-after", retryAfter);
      return reply.code(answer.status).send(answer.body);
    } finally {
      entry.release();
    }
  };
  const methodNotAllowed =
    (route: PaymentRoute) => async (_: FastifyRequest, reply: FastifyReply) =>
      reply
        .code(405)
        .header("allow", "POST")
        .send(refusalBody(route, reasons.invalidPayload, `${route} takes POST`));
  for (const route of ["/verify", "/settle"] as const) {
    app.post(route, payment(route));
    app.route({
      method: ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"],
      url: route,
      handler: methodNotAllowed(route),
    });
  }
  app.get("/supported", async () => facilitator.supported());
  if (facilitator.clearingPair) {
    const clearingPair = facilitator.clearingPair.bind(facilitator);
    app.post("/clearing/pair", async (request, reply) => {
      const answer = await clearingPair(request.body);
      return reply.code(answer.status).send(answer.body);
    });
  }
  app.get("/health", async () => facilitator.health());
  app.get("/metrics", async (_request, reply) =>
    reply.header("content-type", metrics.contentType).send(await metrics.scrape()),
  );
  const getOnly = async (_: FastifyRequest, reply: FastifyReply) =>
    reply.code(405).header("allow", "GET, HEAD").send({ error: "method_not_allowed" });
  for (const url of ["/supported", "/health", "/metrics"]) {
    app.route({ method: ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"], url, handler: getOnly });
  }

  let closed: Promise<void> | undefined;
  return {
    app,
    metrics,
    async listen({ port = 0, host = "127.0.0.1" } = {}) {
      await app.listen({ port, host });
      const address = app.server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      const shown = host.includes(":") ? `[${host}]` : host;
      return { port: actual, url: `http://${shown}:${actual}` };
    },
    close() {
      closed ??= (async () => {
        closing = true;
        limiter.close();
        const grace = setTimeout(() => {
          app.log.warn(
            { active: limiter.active, graceMs: settings.shutdownGraceMs },
            "shutdown grace over: closing the connections still open",
          );
          app.server.closeAllConnections();
        }, settings.shutdownGraceMs);
        try {
          await app.close();
        } finally {
          clearTimeout(grace);
        }
        await facilitator.close();
      })();
      return closed;
    },
  };
}
