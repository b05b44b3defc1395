/** Command-line flags of `npm run bench`, parsed and validated into {@link BenchOptions}. */
import { parseArgs } from "node:util";

import { BENCHMARK_METHODS, type BenchmarkMethodName } from "../../src/bench/methods/index.js";
import {
  DEFAULT_BENCHMARK_METHODS,
  MAX_BENCHMARK_BATCH_SIZE,
  MAX_BENCHMARK_PAYEES,
  MAX_BENCHMARK_PAYMENTS,
} from "../../src/bench/runBenchmark.js";
import {
  BENCHMARK_TOKENS,
  DEFAULT_BENCHMARK_TOKENS,
  type BenchmarkTokenName,
} from "../../src/bench/tokens.js";
import { BenchUsageError } from "./errors.js";

/** The settlement paths the benchmark compares (see docs/BENCHMARKS.md): the library's and `facilitator`. */
export const BENCH_METHODS = [
  ...(Object.keys(BENCHMARK_METHODS) as BenchmarkMethodName[]),
  "facilitator",
] as const;
export type BenchMethod = BenchmarkMethodName | "facilitator";

/** The methods of a run without `--methods`: the library's on-chain paths. */
export const DEFAULT_METHODS: readonly BenchMethod[] = DEFAULT_BENCHMARK_METHODS;

/** Token names as they appear in the JSON output; `--tokens` also takes the aliases. */
export const BENCH_TOKENS = BENCHMARK_TOKENS;
export type BenchTokenName = BenchmarkTokenName;
const TOKEN_ALIASES: Record<string, BenchTokenName> = {
  fiattokenv2_2: "FiatTokenV2_2",
  usdc: "FiatTokenV2_2",
  x402testtoken: "X402TestToken",
  test: "X402TestToken",
  testtoken: "X402TestToken",
  usdtlike: "UsdtLike",
  usdt: "UsdtLike",
};

/** Validated options of one benchmark run. */
export interface BenchOptions {
  methods: BenchMethod[];
  tokens: BenchTokenName[];
  /** Batch sizes of the batching methods; the single-payment baseline always uses 1. */
  batchSizes: number[];
  /** Payments per (token, method, batch size) run under the default workload (sets the payers). */
  payments: number;
  /** Distinct payers (default: `payments`). */
  payers: number;
  /** Distinct payees; every payer pays every payee. */
  payees: number;
  /** Payments per (payer, payee) pair and run; one run of every method per value. */
  paymentsPerPair: number[];
  quick: boolean;
  json?: string;
  report?: string;
  rpc?: string;
  /** Interval mining in seconds (0: mine each transaction at once). */
  blockTime: number;
  /** Concurrent paying clients of the facilitator method. */
  clients: number;
  help: boolean;
}

/** The full run: three batch sizes, 800 payments per run, both tokens, the four on-chain methods. */
export const FULL_DEFAULTS = { payments: 800, batchSizes: [50, 100, 200] } as const;
/** `--quick`: CI-sized, batch 100 and 200 payments per run. */
export const QUICK_DEFAULTS = { payments: 200, batchSizes: [100] } as const;
/** The largest batch accepted on the command line (the router's planner splits by the gas cap). */
export const MAX_BATCH_SIZE = MAX_BENCHMARK_BATCH_SIZE;
export const MAX_PAYMENTS = MAX_BENCHMARK_PAYMENTS;

export const BENCH_USAGE = `Usage: npm run bench -- [options]

Settles the same EIP-3009 payments several ways and measures gas, L1 data and throughput:
${Object.values(BENCHMARK_METHODS)
  .map((m) => `  ${m.name.padEnd(17)}  ${m.description}\n`)
  .join(
    "",
  )}  facilitator        paid HTTP requests, official facilitator vs the batching one (only with --methods facilitator)

Options:
  --payments N         payments per token, method and batch size (default ${FULL_DEFAULTS.payments}; --quick ${QUICK_DEFAULTS.payments}),
                       one each from N payers to one payee
  --payers N           distinct payers instead (default: --payments); a run then makes
                       payers x payees x payments-per-pair payments (at most ${MAX_BENCHMARK_PAYMENTS})
  --payees N           distinct payees, every payer pays every payee (default 1, at most ${MAX_BENCHMARK_PAYEES})
  --payments-per-pair LIST
                       payments from each payer to each payee per run, e.g. 1,10,100 (default 1);
                       every method runs once per value and the report charts gas against it
  --batch LIST         batch sizes, e.g. 50,100,200 (default ${FULL_DEFAULTS.batchSizes.join(",")}; --quick ${QUICK_DEFAULTS.batchSizes.join(",")})
  --methods LIST       comma-separated methods (default: every method but facilitator,
                       permit2-single and router-permit2)
  --tokens LIST        FiatTokenV2_2 (alias usdc), X402TestToken (alias test), UsdtLike (alias usdt:
                       no EIP-3009, only the Permit2 methods run on it); default the first two
  --quick              CI-sized run: batch ${QUICK_DEFAULTS.batchSizes.join(",")}, ${QUICK_DEFAULTS.payments} payments per run
  --json FILE          write the results as JSON (format in docs/BENCHMARKS.md)
  --report DIR         write a Markdown report and SVG charts into DIR
  --rpc URL            use a running node (e.g. http://127.0.0.1:8545 from npm run chain)
                       instead of the in-process simulated Base (or the fork set by BASE_RPC_URL)
  --block-time S       interval mining every S seconds instead of one block per transaction
  --clients N          concurrent paying clients of the facilitator method (default 50)
  -h, --help           show this help
`;

/** The flags that take a value. */
const VALUE_FLAGS = [
  "--payments",
  "--payers",
  "--payees",
  "--payments-per-pair",
  "--batch",
  "--methods",
  "--tokens",
  "--json",
  "--report",
  "--rpc",
  "--block-time",
  "--clients",
] as const;

/**
 * Joins a value flag with a following argument that starts with a dash and a digit (`--payments
 * -5` becomes `--payments=-5`), so a negative number reaches the range check instead of Node's
 * "argument is ambiguous".
 */
export function joinDashValues(argv: readonly string[], valueFlags: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const next = argv[i + 1];
    if (valueFlags.includes(arg) && next !== undefined && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else out.push(arg);
  }
  return out;
}

function parseList(flag: string, value: string): string[] {
  const items = value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
  if (items.length === 0) throw new BenchUsageError(`${flag} needs at least one value`);
  return items;
}

function parseInteger(flag: string, value: string, min: number, max: number): number {
  if (!/^-?\d+$/.test(value))
    throw new BenchUsageError(`${flag} must be a whole number, got "${value}"`);
  const n = Number(value);
  if (n < min || n > max)
    throw new BenchUsageError(`${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/**
 * Parses `npm run bench` arguments. Throws {@link BenchUsageError} for unknown flags or bad values.
 *
 * @example
 * parseBenchArgs(["--quick", "--json", "out.json"]).batchSizes; // [100]
 */
export function parseBenchArgs(argv: readonly string[]): BenchOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: joinDashValues(argv, VALUE_FLAGS),
      strict: true,
      allowPositionals: false,
      options: {
        payments: { type: "string" },
        payers: { type: "string" },
        payees: { type: "string" },
        "payments-per-pair": { type: "string" },
        batch: { type: "string" },
        methods: { type: "string" },
        tokens: { type: "string" },
        quick: { type: "boolean", default: false },
        json: { type: "string" },
        report: { type: "string" },
        rpc: { type: "string" },
        "block-time": { type: "string" },
        clients: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const v = parsed.values;
  const quick = v.quick ?? false;
  const defaults = quick ? QUICK_DEFAULTS : FULL_DEFAULTS;

  const methods =
    v.methods === undefined
      ? [...DEFAULT_METHODS]
      : parseList("--methods", v.methods).map((name) => {
          if (!(BENCH_METHODS as readonly string[]).includes(name))
            throw new BenchUsageError(
              `unknown method "${name}" (choose from ${BENCH_METHODS.join(", ")})`,
            );
          return name as BenchMethod;
        });

  const tokens =
    v.tokens === undefined
      ? [...DEFAULT_BENCHMARK_TOKENS]
      : parseList("--tokens", v.tokens).map((name) => {
          const token = TOKEN_ALIASES[name.toLowerCase()];
          if (!token)
            throw new BenchUsageError(
              `unknown token "${name}" (choose from ${BENCH_TOKENS.join(", ")}, usdc, test, usdt)`,
            );
          return token;
        });

  const batchSizes =
    v.batch === undefined
      ? [...defaults.batchSizes]
      : parseList("--batch", v.batch).map((s) => parseInteger("--batch", s, 1, MAX_BATCH_SIZE));

  const payments =
    v.payments === undefined
      ? defaults.payments
      : parseInteger("--payments", v.payments, 1, MAX_PAYMENTS);

  if (v.payments !== undefined && v.payers !== undefined)
    throw new BenchUsageError(
      "--payments and --payers both set the payers: give --payers with --payees and --payments-per-pair",
    );
  const payers =
    v.payers === undefined ? payments : parseInteger("--payers", v.payers, 1, MAX_PAYMENTS);
  const payees =
    v.payees === undefined ? 1 : parseInteger("--payees", v.payees, 1, MAX_BENCHMARK_PAYEES);
  const paymentsPerPair =
    v["payments-per-pair"] === undefined
      ? [1]
      : [
          ...new Set(
            parseList("--payments-per-pair", v["payments-per-pair"]).map((s) =>
              parseInteger("--payments-per-pair", s, 1, MAX_PAYMENTS),
            ),
          ),
        ].sort((a, b) => a - b);
  const perRun = payers * payees * paymentsPerPair.at(-1)!;
  if (perRun > MAX_PAYMENTS)
    throw new BenchUsageError(
      `payers x payees x payments-per-pair must be at most ${MAX_PAYMENTS}, got ${payers} x ${payees} x ${paymentsPerPair.at(-1)} = ${perRun}`,
    );
  if (methods.includes("facilitator") && (payees > 1 || perRun > payers))
    throw new BenchUsageError(
      "the facilitator method runs only the default workload (no --payees or --payments-per-pair)",
    );

  let rpc: string | undefined;
  if (v.rpc !== undefined) {
    let url: URL;
    try {
      url = new URL(v.rpc);
    } catch {
      throw new BenchUsageError(`--rpc must be an http(s) URL, got "${v.rpc}"`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new BenchUsageError(`--rpc must be an http(s) URL, got "${v.rpc}"`);
    rpc = v.rpc;
  }

  let blockTime = 0;
  if (v["block-time"] !== undefined) {
    blockTime = Number(v["block-time"]);
    if (!Number.isFinite(blockTime) || blockTime <= 0 || blockTime > 60)
      throw new BenchUsageError(
        `--block-time must be a number of seconds in (0, 60], got "${v["block-time"]}"`,
      );
  }

  const clients = v.clients === undefined ? 50 : parseInteger("--clients", v.clients, 1, 1000);

  for (const [flag, value] of [
    ["--json", v.json],
    ["--report", v.report],
  ] as const) {
    if (value !== undefined && value.trim() === "")
      throw new BenchUsageError(`${flag} needs a path`);
  }

  return {
    methods: [...new Set(methods)],
    tokens: [...new Set(tokens)],
    batchSizes: [...new Set(batchSizes)].sort((a, b) => a - b),
    payments,
    payers,
    payees,
    paymentsPerPair,
    quick,
    json: v.json,
    report: v.report,
    rpc,
    blockTime,
    clients,
    help: v.help ?? false,
  };
}
