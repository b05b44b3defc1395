/** Small, dependency-free SVG line charts for the benchmark report. */

export interface ChartSeries {
  name: string;
  color: string;
  /** Points by x value (batch size); a series with `flat` is drawn as a dashed horizontal line. */
  points: { x: number; y: number }[];
  flat?: boolean;
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Categories of the x axis (batch sizes), evenly spaced. */
  xValues: number[];
  series: ChartSeries[];
  width?: number;
  height?: number;
}

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The value at the largest x (what the legend shows). */
function lastValue(series: ChartSeries): number {
  return [...series.points].sort((a, b) => a.x - b.x).at(-1)?.y ?? 0;
}

/** A round axis maximum and step for values up to `max`. */
export function niceScale(max: number, ticks = 5): { max: number; step: number } {
  if (!(max > 0)) return { max: 1, step: 0.2 };
  const raw = max / ticks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw)!;
  return { max: Math.ceil(max / step) * step, step };
}

function formatValue(value: number): string {
  return value >= 100 ? Math.round(value).toLocaleString("en-US") : value.toFixed(1);
}

function formatTick(value: number): string {
  if (value >= 10_000) return `${Math.round(value / 1000)}k`;
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  return value.toFixed(1);
}

/**
 * Renders a line chart: one line per series over evenly spaced x categories, with axes, grid,
 * value labels and a legend.
 *
 * @example
 * const svg = lineChart({ title: "Gas per payment", xLabel: "batch size", yLabel: "gas",
 *   xValues: [50, 100], series: [{ name: "router", color: "#1f77b4", points: [{ x: 50, y: 47000 }] }] });
 */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 760;
  const height = options.height ?? 400;
  const margin = { top: 48, right: 240, bottom: 56, left: 78 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ys = options.series.flatMap((s) => s.points.map((p) => p.y));
  const { max: yMax, step } = niceScale(Math.max(0, ...ys) * 1.05);
  const n = options.xValues.length;
  const xAt = (x: number) => {
    const i = options.xValues.indexOf(x);
    const inset = 36;
    return margin.left + (n === 1 ? plotW / 2 : inset + ((plotW - 2 * inset) * i) / (n - 1));
  };
  const yAt = (y: number) => margin.top + plotH - (plotH * y) / yMax;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${margin.left}" y="28" ${FONT} font-size="17" font-weight="bold" fill="#222">${escapeXml(options.title)}</text>`,
  );
  for (let v = 0; v <= yMax + step / 2; v += step) {
    const y = yAt(v).toFixed(1);
    out.push(
      `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e3e3e3" stroke-width="1"/>`,
      `<text x="${margin.left - 8}" y="${y}" ${FONT} font-size="12" fill="#555" text-anchor="end" dominant-baseline="middle">${formatTick(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="#333" stroke-width="1.2"/>`,
    `<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="#333" stroke-width="1.2"/>`,
  );
  for (const x of options.xValues) {
    const px = xAt(x).toFixed(1);
    out.push(
      `<line x1="${px}" y1="${margin.top + plotH}" x2="${px}" y2="${margin.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${px}" y="${margin.top + plotH + 20}" ${FONT} font-size="12" fill="#333" text-anchor="middle">${x}</text>`,
    );
  }
  out.push(
    `<text x="${margin.left + plotW / 2}" y="${height - 12}" ${FONT} font-size="13" fill="#333" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" ${FONT} font-size="13" fill="#333" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );

  // Value labels are drawn only where they do not overlap one already drawn.
  const placed: { x: number; y: number }[] = [];
  const label = (x: number, y: number, text: string, color: string, anchor = "middle") => {
    if (placed.some((p) => Math.abs(p.x - x) < 44 && Math.abs(p.y - y) < 14)) return;
    placed.push({ x, y });
    out.push(
      `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${FONT} font-size="11" fill="${color}" text-anchor="${anchor}">${text}</text>`,
    );
  };

  options.series.forEach((series, index) => {
    if (series.points.length === 0) return;
    if (series.flat) {
      const y = yAt(series.points[0]!.y).toFixed(1);
      out.push(
        `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="${series.color}" stroke-width="2.5" stroke-dasharray="7 5"/>`,
      );
      label(
        margin.left + plotW - 4,
        Number(y) - 7,
        formatValue(series.points[0]!.y),
        series.color,
        "end",
      );
    } else {
      const pts = [...series.points].sort((a, b) => a.x - b.x);
      const path = pts.map((p) => `${xAt(p.x).toFixed(1)},${yAt(p.y).toFixed(1)}`).join(" ");
      if (pts.length > 1)
        out.push(
          `<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2.5" stroke-linejoin="round"/>`,
        );
      for (const p of pts) {
        const cx = xAt(p.x).toFixed(1);
        const cy = yAt(p.y).toFixed(1);
        out.push(`<circle cx="${cx}" cy="${cy}" r="4" fill="${series.color}"/>`);
        label(Number(cx), Number(cy) - 9, formatValue(p.y), series.color);
      }
    }
    const ly = margin.top + 10 + index * 22;
    const lx = margin.left + plotW + 18;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${series.color}" stroke-width="2.5"${series.flat ? ' stroke-dasharray="7 5"' : ""}/>`,
      `<text x="${lx + 32}" y="${ly}" ${FONT} font-size="12" fill="#222" dominant-baseline="middle">${escapeXml(series.name)}: ${formatValue(lastValue(series))}</text>`,
    );
  });
  const notes = ["legend: value at the largest batch"];
  if (options.series.some((s) => s.flat)) notes.push("dashed: one payment per transaction");
  notes.forEach((note, i) =>
    out.push(
      `<text x="${margin.left + plotW + 18}" y="${margin.top + 18 + (options.series.length + i) * 22}" ${FONT} font-size="11" fill="#666">${note}</text>`,
    ),
  );
  out.push("</svg>");
  return out.join("\n") + "\n";
}
