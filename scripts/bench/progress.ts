/** A progress bar on stderr (cli-progress) that stays silent when stderr is not a terminal. */
import cliProgress from "cli-progress";

import type { BenchmarkProgress } from "../../src/bench/runBenchmark.js";

export interface Progress {
  /** Shows where the benchmark stands (the library's `onProgress`). */
  update(progress: BenchmarkProgress): void;
  stop(): void;
}

/** A progress sink that does nothing (tests, pipes, CI logs). */
export const silentProgress: Progress = { update() {}, stop() {} };

/** Seconds as `42s`, `3m07s` or `1h02m`, rounded to whole seconds first (never `1m60s`). */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

/**
 * Seconds left at the rate measured since the first payment completed, or undefined until there
 * is a rate to go by (a few payments over at least two seconds): the funding and signing before
 * the first payment would otherwise make the first estimate many times too long.
 */
export function estimateRemaining(
  firstAt: { ms: number; done: number } | undefined,
  nowMs: number,
  done: number,
  total: number,
): number | undefined {
  if (!firstAt || done >= total) return done >= total ? 0 : undefined;
  const elapsed = (nowMs - firstAt.ms) / 1000;
  const progressed = done - firstAt.done;
  if (elapsed < 2 || progressed < 5) return undefined;
  return ((total - done) * elapsed) / progressed;
}

/**
 * Starts a bar, or returns {@link silentProgress} when `enabled` is false or stderr is not a TTY.
 *
 * @example
 * const progress = startProgress();
 * await runBenchmark(client, { onProgress: (p) => progress.update(p) });
 * progress.stop();
 */
export function startProgress(enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return silentProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{bar} {percentage}% | {value}/{total} payments | ETA {remaining} | {task}",
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  let firstAt: { ms: number; done: number } | undefined;
  return {
    update({ done, total, task }) {
      const now = performance.now();
      if (!firstAt && done > 0) firstAt = { ms: now, done };
      const left = estimateRemaining(firstAt, now, done, total);
      const payload = { task, remaining: left === undefined ? "--" : formatDuration(left) };
      if (!started) {
        bar.start(total, done, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}
