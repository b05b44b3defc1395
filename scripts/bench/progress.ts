/** A progress bar on stderr (cli-progress) that stays silent when stderr is not a terminal. */
import cliProgress from "cli-progress";

export interface Progress {
  /** Adds `n` settled-or-failed payments to the bar. */
  tick(n?: number): void;
  /** Names what is running now (token and method). */
  label(text: string): void;
  stop(): void;
}

/** A progress sink that does nothing (tests, pipes, CI logs). */
export const silentProgress: Progress = { tick() {}, label() {}, stop() {} };

/**
 * Starts a bar over `total` payments, or returns {@link silentProgress} when `enabled` is false
 * or stderr is not a TTY.
 *
 * @example
 * const progress = startProgress(1_000); progress.tick(100); progress.stop();
 */
export function startProgress(total: number, enabled = process.stderr.isTTY === true): Progress {
  if (!enabled) return silentProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: "{bar} {percentage}% | {value}/{total} payments | {eta_formatted} | {task}",
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0, { task: "" });
  return {
    tick: (n = 1) => bar.increment(n),
    label: (text) => bar.update({ task: text }),
    stop: () => bar.stop(),
  };
}
