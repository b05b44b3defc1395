/**
 * `--report DIR`: a Markdown report with SVG charts of gas per payment, L1 bytes per payment and
 * payments per second against batch size.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import {
  CHART_MEASURES,
  chartSpec,
  paymentsPerPairValues,
  perPairChartSpec,
  renderSvg,
  runsAtPaymentsPerPair,
} from "./charts.js";
import { formatMarkdownTable, formatMarkdownClearingTable } from "./table.js";
import type {
  BenchmarkResult as BenchResults,
  BenchmarkRun as BenchRun,
} from "../../src/bench/schema.js";

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "-");
}

/**
 * Writes `report.md` and three SVG charts per token into `dir`; returns the files written.
 *
 * @example
 * await writeReport(".bench/report", results, process.argv.slice(2));
 */
export async function writeReport(
  dir: string,
  results: BenchResults,
  argv: readonly string[],
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const sections: string[] = [];
  for (const token of [...new Set(results.runs.map((r) => r.token))]) {
    const runs = results.runs.filter((r) => r.token === token);
    const links: string[] = [];
    const perPair = paymentsPerPairValues(runs);
    // Against batch size: the runs at the most payments per pair.
    const atLargest = runsAtPaymentsPerPair(runs, perPair.at(-1)!);
    for (const measure of CHART_MEASURES) {
      const file = `${measure.file}-${slug(token)}.svg`;
      await writeFile(path.join(dir, file), await renderSvg(chartSpec(token, atLargest, measure)));
      files.push(path.join(dir, file));
      links.push(`![${token}: ${measure.title}](${file})`);
    }
    if (perPair.length > 1) {
      const file = `gas-per-payment-per-pair-${slug(token)}.svg`;
      await writeFile(path.join(dir, file), await renderSvg(perPairChartSpec(token, runs)));
      files.push(path.join(dir, file));
      links.push(`![${token}: gas per payment vs payments per pair](${file})`);
    }
    const clearing = formatMarkdownClearingTable(runs);
    sections.push(
      `## ${token}\n\n${formatMarkdownTable(runs)}\n${clearing ? `${clearing}\n` : ""}${links.join("\n\n")}\n`,
    );
  }
  const { chainId, forked, blockNumber } = results.chain;
  const markdown = [
    "# x402-clearing benchmark report",
    "",
    `Command: \`npm run bench -- ${argv.join(" ")}\``,
    "",
    `Chain ${chainId}, ${forked ? "a fork of Base" : "simulated Base"}, starting at block ${blockNumber}. ` +
      "Gas is receipt gasUsed per settled payment (L2 execution incl. the 21k intrinsic share); " +
      "L1 bytes is the OP-stack (Fjord, FastLZ) data size estimate per settled payment; " +
      "payments per second is settled payments over the wall clock from the first submission to the last receipt. " +
      "Each chart shows every method (on a logarithmic scale when they differ by an order of magnitude), " +
      "then the batching methods alone on a zoomed axis; methods that settle one payment per transaction " +
      "(x402-exact-single) are drawn as dashed lines across the batch sizes. " +
      "With several payments-per-pair values, the batch-size charts show the runs at the largest " +
      "and one more chart shows gas per payment against payments per pair. " +
      "For clearing, gas and L1 bytes per payment are the steady-state clear transactions over the payments they cleared; " +
      "deposits and the first clear of each pair are reported apart.",
    "",
    ...sections,
  ].join("\n");
  const reportFile = path.join(dir, "report.md");
  await writeFile(reportFile, markdown);
  files.unshift(reportFile);
  return files;
}
