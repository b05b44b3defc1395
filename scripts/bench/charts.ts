/**
 * The `--report` charts: one SVG per measure and token, drawn with Vega-Lite (compiled to Vega and
 * rendered to SVG in Node, no browser). Each chart has two panels: every method on a scale that
 * fits them all (logarithmic when they differ by an order of magnitude), then the batching methods
 * alone on a zoomed axis, where their differences of a few percent are visible. Values are in the
 * legend (at the largest batch size), not on the lines, so no label covers another.
 */
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

import type { BenchmarkRun } from "../../src/bench/schema.js";

/** A measure the report charts against batch size. */
export interface ChartMeasure {
  key: "gasPerPayment" | "l1BytesPerPayment" | "paymentsPerSecond";
  /** File name stem, e.g. `gas-per-payment`. */
  file: string;
  title: string;
  axis: string;
}

export const CHART_MEASURES: readonly ChartMeasure[] = [
  {
    key: "gasPerPayment",
    file: "gas-per-payment",
    title: "gas per payment",
    axis: "L2 gas per settled payment",
  },
  {
    key: "l1BytesPerPayment",
    file: "l1-bytes-per-payment",
    title: "L1 bytes per payment",
    axis: "L1 data bytes per settled payment",
  },
  {
    key: "paymentsPerSecond",
    file: "payments-per-second",
    title: "payments per second",
    axis: "settled payments per second",
  },
];

export const METHOD_COLORS: Record<string, string> = {
  "x402-exact-single": "#d62728",
  multicall3: "#ff7f0e",
  "router-direct": "#1f77b4",
  "router-routed": "#2ca02c",
  "facilitator-official": "#8c564b",
  "facilitator-batching": "#9467bd",
  clearing: "#17becf",
};

/** Above this ratio of largest to smallest value, the overview panel is logarithmic. */
const LOG_SCALE_RATIO = 8;

/** One point of a chart's data: a series (method) at a batch size. */
export interface ChartPoint {
  /** The legend entry: method and its value at the largest batch size. */
  series: string;
  method: string;
  batchSize: number;
  value: number;
  /** The method sends one payment per transaction: drawn dashed across every batch size. */
  single: boolean;
}

function format(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

/**
 * The chart's points: one series per method; a method measured only at batch size 1 is repeated
 * at every batch size of the others, as the reference it is.
 */
export function chartPoints(runs: readonly BenchmarkRun[], measure: ChartMeasure): ChartPoint[] {
  const settled = runs.filter((r) => r.settled > 0);
  const sizes = [...new Set(settled.filter((r) => r.batchSize > 1).map((r) => r.batchSize))].sort(
    (a, b) => a - b,
  );
  const points: ChartPoint[] = [];
  for (const method of [...new Set(settled.map((r) => r.method))]) {
    const ofMethod = settled
      .filter((r) => r.method === method)
      .sort((a, b) => a.batchSize - b.batchSize);
    const single = ofMethod.every((r) => r.batchSize === 1);
    const last = ofMethod.at(-1)!;
    const series = `${method}: ${format(last[measure.key])}`;
    const at =
      single && sizes.length > 0 ? sizes.map((batchSize) => ({ ...last, batchSize })) : ofMethod;
    for (const r of at)
      points.push({ series, method, batchSize: r.batchSize, value: r[measure.key], single });
  }
  return points;
}

/** Round values (1, 2, 5 times a power of ten) around `[min, max]`: a log axis's labels, spaced apart. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let power = Math.floor(Math.log10(min)); power <= Math.ceil(Math.log10(max)); power++)
    for (const m of [1, 2, 5]) {
      const tick = m * 10 ** power;
      if (tick >= min / 2 && tick <= max * 2) ticks.push(tick);
    }
  return ticks;
}

function panel(
  points: ChartPoint[],
  measure: ChartMeasure,
  title: string,
  { ticks, ...scale }: Record<string, unknown>,
): Record<string, unknown> {
  const series = [...new Set(points.map((p) => p.series))];
  const colors = series.map(
    (s) => METHOD_COLORS[points.find((p) => p.series === s)!.method] ?? "#7f7f7f",
  );
  return {
    title: { text: title, anchor: "start", fontSize: 12, fontWeight: "normal" },
    width: 520,
    height: 220,
    data: { values: points },
    mark: { type: "line", point: { filled: true, size: 40 }, strokeWidth: 2.5 },
    encoding: {
      x: {
        field: "batchSize",
        type: "ordinal",
        title: "batch size (payments per transaction)",
        axis: { labelAngle: 0 },
      },
      y: {
        field: "value",
        type: "quantitative",
        title: measure.axis,
        scale,
        ...(ticks ? { axis: { values: ticks } } : {}),
      },
      color: {
        field: "series",
        type: "nominal",
        title: "value at the largest batch",
        scale: { domain: series, range: colors },
        legend: { orient: "right", labelLimit: 320, titleLimit: 320 },
      },
      strokeDash: {
        field: "single",
        type: "nominal",
        scale: {
          domain: [false, true],
          range: [
            [1, 0],
            [6, 4],
          ],
        },
        legend: null,
      },
      detail: { field: "series" },
    },
  };
}

/**
 * The Vega-Lite specification of one measure's chart for one token's runs.
 *
 * @example
 * const spec = chartSpec("FiatTokenV2_2", runs, CHART_MEASURES[0]);
 */
export function chartSpec(
  token: string,
  runs: readonly BenchmarkRun[],
  measure: ChartMeasure,
): TopLevelSpec {
  const points = chartPoints(runs, measure);
  const values = points.map((p) => p.value).filter((v) => v > 0);
  const ratio = values.length > 0 ? Math.max(...values) / Math.min(...values) : 1;
  const overview =
    ratio > LOG_SCALE_RATIO
      ? { type: "log", nice: true, ticks: logTicks(Math.min(...values), Math.max(...values)) }
      : { zero: true, nice: true };
  const batched = points.filter((p) => !p.single);
  const panels = [
    panel(
      points,
      measure,
      ratio > LOG_SCALE_RATIO ? "every method (logarithmic scale)" : "every method",
      overview,
    ),
  ];
  if (new Set(batched.map((p) => p.method)).size > 1)
    panels.push(
      panel(batched, measure, "batching methods only (zoomed axis)", {
        zero: false,
        nice: true,
        padding: 12,
      }),
    );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: `${token}: ${measure.title}`, anchor: "start", fontSize: 16 },
    background: "#ffffff",
    padding: 12,
    vconcat: panels,
    resolve: { scale: { color: "independent", y: "independent" } },
    config: { font: "Helvetica, Arial, sans-serif", view: { stroke: null } },
  } as unknown as TopLevelSpec;
}

/** Compiles a Vega-Lite specification and renders it to an SVG document. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** A point of the payments-per-pair chart: a method (at its largest batch size) at one value. */
export interface PerPairPoint {
  series: string;
  method: string;
  paymentsPerPair: number;
  value: number;
}

/** The runs' distinct payments-per-pair values (1 for rows without the field), ascending. */
export function paymentsPerPairValues(runs: readonly BenchmarkRun[]): number[] {
  return [...new Set(runs.map((r) => r.paymentsPerPair ?? 1))].sort((a, b) => a - b);
}

/** The runs at one payments-per-pair value (rows without the field count as 1). */
export function runsAtPaymentsPerPair(
  runs: readonly BenchmarkRun[],
  paymentsPerPair: number,
): BenchmarkRun[] {
  return runs.filter((r) => (r.paymentsPerPair ?? 1) === paymentsPerPair);
}

/** Gas per payment of every method at its largest batch size, per payments-per-pair value. */
export function perPairPoints(runs: readonly BenchmarkRun[]): PerPairPoint[] {
  const settled = runs.filter((r) => r.settled > 0);
  const points: PerPairPoint[] = [];
  for (const method of [...new Set(settled.map((r) => r.method))]) {
    const ofMethod = settled.filter((r) => r.method === method);
    const largest = Math.max(...ofMethod.map((r) => r.batchSize));
    const rows = ofMethod
      .filter((r) => r.batchSize === largest)
      .sort((a, b) => (a.paymentsPerPair ?? 1) - (b.paymentsPerPair ?? 1));
    const series = `${method}: ${format(rows.at(-1)!.gasPerPayment)}`;
    for (const r of rows)
      points.push({
        series,
        method,
        paymentsPerPair: r.paymentsPerPair ?? 1,
        value: r.gasPerPayment,
      });
  }
  return points;
}

/**
 * The chart of gas per payment against payments per pair (every payer paying every payee that
 * often per run), every method at its largest batch size, on a logarithmic scale: drawn when the
 * runs have more than one payments-per-pair value.
 *
 * @example
 * if (paymentsPerPairValues(runs).length > 1) await renderSvg(perPairChartSpec("FiatTokenV2_2", runs));
 */
export function perPairChartSpec(token: string, runs: readonly BenchmarkRun[]): TopLevelSpec {
  const points = perPairPoints(runs);
  const values = points.map((p) => p.value).filter((v) => v > 0);
  const series = [...new Set(points.map((p) => p.series))];
  const colors = series.map(
    (s) => METHOD_COLORS[points.find((p) => p.series === s)!.method] ?? "#7f7f7f",
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: {
      text: `${token}: gas per payment vs payments per pair`,
      anchor: "start",
      fontSize: 16,
    },
    background: "#ffffff",
    padding: 12,
    width: 520,
    height: 260,
    data: { values: points },
    mark: { type: "line", point: { filled: true, size: 40 }, strokeWidth: 2.5 },
    encoding: {
      x: {
        field: "paymentsPerPair",
        type: "ordinal",
        title: "payments per (payer, payee) pair per run",
        axis: { labelAngle: 0 },
      },
      y: {
        field: "value",
        type: "quantitative",
        title: "L2 gas per settled payment (logarithmic)",
        scale: { type: "log", nice: true },
        ...(values.length > 0
          ? { axis: { values: logTicks(Math.min(...values), Math.max(...values)) } }
          : {}),
      },
      color: {
        field: "series",
        type: "nominal",
        title: "value at the most payments per pair",
        scale: { domain: series, range: colors },
        legend: { orient: "right", labelLimit: 320, titleLimit: 320 },
      },
      detail: { field: "series" },
    },
    config: { font: "Helvetica, Arial, sans-serif", view: { stroke: null } },
  } as unknown as TopLevelSpec;
}
