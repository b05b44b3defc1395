/** `--report DIR`: a Markdown report with SVG charts of gas per payment and payments per second. */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

import { type ChartSeries, lineChart } from "./svg.js";
import { formatMarkdownTable } from "./table.js";
import type { BenchmarkResult as BenchResults, BenchmarkRun as BenchRun } from "../../src/bench/schema.js";

export const METHOD_COLORS: Record<string, string> = {
  "x402-exact-single": "#d62728",
  multicall3: "#ff7f0e",
  "router-direct": "#1f77b4",
  "router-routed": "#2ca02c",
  facilitator: "#9467bd",
  "facilitator-official": "#8c564b",
  "facilitator-batching": "#9467bd",
};

function seriesOf(runs: BenchRun[], metric: (run: BenchRun) => number): ChartSeries[] {
  const methods = [...new Set(runs.map((r) => r.method))];
  return methods.map((method) => {
    const ofMethod = runs.filter((r) => r.method === method && r.settled > 0);
    return {
      name: method,
      color: METHOD_COLORS[method] ?? "#7f7f7f",
      points: ofMethod.map((r) => ({ x: r.batchSize, y: metric(r) })),
      // One payment per transaction: a reference line across every batch size.
      flat: ofMethod.length > 0 && ofMethod.every((r) => r.batchSize === 1),
    };
  });
}

function slug(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]+/g, "-");
}

/**
 * Writes `report.md` and two SVG charts per token into `dir`; returns the files written.
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
    const xValues = [...new Set(runs.filter((r) => r.batchSize > 1).map((r) => r.batchSize))].sort(
      (a, b) => a - b,
    );
    if (xValues.length === 0) xValues.push(1);
    const charts = [
      {
        file: `gas-per-payment-${slug(token)}.svg`,
        title: `${token}: gas per payment`,
        yLabel: "L2 gas per settled payment",
        metric: (r: BenchRun) => r.gasPerPayment,
      },
      {
        file: `payments-per-second-${slug(token)}.svg`,
        title: `${token}: payments per second`,
        yLabel: "settled payments per second",
        metric: (r: BenchRun) => r.paymentsPerSecond,
      },
    ];
    const links: string[] = [];
    for (const chart of charts) {
      const svg = lineChart({
        title: chart.title,
        xLabel: "batch size (payments per transaction)",
        yLabel: chart.yLabel,
        xValues,
        series: seriesOf(runs, chart.metric),
      });
      const file = path.join(dir, chart.file);
      await writeFile(file, svg);
      files.push(file);
      links.push(`![${chart.title}](${chart.file})`);
    }
    sections.push(`## ${token}\n\n${formatMarkdownTable(runs)}\n${links.join("\n\n")}\n`);
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
      "Methods that settle one payment per transaction (x402-exact-single) are drawn as dashed lines.",
    "",
    ...sections,
  ].join("\n");
  const reportFile = path.join(dir, "report.md");
  await writeFile(reportFile, markdown);
  files.unshift(reportFile);
  return files;
}
