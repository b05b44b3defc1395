import { parseArgs } from "node:util";

import { FACILITATOR_SERVER_DEFAULTS as HTTP } from "../../src/facilitator/server.js";

/** One setting of `npm run facilitator`: an environment variable and, for most, a flag. */
interface Setting {
  env: string;
  /** The command-line flag (without `--`); secrets and test hooks have none. */
  flag?: string;
  /** Integer bounds; a setting without them is a string. */
  range?: readonly [number, number];
  default?: string | number;
  help: string;
}

/** Every setting, in the order `--help` and the README list them. */
export const SETTINGS = [
  { env: "PORT", flag: "port", range: [0, 65535], default: 4022, help: "port to listen on" },
  { env: "HOST", flag: "host", default: "127.0.0.1", help: "address to listen on" },
  {
    env: "EVM_PRIVATE_KEY",
    help: "the relayer's private key, required (pays gas for the batches)",
  },
  {
    env: "EVM_NETWORK",
    flag: "network",
    default: "base",
    help: "base | base-sepolia | eip155:8453 | eip155:84532",
  },
  {
    env: "RPC_URL",
    flag: "rpc",
    default: "http://127.0.0.1:8545",
    help: "JSON-RPC endpoint (EVM_RPC_URL, the official facilitator's name, is read too); the default is the `npm run chain` node",
  },
  {
    env: "ROUTER_ADDRESS",
    flag: "router",
    help: "the SettlementRouter; unset: the canonical CREATE2 address, deployed through CreateX when missing",
  },
  {
    env: "FACILITATOR_DB",
    flag: "db",
    default: ".facilitator/facilitator.sqlite",
    help: "SQLite file of the durable queue (`:memory:` for none)",
  },
  {
    env: "MAX_BATCH_SIZE",
    flag: "max-batch-size",
    range: [1, 300],
    default: 100,
    help: "payments per batch transaction",
  },
  {
    env: "MAX_WAIT_MS",
    flag: "max-wait-ms",
    range: [0, 600_000],
    default: 500,
    help: "longest a payment waits for its batch to fill",
  },
  {
    env: "POLLING_INTERVAL_MS",
    flag: "polling-interval-ms",
    range: [10, 60_000],
    default: 250,
    help: "how often receipts and the chain head are polled",
  },
  {
    env: "BLOCK_TIME_MS",
    flag: "block-time-ms",
    range: [1, 600_000],
    help: "the chain's block interval when regular (Base: 2000); set, batches are sent FLUSH_MARGIN_MS before the next block is due",
  },
  {
    env: "FLUSH_MARGIN_MS",
    flag: "flush-margin-ms",
    range: [0, 60_000],
    default: 200,
    help: "with BLOCK_TIME_MS: how long before the predicted block a batch is sent",
  },
  {
    env: "SETTLE_TIMEOUT_MS",
    flag: "settle-timeout-ms",
    range: [1, 600_000],
    default: 60_000,
    help: "how long /settle waits for its batch before answering settlement_pending",
  },
  {
    env: "CONFIRMATIONS",
    flag: "confirmations",
    range: [1, 1_000],
    default: 1,
    help: "blocks a batch's receipt must have (its own included) before its outcome is answered",
  },
  {
    env: "ASSETS",
    flag: "assets",
    help: "comma-separated token addresses accepted; unset: Circle's USDC at its canonical address on the network",
  },
  {
    env: "PERMIT2_ASSETS",
    flag: "permit2-assets",
    help: "comma-separated tokens without EIP-3009 (each also in ASSETS) whose routed payments go through Permit2",
  },
  {
    env: "MIN_AMOUNT",
    flag: "min-amount",
    range: [1, Number.MAX_SAFE_INTEGER],
    default: 1,
    help: "smallest payment accepted, in the token's base units (the relayer pays ~47k gas per payment whatever its value)",
  },
  {
    env: "ROUTED_FEE",
    flag: "routed-fee",
    range: [0, Number.MAX_SAFE_INTEGER],
    default: 0,
    help: "the routed scheme's fee, in the token's base units, on top of each routed payment's amount (advertised in /supported; routed payments must commit to at least it)",
  },
  {
    env: "FEE_RECIPIENT",
    flag: "fee-recipient",
    help: "where routed fees are paid (every routed nonce commits to it); unset: the relayer",
  },
  {
    env: "MAX_PENDING_PER_PAYER",
    flag: "max-pending-per-payer",
    range: [1, 1_000_000],
    default: 50,
    help: "payments of one payer accepted and not yet settled or failed; beyond it 429",
  },
  {
    env: "MAX_PENDING",
    flag: "max-pending",
    range: [1, 10_000_000],
    default: 10_000,
    help: "payments accepted and not yet settled or failed, in all; beyond it 429",
  },
  {
    env: "MAX_LOG_BLOCK_RANGE",
    flag: "max-log-block-range",
    range: [1, 1_000_000],
    default: 2_000,
    help: "most blocks one eth_getLogs request of reconciliation covers",
  },
  {
    env: "REPLACE_AFTER_MS",
    flag: "replace-after-ms",
    range: [1_000, 3_600_000],
    default: 20_000,
    help: "how long a broadcast batch may stay unmined before it is replaced with higher fees",
  },
  {
    env: "CLEARING_HOUSE_ADDRESS",
    flag: "clearing-house",
    help: "the ClearingHouse: set, the `clearing` scheme is served beside `exact` (unset: not offered)",
  },
  {
    env: "CLEARING_OPERATOR_KEY",
    help: "the clearing operator's private key (signs and pays for deposit batches and clears); unset: EVM_PRIVATE_KEY",
  },
  {
    env: "CLEARING_FEE_BPS",
    flag: "clearing-fee-bps",
    range: [0, 10_000],
    default: 0,
    help: "the operator's fee in basis points of each pair's cumulative value",
  },
  {
    env: "CLEARING_FEE_RECIPIENT",
    flag: "clearing-fee-recipient",
    help: "where the fees go, when the operator is registered at start; unset: the operator",
  },
  {
    env: "CLEARING_WITHDRAWAL_DELAY",
    flag: "clearing-withdrawal-delay",
    range: [900, 2_592_000],
    default: 86_400,
    help: "withdrawal delay in seconds (whole minutes) the operator registers with, when it is not registered yet",
  },
  {
    env: "CLEAR_INTERVAL_MS",
    flag: "clear-interval-ms",
    range: [0, 86_400_000],
    default: 60_000,
    help: "clear every pending voucher this often (0: never on a timer)",
  },
  {
    env: "CLEAR_THRESHOLD",
    flag: "clear-threshold",
    range: [0, Number.MAX_SAFE_INTEGER],
    default: 1_000_000,
    help: "clear an account as soon as its uncleared value plus fee reaches this, in base units (0: off)",
  },
  {
    env: "CLEAR_ON_WITHDRAWAL",
    flag: "clear-on-withdrawal",
    range: [0, 1],
    default: 1,
    help: "1: clear an account as soon as its payer requests a withdrawal; 0: wait for the timer",
  },
  {
    env: "CLEARING_DEPOSIT_WAIT_MS",
    flag: "clearing-deposit-wait-ms",
    range: [0, 60_000],
    default: 100,
    help: "how long the first deposit of a batch waits for others (one deposit transaction per token at a time)",
  },
  {
    env: "MAX_BODY_BYTES",
    flag: "max-body-bytes",
    range: [256, 16 * 1024 * 1024],
    default: HTTP.maxBodyBytes,
    help: "largest request body; larger ones get 413",
  },
  {
    env: "HEADERS_TIMEOUT_MS",
    flag: "headers-timeout-ms",
    range: [1, 600_000],
    default: HTTP.headersTimeoutMs,
    help: "longest a client may take to send its request headers (then 408, connection closed)",
  },
  {
    env: "REQUEST_TIMEOUT_MS",
    flag: "request-timeout-ms",
    range: [1, 600_000],
    default: HTTP.requestTimeoutMs,
    help: "longest a client may take to send its whole request",
  },
  {
    env: "KEEP_ALIVE_TIMEOUT_MS",
    flag: "keep-alive-timeout-ms",
    range: [1, 600_000],
    default: HTTP.keepAliveTimeoutMs,
    help: "how long an idle keep-alive connection stays open",
  },
  {
    env: "IDLE_TIMEOUT_MS",
    flag: "idle-timeout-ms",
    range: [1, 3_600_000],
    default: HTTP.idleTimeoutMs,
    help: "longest a connection may see no traffic (must exceed SETTLE_TIMEOUT_MS)",
  },
  {
    env: "MAX_CONNECTIONS",
    flag: "max-connections",
    range: [1, 1_000_000],
    default: HTTP.maxConnections,
    help: "open connections at once; more are closed when accepted",
  },
  {
    env: "MAX_CONCURRENT_REQUESTS",
    flag: "max-concurrent-requests",
    range: [1, 1_000_000],
    default: HTTP.maxConcurrentRequests,
    help: "/verify and /settle requests handled at once",
  },
  {
    env: "MAX_QUEUED_REQUESTS",
    flag: "max-queued-requests",
    range: [0, 1_000_000],
    default: HTTP.maxQueuedRequests,
    help: "requests waiting for a slot; beyond it 503 facilitator_busy with Retry-After",
  },
  {
    env: "QUEUE_TIMEOUT_MS",
    flag: "queue-timeout-ms",
    range: [0, 600_000],
    default: HTTP.queueTimeoutMs,
    help: "longest a request waits for a slot before 503 facilitator_busy",
  },
  {
    env: "RETRY_AFTER_SECONDS",
    flag: "retry-after-seconds",
    range: [0, 3_600],
    default: HTTP.retryAfterSeconds,
    help: "the Retry-After header of every 429 and 503",
  },
  {
    env: "SHUTDOWN_GRACE_MS",
    flag: "shutdown-grace-ms",
    range: [0, 600_000],
    default: HTTP.shutdownGraceMs,
    help: "on SIGINT/SIGTERM, longest in-flight requests may take to answer before the facilitator closes",
  },
  {
    env: "LOG_LEVEL",
    flag: "log-level",
    default: "info",
    help: "fatal | error | warn | info | debug | trace | silent (JSON lines on stdout, pino)",
  },
  {
    env: "FACILITATOR_CRASH_AT",
    help: "fault injection for crash tests: batchRecorded | batchBroadcast | batchMined, optionally :P (probability); the process kills itself with SIGKILL there",
  },
] as const satisfies readonly Setting[];

type Env = (typeof SETTINGS)[number]["env"];
type IntegerEnv = Extract<(typeof SETTINGS)[number], { range: readonly [number, number] }>["env"];

/** A setting given wrongly (exit code 2). */
export class FacilitatorUsageError extends Error {
  override name = "FacilitatorUsageError";
}

function usage(): string {
  const lines = [
    "Usage: npm run facilitator -- [flags]",
    "",
    "An x402 facilitator (POST /verify, POST /settle, GET /supported, GET /health, GET /metrics)",
    "that settles `exact` and `routed` EVM payments in SettlementRouter batches. Every setting is an",
    "environment variable; most also have a flag, which wins over the variable.",
    "",
  ];
  for (const setting of SETTINGS as readonly Setting[]) {
    const name = setting.flag ? `${setting.env}, --${setting.flag}` : setting.env;
    const fallback = setting.default === undefined ? "" : ` (default ${setting.default})`;
    lines.push(`  ${name}`, `      ${setting.help}${fallback}`);
  }
  lines.push(
    "  -h, --help",
    "      show this help",
    "",
    "Exit codes: 0 after a graceful shutdown, 1 an unexpected error, 2 a bad setting,",
    "3 the JSON-RPC node is unreachable or serves another chain.",
    "",
  );
  return lines.join("\n");
}

export const FACILITATOR_USAGE = usage();

/** The settings read from flags (first) and the environment; `help` when `--help` was given. */
export interface FacilitatorConfig {
  help: boolean;
  string(env: Exclude<Env, IntegerEnv>): string | undefined;
  integer(env: IntegerEnv): number | undefined;
}

/**
 * Reads `argv` and `env` against {@link SETTINGS}: unknown flags, integers out of range and
 * malformed values throw {@link FacilitatorUsageError} with one line saying which and why.
 */
export function readFacilitatorConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): FacilitatorConfig {
  // One name for the endpoint across the project (RPC_URL); the official facilitator's still works.
  if (env.RPC_URL === undefined && env.EVM_RPC_URL !== undefined) {
    env = { ...env, RPC_URL: env.EVM_RPC_URL };
  }
  const flagOptions: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const setting of SETTINGS as readonly Setting[]) {
    if (setting.flag) flagOptions[setting.flag] = { type: "string" };
  }
  // `--port -5` reads as a value (parseArgs would call it ambiguous), so the range check answers.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    const flag = arg.startsWith("--") ? flagOptions[arg.slice(2)] : undefined;
    if (flag?.type === "string" && next !== undefined && /^-[0-9.]/.test(next)) {
      args.push(`${arg}=${next}`);
      i++;
    } else args.push(arg);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: flagOptions,
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new FacilitatorUsageError(`${(error as Error).message.split("\n")[0]} (see --help)`);
  }
  const raw = (name: Env): { value: string; from: string } | undefined => {
    const setting = (SETTINGS as readonly Setting[]).find((s) => s.env === name)!;
    const flagged = setting.flag ? values[setting.flag] : undefined;
    if (typeof flagged === "string") return { value: flagged, from: `--${setting.flag}` };
    const value = env[name];
    if (value !== undefined && value !== "") return { value, from: name };
    return undefined;
  };
  const defaultOf = (name: Env) =>
    (SETTINGS as readonly Setting[]).find((s) => s.env === name)!.default;
  return {
    help: values.help === true,
    string(name) {
      const given = raw(name);
      if (given) return given.value;
      const fallback = defaultOf(name);
      return fallback === undefined ? undefined : String(fallback);
    },
    integer(name) {
      const setting = (SETTINGS as readonly Setting[]).find((s) => s.env === name)!;
      const [min, max] = setting.range!;
      const given = raw(name);
      if (!given) return setting.default as number | undefined;
      const value = /^-?[0-9]+$/.test(given.value.trim()) ? Number(given.value) : Number.NaN;
      if (!Number.isSafeInteger(value) || value < min || value > max) {
        throw new FacilitatorUsageError(
          `${given.from} must be an integer in ${min}..${max}, got "${given.value}"`,
        );
      }
      return value;
    },
  };
}
