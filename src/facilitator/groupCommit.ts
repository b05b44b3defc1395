/**
 * Group commit: items handed in within `gatherMs` of each other are written by one call of
 * `write` (one SQLite transaction, one disk sync for the group), and each caller gets its own
 * item's result, or the group's error.
 *
 * @example
 * const commit = new GroupCommit((payments) => store.insertPayments(payments));
 * const { payment, created } = await commit.add(newPayment);
 */
export class GroupCommit<T, R> {
  readonly #write: (items: readonly T[]) => R[];
  readonly #gatherMs: number;
  readonly #queue: { item: T; resolve: (result: R) => void; reject: (error: unknown) => void }[] =
    [];
  #flushing: Promise<void> | undefined;

  constructor(write: (items: readonly T[]) => R[], gatherMs = 3) {
    this.#write = write;
    this.#gatherMs = gatherMs;
  }

  /** Items waiting for their group's write. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Writes `item` with the others of its group; resolves with its result once written. */
  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (this.#queue.length === 1) {
        this.#flushing = new Promise<void>((done) =>
          setTimeout(() => {
            this.#flush();
            done();
          }, this.#gatherMs),
        );
      }
    });
  }

  /** Resolves once every item handed in so far is written (or failed). */
  async drain(): Promise<void> {
    while (this.#queue.length > 0 && this.#flushing) await this.#flushing;
  }

  #flush(): void {
    const group = this.#queue.splice(0);
    if (group.length === 0) return;
    try {
      const results = this.#write(group.map((entry) => entry.item));
      group.forEach((entry, index) => entry.resolve(results[index]!));
    } catch (error) {
      for (const entry of group) entry.reject(error);
    }
  }
}
