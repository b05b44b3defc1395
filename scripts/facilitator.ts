/**
 * `npm run facilitator`: an x402 facilitator (POST /verify, POST /settle, GET /supported,
 * GET /health, GET /metrics) that settles `exact` EVM payments in SettlementRouter batches and,
 * with CLEARING_HOUSE_ADDRESS, serves the `clearing` scheme (POST /clearing/pair too).
 * Every setting is an environment variable (the names the x402 e2e harness gives third-party
 * facilitators: PORT, EVM_PRIVATE_KEY, EVM_NETWORK, EVM_RPC_URL as RPC_URL) and most are flags too:
 * `npm run facilitator -- --help` lists them (scripts/facilitator/config.ts). Logs are pino JSON
 * lines on stdout.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";

import { pino, type Logger } from "pino";
import { getAddress, isHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { createFacilitatorClient } from "../src/facilitator/createFacilitatorClient.js";
import { ensureRouter } from "../src/facilitator/ensureRouter.js";
import { BatchFacilitator, type FacilitatorCheckpoint } from "../src/facilitator/facilitator.js";
import { resolveX402Network } from "../src/facilitator/networks.js";
import { createPrometheusMetrics } from "../src/facilitator/prometheus.js";
import { createFacilitatorServer } from "../src/facilitator/server.js";
import {
  FACILITATOR_USAGE,
  FacilitatorUsageError,
  readFacilitatorConfig,
} from "./facilitator/config.js";

/** The JSON-RPC node is unreachable or serves another chain (exit code 3). */
class NodeUnavailableError extends Error {
  override name = "NodeUnavailableError";
}

/**
 * node:sqlite prints an ExperimentalWarning when it loads; the store is the facilitator's own
 * choice, not news to its operator. Exactly that warning is dropped; every other one is printed.
 */
function silenceSqliteWarning(): void {
  const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const text = typeof warning === "string" ? warning : warning.message;
    const type =
      typeof rest[0] === "string"
        ? rest[0]
        : ((rest[0] as { type?: string } | undefined)?.type ??
          (warning instanceof Error ? warning.name : undefined));
    if (type === "ExperimentalWarning" && text.startsWith("SQLite is an experimental feature"))
      return;
    emitWarning(warning, ...rest);
  }) as typeof process.emitWarning;
}

function fail(message: string): never {
  throw new FacilitatorUsageError(message);
}

/** The first line of an error, with viem's short message and details instead of its stack. */
function oneLine(error: unknown): string {
  const e = error as { shortMessage?: unknown; details?: unknown; message?: unknown } | undefined;
  const short = typeof e?.shortMessage === "string" ? e.shortMessage : undefined;
  const details = typeof e?.details === "string" && e.details ? e.details : undefined;
  const message = typeof e?.message === "string" ? e.message : String(error);
  const text = short ? (details ? `${short.replace(/\.$/, "")}: ${details}` : short) : message;
  return text.split("\n")[0]!.slice(0, 300);
}

function crashInjection(logger: Logger): ((checkpoint: FacilitatorCheckpoint) => void) | undefined {
  const spec = process.env.FACILITATOR_CRASH_AT;
  if (!spec) return undefined;
  const [point, probability = "1"] = spec.split(":");
  const chance = Number(probability);
  if (!["batchRecorded", "batchBroadcast", "batchMined"].includes(point) || !(chance >= 0)) {
    fail(`FACILITATOR_CRASH_AT must be batchRecorded|batchBroadcast|batchMined[:P], got "${spec}"`);
  }
  return (checkpoint) => {
    if (checkpoint === point && Math.random() < chance) {
      logger.fatal(`crash injected at ${checkpoint}`);
      process.kill(process.pid, "SIGKILL");
    }
  };
}

async function main(argv: string[]): Promise<void> {
  const config = readFacilitatorConfig(argv, process.env);
  if (config.help) {
    process.stdout.write(FACILITATOR_USAGE);
    return;
  }
  const level = config.string("LOG_LEVEL")!;
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(level))
    fail(`LOG_LEVEL must be fatal|error|warn|info|debug|trace|silent, got "${level}"`);
  // Synchronous writes: a line logged just before exit (or an injected SIGKILL) is not lost.
  const logger = pino(
    { level, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: 1, sync: true }),
  );
  const port = config.integer("PORT")!;
  const host = config.string("HOST")!;
  const key = process.env.EVM_PRIVATE_KEY;
  if (!key) fail("EVM_PRIVATE_KEY is required (the relayer's key)");
  const normalizedKey = (key.startsWith("0x") ? key : `0x${key}`) as Hex;
  if (!isHex(normalizedKey) || normalizedKey.length !== 66)
    fail("EVM_PRIVATE_KEY must be 32 bytes of hex");
  let network;
  try {
    network = resolveX402Network(config.string("EVM_NETWORK")!);
  } catch (error) {
    fail(oneLine(error));
  }
  const rpcUrl = config.string("RPC_URL")!;
  const pollingIntervalMs = config.integer("POLLING_INTERVAL_MS")!;
  const settleTimeoutMs = config.integer("SETTLE_TIMEOUT_MS")!;
  const idleTimeoutMs = config.integer("IDLE_TIMEOUT_MS")!;
  if (idleTimeoutMs <= settleTimeoutMs)
    fail(`IDLE_TIMEOUT_MS (${idleTimeoutMs}) must exceed SETTLE_TIMEOUT_MS (${settleTimeoutMs})`);
  const headersTimeoutMs = config.integer("HEADERS_TIMEOUT_MS")!;
  const requestTimeoutMs = config.integer("REQUEST_TIMEOUT_MS")!;
  if (headersTimeoutMs > requestTimeoutMs)
    fail(
      `HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed REQUEST_TIMEOUT_MS (${requestTimeoutMs})`,
    );
  let router: Address | undefined;
  const routerAddress = config.string("ROUTER_ADDRESS");
  if (routerAddress) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(routerAddress)) fail("ROUTER_ADDRESS is not an address");
    router = getAddress(routerAddress);
  }
  const dbPath = config.string("FACILITATOR_DB")!;
  const blockTimeMs = config.integer("BLOCK_TIME_MS");
  const onCheckpoint = crashInjection(logger);
  const http = {
    maxBodyBytes: config.integer("MAX_BODY_BYTES"),
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: config.integer("KEEP_ALIVE_TIMEOUT_MS"),
    idleTimeoutMs,
    maxConnections: config.integer("MAX_CONNECTIONS"),
    maxConcurrentRequests: config.integer("MAX_CONCURRENT_REQUESTS"),
    maxQueuedRequests: config.integer("MAX_QUEUED_REQUESTS"),
    queueTimeoutMs: config.integer("QUEUE_TIMEOUT_MS"),
    retryAfterSeconds: config.integer("RETRY_AFTER_SECONDS"),
    shutdownGraceMs: config.integer("SHUTDOWN_GRACE_MS"),
  };
  const assets = config.string("ASSETS");
  const assetList: Address[] | undefined = assets
    ? assets.split(",").map((entry) => {
        const asset = entry.trim();
        if (!/^0x[0-9a-fA-F]{40}$/.test(asset)) fail(`ASSETS: "${asset}" is not an address`);
        return getAddress(asset);
      })
    : undefined;
  const permit2Assets = (config.string("PERMIT2_ASSETS") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "")
    .map((asset) => {
      if (!/^0x[0-9a-fA-F]{40}$/.test(asset)) fail(`PERMIT2_ASSETS: "${asset}" is not an address`);
      return getAddress(asset);
    });
  const feeRecipient = config.string("FEE_RECIPIENT");
  if (feeRecipient !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(feeRecipient)) {
    fail(`FEE_RECIPIENT: "${feeRecipient}" is not an address`);
  }
  const policy = {
    ...(assetList ? { assets: assetList } : {}),
    ...(permit2Assets.length > 0 ? { permit2Assets } : {}),
    fee: BigInt(config.integer("ROUTED_FEE")!),
    ...(feeRecipient !== undefined ? { feeRecipient: getAddress(feeRecipient) } : {}),
    minAmount: BigInt(config.integer("MIN_AMOUNT")!),
    maxPendingPerPayer: config.integer("MAX_PENDING_PER_PAYER"),
    maxPending: config.integer("MAX_PENDING"),
    confirmations: config.integer("CONFIRMATIONS"),
    maxLogBlockRange: BigInt(config.integer("MAX_LOG_BLOCK_RANGE")!),
    replaceAfterMs: config.integer("REPLACE_AFTER_MS"),
  };
  const batching = {
    maxBatchSize: config.integer("MAX_BATCH_SIZE"),
    maxWaitMs: config.integer("MAX_WAIT_MS"),
    ...(blockTimeMs !== undefined
      ? { blockTimeMs, flushMarginMs: config.integer("FLUSH_MARGIN_MS") }
      : {}),
  };

  let clearingHouse: Address | undefined;
  const clearingHouseAddress = config.string("CLEARING_HOUSE_ADDRESS");
  if (clearingHouseAddress) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(clearingHouseAddress))
      fail("CLEARING_HOUSE_ADDRESS is not an address");
    clearingHouse = getAddress(clearingHouseAddress);
  }
  let operatorKey = normalizedKey;
  const operatorKeyText = process.env.CLEARING_OPERATOR_KEY;
  if (operatorKeyText) {
    operatorKey = (
      operatorKeyText.startsWith("0x") ? operatorKeyText : `0x${operatorKeyText}`
    ) as Hex;
    if (!isHex(operatorKey) || operatorKey.length !== 66)
      fail("CLEARING_OPERATOR_KEY must be 32 bytes of hex");
  }
  const feeRecipientText = config.string("CLEARING_FEE_RECIPIENT");
  if (feeRecipientText && !/^0x[0-9a-fA-F]{40}$/.test(feeRecipientText))
    fail("CLEARING_FEE_RECIPIENT is not an address");
  const withdrawalDelay = config.integer("CLEARING_WITHDRAWAL_DELAY")!;
  if (withdrawalDelay % 60 !== 0) fail("CLEARING_WITHDRAWAL_DELAY must be whole minutes");

  const relayer = privateKeyToAccount(normalizedKey);
  const client = createFacilitatorClient(network, rpcUrl, { pollingIntervalMs });
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new NodeUnavailableError(
      `cannot reach the JSON-RPC node at ${rpcUrl}: ${oneLine(error)}`,
    );
  }
  if (chainId !== network.chainId) {
    throw new NodeUnavailableError(
      `the node at ${rpcUrl} serves chain ${chainId}, not ${network.v2} (EVM_NETWORK); point RPC_URL at a ${network.v1} node or set EVM_NETWORK`,
    );
  }
  if (!router) {
    const deployment = await ensureRouter(client, relayer);
    router = deployment.address;
    if (deployment.deployed) logger.info({ router }, `deployed the router at ${router}`);
  }
  if (dbPath !== ":memory:") mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });
  silenceSqliteWarning();
  const { FacilitatorStore } = await import("../src/facilitator/store.js");
  const store = new FacilitatorStore(dbPath);
  const { ClearingStore } = await import("../src/facilitator/clearing/store.js");
  const clearing = clearingHouse && {
    clearingHouse,
    operator: privateKeyToAccount(operatorKey),
    store: new ClearingStore(dbPath),
    ...(assetList ? { tokens: assetList } : {}),
    ...(permit2Assets.length > 0 ? { permit2Assets } : {}),
    feeBasisPoints: config.integer("CLEARING_FEE_BPS")!,
    ...(feeRecipientText ? { feeRecipient: getAddress(feeRecipientText) } : {}),
    withdrawalDelaySeconds: withdrawalDelay,
    clearIntervalMs: config.integer("CLEAR_INTERVAL_MS")!,
    clearThreshold: BigInt(config.integer("CLEAR_THRESHOLD")!),
    clearOnWithdrawal: config.integer("CLEAR_ON_WITHDRAWAL") === 1,
    depositWaitMs: config.integer("CLEARING_DEPOSIT_WAIT_MS")!,
    settleTimeoutMs,
    pollingIntervalMs,
  };
  const metrics = createPrometheusMetrics({
    balance: { client, address: relayer.address },
    processMetrics: true,
  });
  const facilitator = new BatchFacilitator({
    client,
    relayer,
    network,
    router,
    store,
    ...batching,
    ...policy,
    pollingIntervalMs,
    settleTimeoutMs,
    log: (line) => logger.info(line),
    onCheckpoint,
    // The facilitator reports batches, answers and gas to the Prometheus metrics it is given.
    metrics,
    ...(clearing ? { clearing } : {}),
  });
  await facilitator.start();
  const server = createFacilitatorServer(facilitator, { logger, metrics, ...http });
  const shutdown = (signal: string) => {
    logger.info({ signal }, "shutting down: answering in-flight requests, then closing");
    server.close().then(
      () => {
        logger.info("closed");
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
  const { port: actual } = await server.listen({ port, host });
  logger.info(
    {
      port: actual,
      host,
      network: network.v2,
      relayer: relayer.address,
      router,
      ...(facilitator.clearing ? { clearingHouse, operator: facilitator.clearing.operator } : {}),
    },
    `Facilitator listening on port ${actual} (network ${network.v2}, relayer ${relayer.address}, router ${router}${facilitator.clearing ? `, clearing on ${clearingHouse} as ${facilitator.clearing.operator}` : ""})`,
  );
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const code =
    error instanceof FacilitatorUsageError ? 2 : error instanceof NodeUnavailableError ? 3 : 1;
  process.stderr.write(`facilitator: ${oneLine(error)}\n`);
  process.exit(code);
});
