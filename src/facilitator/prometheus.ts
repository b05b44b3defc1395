import {
  collectDefaultMetrics,
  Counter,
  Gauge,
  Histogram,
  Registry,
  type CounterConfiguration,
} from "prom-client";
import type { Address, PublicClient } from "viem";

import type { FacilitatorGauges, FacilitatorMetrics } from "./metrics.js";

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * Reads the relayer's ETH balance at scrape time. Give the facilitator's client and the relayer's
   * address; without them no balance is reported.
   */
  balance?: { client: Pick<PublicClient, "getBalance">; address: Address };
  /** How long a balance read is reused across scrapes (default 5 s). */
  balanceCacheMs?: number;
  /** Longest a scrape waits for the balance read before reporting the last known value (default 2 s). */
  balanceTimeoutMs?: number;
  /** Also export prom-client's process metrics (CPU, memory, event loop lag); default false. */
  processMetrics?: boolean;
  /** Prefix of every metric name (default `x402_facilitator_`). */
  prefix?: string;
}

/**
 * {@link FacilitatorMetrics} as Prometheus counters, histograms and gauges (prom-client), plus the
 * HTTP server's own request counts. Give it to the facilitator as its `metrics` and to
 * `createFacilitatorServer` as its `metrics`; `GET /metrics` serves {@link PrometheusMetrics.scrape}.
 */
export interface PrometheusMetrics extends FacilitatorMetrics {
  /** The prom-client registry holding every metric (register more of your own on it). */
  readonly registry: Registry;
  /** Where the queue and relayer gauges are read from at scrape time (the facilitator). */
  readGaugesFrom(source: { gauges?(): FacilitatorGauges }): void;
  /** An HTTP request was answered. `route` is the matched route or `other`. */
  httpAnswered(route: string, status: number, ms: number): void;
  /** A payment request was refused before the facilitator saw it, for `reason` (e.g. `server_busy`). */
  httpRefused(reason: string): void;
  /** The exposition text (`text/plain; version=0.0.4`); never throws for a failed balance read. */
  scrape(): Promise<string>;
  /** The content type of {@link scrape}'s text. */
  readonly contentType: string;
}

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 150, 200, 300];

/**
 * Prometheus metrics for a {@link BatchFacilitator} and its HTTP server. Counters and histograms
 * are updated as the facilitator reports; the gauges (queue depth, submitted payments, batches in
 * flight, relayer nonce, relayer ETH balance) are read when scraped. The balance is read with the
 * given client at most every `balanceCacheMs`; a failed or slow read keeps the last known value
 * (NaN before the first success) and counts in `relayer_balance_read_errors_total`.
 *
 * @example
 * const metrics = createPrometheusMetrics({ balance: { client, address: relayer.address } });
 * const facilitator = new BatchFacilitator({ ...options, metrics });
 * const server = createFacilitatorServer(facilitator, { metrics });
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const prefix = options.prefix ?? "x402_facilitator_";
  const registry = new Registry();
  const counter = <T extends string>(config: CounterConfiguration<T>) =>
    new Counter<T>({ ...config, name: prefix + config.name, registers: [registry] });

  const verifyAnswers = counter({
    name: "verify_answers_total",
    help: "Answers to /verify, by verdict.",
    labelNames: ["valid"] as const,
  });
  const verifyLatency = new Histogram({
    name: `${prefix}verify_duration_seconds`,
    help: "Time to answer /verify.",
    labelNames: ["valid"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const settleAnswers = counter({
    name: "settle_answers_total",
    help: "Answers to /settle, by outcome (success, failure, pending).",
    labelNames: ["outcome"] as const,
  });
  const settleLatency = new Histogram({
    name: `${prefix}settle_duration_seconds`,
    help: "Time to answer /settle, by outcome.",
    labelNames: ["outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const batchesSent = counter({
    name: "batches_sent_total",
    help: "Batch transactions broadcast, by token.",
    labelNames: ["token"] as const,
  });
  const batchSizes = new Histogram({
    name: `${prefix}batch_size`,
    help: "Payments per batch transaction broadcast, by token.",
    labelNames: ["token"] as const,
    buckets: BATCH_SIZE_BUCKETS,
    registers: [registry],
  });
  const batchesMined = counter({
    name: "batches_mined_total",
    help: "Batch transactions mined, by token.",
    labelNames: ["token"] as const,
  });
  const paymentsMined = counter({
    name: "batch_payments_total",
    help: "Payments in mined batches, by token and whether they settled.",
    labelNames: ["token", "settled"] as const,
  });
  const gasUsed = counter({
    name: "gas_used_total",
    help: "Gas used by mined batch transactions, by token.",
    labelNames: ["token"] as const,
  });
  const wastedGas = counter({
    name: "wasted_gas_total",
    help: "Gas the relayer paid for payments that did not settle.",
  });
  const httpRequests = counter({
    name: "http_requests_total",
    help: "HTTP requests answered, by route and status code.",
    labelNames: ["route", "status"] as const,
  });
  const httpLatency = new Histogram({
    name: `${prefix}http_request_duration_seconds`,
    help: "Time from receiving a request to answering it, by route.",
    labelNames: ["route"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const httpRefusals = counter({
    name: "http_refused_total",
    help: "Payment requests refused before reaching the facilitator, by reason.",
    labelNames: ["reason"] as const,
  });
  const balanceErrors = new Counter({
    name: `${prefix}relayer_balance_read_errors_total`,
    help: "Failed or timed-out reads of the relayer's ETH balance at scrape time.",
    registers: [registry],
    // Counted after this scrape's read, so the scrape that saw a failure reports it.
    collect: () => refreshBalance(),
  });

  let gaugeSource: { gauges?(): FacilitatorGauges } | undefined;
  const readGauges = (): FacilitatorGauges | undefined => {
    try {
      return gaugeSource?.gauges?.();
    } catch {
      return undefined;
    }
  };
  const liveGauge = (name: string, help: string, read: (g: FacilitatorGauges) => number) =>
    new Gauge({
      name: prefix + name,
      help,
      registers: [registry],
      collect() {
        const gauges = readGauges();
        this.set(gauges ? read(gauges) : Number.NaN);
      },
    });
  liveGauge("queued_payments", "Payments accepted and waiting for a batch.", (g) => g.queued);
  liveGauge(
    "submitted_payments",
    "Payments in batches broadcast but not yet resolved.",
    (g) => g.submitted,
  );
  liveGauge(
    "batches_in_flight",
    "Batch transactions broadcast and not yet resolved.",
    (g) => g.batchesInFlight,
  );
  liveGauge(
    "relayer_nonce",
    "The next nonce the relayer signs with (NaN while unknown).",
    (g) => g.relayerNonce ?? Number.NaN,
  );

  const balanceCacheMs = options.balanceCacheMs ?? 5_000;
  const balanceTimeoutMs = options.balanceTimeoutMs ?? 2_000;
  let balance: { wei: bigint; at: number } | undefined;
  let balanceRead: Promise<boolean> | undefined;
  let refreshing: Promise<void> | undefined;
  /** One refresh per scrape, shared by the balance gauge and its error counter. */
  const refreshBalance = (): Promise<void> =>
    (refreshing ??= (async () => {
      const source = options.balance;
      if (!source || (balance && Date.now() - balance.at < balanceCacheMs)) return;
      // A read still running from an earlier scrape is awaited again, not duplicated.
      balanceRead ??= source.client.getBalance({ address: source.address }).then(
        (wei) => {
          balance = { wei, at: Date.now() };
          return true;
        },
        () => false,
      );
      const read = balanceRead;
      void read.finally(() => {
        if (balanceRead === read) balanceRead = undefined;
      });
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), balanceTimeoutMs);
      });
      const ok = await Promise.race([read, timedOut]);
      clearTimeout(timer);
      if (!ok) balanceErrors.inc();
    })().finally(() => {
      refreshing = undefined;
    }));
  if (options.balance) {
    new Gauge({
      name: `${prefix}relayer_balance_wei`,
      help: "The relayer's ETH balance in wei, read at scrape time (NaN until first read).",
      registers: [registry],
      async collect() {
        await refreshBalance();
        this.set(balance ? Number(balance.wei) : Number.NaN);
      },
    });
  }
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix });

  const seconds = (ms: number) => Math.max(0, ms) / 1000;
  const token = (address: Address) => address.toLowerCase();
  return {
    registry,
    contentType: registry.contentType,
    readGaugesFrom(source) {
      gaugeSource = source;
    },
    verifyAnswered(valid, ms) {
      const labels = { valid: String(valid) };
      verifyAnswers.inc(labels);
      verifyLatency.observe(labels, seconds(ms));
    },
    settleAnswered(outcome, ms) {
      settleAnswers.inc({ outcome });
      settleLatency.observe({ outcome }, seconds(ms));
    },
    batchSent(address, size) {
      batchesSent.inc({ token: token(address) });
      batchSizes.observe({ token: token(address) }, size);
    },
    batchMined(address, size, settled, gas) {
      batchesMined.inc({ token: token(address) });
      paymentsMined.inc({ token: token(address), settled: "true" }, settled);
      paymentsMined.inc({ token: token(address), settled: "false" }, Math.max(0, size - settled));
      gasUsed.inc({ token: token(address) }, Number(gas));
    },
    wastedGas(gas) {
      wastedGas.inc(Number(gas));
    },
    httpAnswered(route, status, ms) {
      httpRequests.inc({ route, status: String(status) });
      httpLatency.observe({ route }, seconds(ms));
    },
    httpRefused(reason) {
      httpRefusals.inc({ reason });
    },
    scrape: () => registry.metrics(),
  };
}
