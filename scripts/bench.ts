/**
 * `npm run bench`: settles the same x402 payments through the official facilitator (one
 * transaction each), Multicall3 and the SettlementRouter, and compares gas, L1 data and throughput.
 * Run `npm run bench -- --help` for the flags.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import { BENCH_USAGE, parseBenchArgs } from "./bench/args.js";
import { openBenchChain } from "./bench/chain.js";
import { BenchChainError, BenchUsageError } from "./bench/errors.js";
import { startProgress } from "./bench/progress.js";
import { writeReport } from "./bench/report.js";
import { plannedPayments, runBenchmark } from "./bench/run.js";
import { formatTable } from "./bench/table.js";

async function main(argv: string[]): Promise<number> {
  const options = parseBenchArgs(argv);
  if (options.help) {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const chain = await openBenchChain({ rpc: options.rpc });
  let results;
  const progress = startProgress(plannedPayments(options));
  try {
    results = await runBenchmark(chain, options, progress);
  } finally {
    progress.stop();
    await chain.close();
  }
  const { chainId, forked, blockNumber } = results.chain;
  process.stdout.write(
    `chain ${chainId} (${forked ? "fork of Base" : "simulated Base"}, from block ${blockNumber}) at ${chain.endpoint}\n\n`,
  );
  process.stdout.write(formatTable(results.runs));
  if (options.json) {
    await mkdir(path.dirname(path.resolve(options.json)), { recursive: true });
    await writeFile(options.json, JSON.stringify(results, null, 2) + "\n");
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
      process.stderr.write(`bench: ${error.shortMessage}\n\n${BENCH_USAGE}`);
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
