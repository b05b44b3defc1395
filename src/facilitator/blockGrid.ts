/** Options of a {@link BlockGrid}. */
export interface BlockGridOptions {
  /** The chain's block interval when it is regular (Base: 2000 ms); unset: batches wait `maxWaitMs`. */
  blockTimeMs?: number;
  /** How long before the predicted block a batch is sent (default 200 ms). */
  flushMarginMs?: number;
  /** Longest a batch waits, whatever the grid says. */
  maxWaitMs: number;
}

/** When the late batch of a block is sent, before the block is due; later payments wait a block. */
export const LATE_CUTOFF_MS = 60;
/** Share of a later-than-predicted block sighting by which the grid estimate moves later. */
export const GRID_CREEP = 0.1;

/**
 * The block-grid scheduler: estimates when the chain produces blocks from when new heads are
 * seen, and says how long a new batch should wait so that it is sent `flushMarginMs` before the
 * next block is due (its payments then land in the block a one-transaction-per-payment facilitator
 * would reach, in one transaction). A head is seen some polling and event-loop delay after it was
 * made, so the earliest sighting relative to the grid is the best estimate: the grid moves earlier
 * at once and later only by {@link GRID_CREEP} of the difference (a drifting or restarted block
 * producer). Pure: times are passed in, so it is tested without a chain or a clock.
 *
 * @example
 * const grid = new BlockGrid({ blockTimeMs: 2_000, maxWaitMs: 500 });
 * grid.observe(Date.now()); // a new head was seen
 * setTimeout(flush, grid.delay(Date.now()));
 */
export class BlockGrid {
  readonly #blockTimeMs: number | undefined;
  readonly #marginMs: number;
  readonly #maxWaitMs: number;
  #anchor: number | undefined;

  constructor(options: BlockGridOptions) {
    this.#blockTimeMs =
      options.blockTimeMs && options.blockTimeMs > 0 ? options.blockTimeMs : undefined;
    this.#marginMs = Math.max(0, options.flushMarginMs ?? 200);
    this.#maxWaitMs = Math.max(0, options.maxWaitMs);
  }

  /** A time on the estimated block grid (when a block was made), once a head was seen. */
  get anchor(): number | undefined {
    return this.#anchor;
  }

  /** A new head was first seen at `seenAt` (ms). */
  observe(seenAt: number): void {
    const blockTimeMs = this.#blockTimeMs;
    const anchor = this.#anchor;
    if (!blockTimeMs || anchor === undefined) {
      this.#anchor = seenAt;
      return;
    }
    const periods = Math.round((seenAt - anchor) / blockTimeMs);
    const expected = anchor + periods * blockTimeMs;
    const offset = seenAt - expected;
    this.#anchor = offset < 0 ? anchor + offset : anchor + Math.round(offset * GRID_CREEP);
  }

  /** Milliseconds a batch started at `now` waits: until just before the next block, at most maxWaitMs. */
  delay(now: number): number {
    const blockTimeMs = this.#blockTimeMs;
    if (!blockTimeMs || this.#anchor === undefined) return this.#maxWaitMs;
    let boundary = this.#anchor + blockTimeMs;
    if (boundary <= now) boundary += Math.ceil((now - boundary + 1) / blockTimeMs) * blockTimeMs;
    // Past the planned send time but the block is not due yet: the late payments are gathered
    // into one more batch, sent LATE_CUTOFF_MS before the block, instead of waiting a whole block.
    if (boundary - this.#marginMs <= now) {
      const late = boundary - LATE_CUTOFF_MS - now;
      return Math.min(
        this.#maxWaitMs,
        late > 0 ? late : boundary + blockTimeMs - this.#marginMs - now,
      );
    }
    return Math.min(this.#maxWaitMs, boundary - this.#marginMs - now);
  }
}
