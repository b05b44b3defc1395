/** Why {@link RequestLimiter.enter} refused a request. */
export type RequestRefusal = "queue_full" | "queue_timeout" | "closing";

/** Options of {@link RequestLimiter}. */
export interface RequestLimiterOptions {
  /** Requests handled at once. */
  maxActive: number;
  /** Requests waiting for a slot; beyond it a request is refused at once. */
  maxWaiting: number;
  /** Longest a request waits for a slot before it is refused. */
  maxWaitMs: number;
}

interface Waiter {
  resolve: (admitted: RequestRefusal | undefined) => void;
  timer: NodeJS.Timeout;
}

/**
 * A bound on the requests handled at once: up to `maxActive` run, up to `maxWaiting` more wait
 * (first come, first served) for at most `maxWaitMs`, and the rest are refused at once. Every
 * admitted request must call the release function it was given exactly once.
 *
 * @example
 * const limiter = new RequestLimiter({ maxActive: 256, maxWaiting: 512, maxWaitMs: 2_000 });
 * const entry = await limiter.enter();
 * if (!entry.admitted) return reply.code(503).send({ reason: entry.refusal });
 * try { ... } finally { entry.release(); }
 */
export class RequestLimiter {
  readonly #options: RequestLimiterOptions;
  readonly #waiting: Waiter[] = [];
  #active = 0;
  #closed = false;

  constructor(options: RequestLimiterOptions) {
    this.#options = {
      maxActive: Math.max(1, Math.floor(options.maxActive)),
      maxWaiting: Math.max(0, Math.floor(options.maxWaiting)),
      maxWaitMs: Math.max(0, options.maxWaitMs),
    };
  }

  /** Requests being handled now. */
  get active(): number {
    return this.#active;
  }

  /** Requests waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Waits for a slot; resolves with a release function, or with the reason it was refused. */
  async enter(): Promise<
    { admitted: true; release: () => void } | { admitted: false; refusal: RequestRefusal }
  > {
    if (this.#closed) return { admitted: false, refusal: "closing" };
    if (this.#active < this.#options.maxActive && this.#waiting.length === 0) {
      this.#active++;
      return { admitted: true, release: this.#releaser() };
    }
    if (this.#waiting.length >= this.#options.maxWaiting) {
      return { admitted: false, refusal: "queue_full" };
    }
    const refusal = await new Promise<RequestRefusal | undefined>((resolve) => {
      const waiter: Waiter = {
        resolve,
        timer: setTimeout(() => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          resolve("queue_timeout");
        }, this.#options.maxWaitMs),
      };
      this.#waiting.push(waiter);
    });
    if (refusal) return { admitted: false, refusal };
    return { admitted: true, release: this.#releaser() };
  }

  /** Refuses every waiting and later request with `closing`; admitted ones run to the end. */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve("closing");
    }
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) {
        // The slot passes straight to the next waiter: `active` stays the same.
        clearTimeout(next.timer);
        next.resolve(undefined);
      } else {
        this.#active--;
      }
    };
  }
}
