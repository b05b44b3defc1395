/** The stdout table of `npm run bench`. */
import type { BenchmarkRun as BenchRun } from "../../src/bench/schema.js";

const COLUMNS: { title: string; value: (run: BenchRun) => string; left?: boolean }[] = [
  { title: "token", value: (r) => r.token, left: true },
  { title: "method", value: (r) => r.method, left: true },
  { title: "batch", value: (r) => String(r.batchSize) },
  { title: "payments", value: (r) => String(r.payments) },
  { title: "settled", value: (r) => String(r.settled) },
  { title: "failed", value: (r) => String(r.failed) },
  { title: "gas/payment", value: (r) => r.gasPerPayment.toLocaleString("en-US") },
  { title: "L1 bytes/payment", value: (r) => r.l1BytesPerPayment.toFixed(1) },
  { title: "payments/s", value: (r) => r.paymentsPerSecond.toFixed(1) },
];

/**
 * Formats runs as an aligned plain-text table.
 *
 * @example
 * process.stdout.write(formatTable(results.runs));
 */
export function formatTable(runs: readonly BenchRun[]): string {
  const cells = runs.map((run) => COLUMNS.map((c) => c.value(run)));
  const widths = COLUMNS.map((c, i) =>
    Math.max(c.title.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (COLUMNS[i]!.left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const header = line(COLUMNS.map((c) => c.title));
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [header, rule, ...cells.map(line)].join("\n") + "\n";
}

/** The same runs as a Markdown table (report and docs). */
export function formatMarkdownTable(runs: readonly BenchRun[]): string {
  const header = `| ${COLUMNS.map((c) => c.title).join(" | ")} |`;
  const align = `|${COLUMNS.map((c) => (c.left ? "---" : "---:")).join("|")}|`;
  const rows = runs.map((run) => `| ${COLUMNS.map((c) => c.value(run)).join(" | ")} |`);
  return [header, align, ...rows].join("\n") + "\n";
}
