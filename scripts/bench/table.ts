/** The stdout table of `npm run bench`. */
import type { BenchmarkRun as BenchRun } from "../../src/bench/schema.js";

type Column = { title: string; value: (run: BenchRun) => string; left?: boolean };

const COLUMNS: Column[] = [
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

const count = (value: number | undefined) => (value ?? 0).toLocaleString("en-US");

/** The `clearing` rows' own figures. */
const CLEARING_COLUMNS: Column[] = [
  { title: "token", value: (r) => r.token, left: true },
  { title: "batch", value: (r) => String(r.batchSize) },
  { title: "payers", value: (r) => String(r.payers ?? "") },
  { title: "payees", value: (r) => String(r.payees ?? "") },
  { title: "per pair", value: (r) => String(r.paymentsPerPair ?? "") },
  { title: "deposit gas/payer", value: (r) => count(r.depositGasPerPayer) },
  { title: "first clear gas/pair", value: (r) => count(r.firstClearGasPerPair) },
  { title: "clear gas/pair", value: (r) => count(r.clearGasPerPair) },
  { title: "verify µs p50", value: (r) => (r.verifyMicrosP50 ?? 0).toFixed(1) },
];

const num = (value: unknown) =>
  typeof value === "number" ? value.toLocaleString("en-US") : value == null ? "" : String(value);

/** The facilitator method's rows: the HTTP figures (one line per open-loop step). */
const FACILITATOR_COLUMNS: Column[] = [
  { title: "token", value: (r) => r.token, left: true },
  { title: "method", value: (r) => r.method, left: true },
  { title: "scheme", value: (r) => num(r.scheme), left: true },
  { title: "batch", value: (r) => String(r.batchSize) },
  {
    title: "load",
    value: (r) => (r.mode === "open" ? `${num(r.rate)}/s` : `${num(r.clients)} clients`),
  },
  { title: "requests", value: (r) => String(r.payments) },
  { title: "failed", value: (r) => String(r.failed) },
  { title: "paid req/s", value: (r) => num(r.requestsPerSecond) },
  { title: "p50 ms", value: (r) => num(r.latencyP50Ms) },
  { title: "p99 ms", value: (r) => num(r.latencyP99Ms) },
  { title: "first p50 ms", value: (r) => num(r.firstRequestLatencyP50Ms) },
  { title: "transactions", value: (r) => num(r.transactions) },
  { title: "gas/payment", value: (r) => num(r.gasPerPayment) },
  { title: "CPU ms/payment", value: (r) => num(r.cpuMsPerPayment) },
  {
    title: "sustained",
    value: (r) => (r.mode === "open" ? (r.sustained ? "yes" : "no") : ""),
  },
];

/** Per open-loop row: the highest rate sustained and the first rate not sustained. */
const SUSTAINED_COLUMNS: Column[] = [
  { title: "token", value: (r) => r.token, left: true },
  { title: "method", value: (r) => r.method, left: true },
  { title: "batch", value: (r) => String(r.batchSize) },
  { title: "sustained req/s", value: (r) => num(r.sustainedRate) },
  { title: "breaks at req/s", value: (r) => (r.breaksAt == null ? "-" : num(r.breaksAt)) },
  { title: "p99 bound ms", value: (r) => num(r.p99BoundMs) },
];

const isFacilitatorRun = (run: BenchRun) => typeof run.latencyP50Ms === "number";

/** One run per open-loop row (its last step carries the row's sustained rate). */
function sustainedRuns(runs: readonly BenchRun[]): BenchRun[] {
  const last = new Map<string, BenchRun>();
  for (const run of runs)
    if (run.mode === "open") last.set(`${run.token}:${run.method}:${run.batchSize}`, run);
  return [...last.values()];
}

function plainTable(columns: Column[], runs: readonly BenchRun[]): string {
  const cells = runs.map((run) => columns.map((c) => c.value(run)));
  const widths = columns.map((c, i) =>
    Math.max(c.title.length, ...cells.map((row) => row[i]!.length)),
  );
  const line = (row: string[]) =>
    row
      .map((cell, i) => (columns[i]!.left ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const header = line(columns.map((c) => c.title));
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  return [header, rule, ...cells.map(line)].join("\n") + "\n";
}

function markdownTable(columns: Column[], runs: readonly BenchRun[]): string {
  const header = `| ${columns.map((c) => c.title).join(" | ")} |`;
  const align = `|${columns.map((c) => (c.left ? "---" : "---:")).join("|")}|`;
  const rows = runs.map((run) => `| ${columns.map((c) => c.value(run)).join(" | ")} |`);
  return [header, align, ...rows].join("\n") + "\n";
}

const clearingRuns = (runs: readonly BenchRun[]) => runs.filter((r) => r.method === "clearing");

/** The main columns, with the workload after the method when it is not the default one. */
function mainColumns(runs: readonly BenchRun[]): Column[] {
  if (runs.every((r) => (r.payees ?? 1) === 1 && (r.paymentsPerPair ?? 1) === 1)) return COLUMNS;
  return [
    ...COLUMNS.slice(0, 2),
    {
      title: "payers x payees x per pair",
      value: (r) => `${r.payers ?? r.payments} x ${r.payees ?? 1} x ${r.paymentsPerPair ?? 1}`,
    },
    ...COLUMNS.slice(2),
  ];
}

/**
 * Formats runs as an aligned plain-text table, followed by the `clearing` rows' own figures when
 * there are any.
 *
 * @example
 * process.stdout.write(formatTable(results.runs));
 */
export function formatTable(runs: readonly BenchRun[]): string {
  const clearing = clearingRuns(runs);
  const facilitator = runs.filter(isFacilitatorRun);
  const sustained = sustainedRuns(facilitator);
  const others = runs.filter((run) => !isFacilitatorRun(run));
  return [
    others.length > 0 ? plainTable(mainColumns(others), others) : "",
    clearing.length > 0 ? `clearing\n${plainTable(CLEARING_COLUMNS, clearing)}` : "",
    facilitator.length > 0 ? plainTable(FACILITATOR_COLUMNS, facilitator) : "",
    sustained.length > 0 ? plainTable(SUSTAINED_COLUMNS, sustained) : "",
  ]
    .filter((part) => part.length > 0)
    .join("\n");
}

/** The same runs as a Markdown table (report and docs). */
export function formatMarkdownTable(runs: readonly BenchRun[]): string {
  const facilitator = runs.filter(isFacilitatorRun);
  const sustained = sustainedRuns(facilitator);
  const others = runs.filter((run) => !isFacilitatorRun(run));
  return [
    others.length > 0 ? markdownTable(mainColumns(others), others) : "",
    facilitator.length > 0 ? markdownTable(FACILITATOR_COLUMNS, facilitator) : "",
    sustained.length > 0 ? markdownTable(SUSTAINED_COLUMNS, sustained) : "",
  ]
    .filter((part) => part.length > 0)
    .join("\n");
}

/** The `clearing` rows' own figures as a Markdown table; empty when there are none. */
export function formatMarkdownClearingTable(runs: readonly BenchRun[]): string {
  const clearing = clearingRuns(runs);
  return clearing.length > 0 ? markdownTable(CLEARING_COLUMNS, clearing) : "";
}
