/**
 * `npm run bench`: settles the same x402 payments through the official facilitator (one
 * transaction each), Multicall3 and the SettlementRouter, and compares gas, L1 data and throughput.
 * A thin command over the library's `runBenchmark`; run `npm run bench -- --help` for the flags.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import type { BenchmarkMethod } from "../src/bench/methods/types.js";
import { runBenchmark } from "../src/bench/runBenchmark.js";
import { benchmarkResultSchema } from "../src/bench/schema.js";
import { BENCH_USAGE, parseBenchArgs } from "./bench/args.js";
import { openBenchEndpoint, toChainError } from "./bench/chain.js";
import { BenchChainError, BenchUsageError } from "./bench/errors.js";
import { startProgress } from "./bench/progress.js";
import { writeReport } from "./bench/report.js";
import { formatTable } from "./bench/table.js";

async function main(argv: string[]): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  // The facilitator method brings the HTTP stack and SQLite: loaded only when asked for.
  const facilitator = options.methods.includes("facilitator")
    ? (await import("./bench/facilitator.js")).createFacilitatorMethod({
        rows: options.rows,
        rates: options.rates,
        durationSeconds: options.duration,
        p99BoundMs: options.p99BoundMs,
        clientThreads: options.threads,
        serverThread: options.threads > 0,
      })
    : undefined;
  const opened = await openBenchEndpoint({ rpc: options.rpc });
  const progress = startProgress();
  let results;
  try {
    results = await runBenchmark(opened.client, {
      methods: options.methods.map((m): BenchmarkMethod | Exclude<typeof m, "facilitator"> =>
        m === "facilitator" ? facilitator! : m,
      ),
      tokens: options.tokens,
      batchSizes: options.batchSizes,
      payers: options.payers,
      payees: options.payees,
      paymentsPerPair: options.paymentsPerPair,
      blockTime: options.blockTime,
      clients: options.clients,
      onProgress: (p) => progress.update(p),
    });
  } catch (error) {
    throw toChainError(error, opened.endpoint);
  } finally {
    progress.stop();
    await opened.close();
  }
  const { chainId, forked, blockNumber } = results.chain;
  process.stdout.write(
    `chain ${chainId} (${forked ? "fork of Base" : "simulated Base"}, from block ${blockNumber}) at ${opened.endpoint}\n\n`,
  );
  process.stdout.write(formatTable(results.runs));
  if (options.json) {
    await mkdir(path.dirname(path.resolve(options.json)), { recursive: true });
    const json = benchmarkResultSchema.parse(results);
    await writeFile(options.json, JSON.stringify(json, null, 2) + "\n");
    process.stdout.write(`\nresults written to ${options.json}\n`);
  }
  if (options.report) {
    const files = await writeReport(options.report, results, argv);
    process.stdout.write(`report written to ${files.join(", ")}\n`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`bench: ${error.shortMessage} (see npm run bench -- --help)\n`);
      process.exit(2);
    }
    if (error instanceof BenchChainError) {
      process.stderr.write(`bench: ${error.shortMessage}\n`);
      process.exit(2);
    }
    process.stderr.write(`bench failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
