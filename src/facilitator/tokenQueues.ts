import type { Address } from "viem";

/** Options of {@link TokenQueues}. */
export interface TokenQueuesOptions<P> {
  /** Most payments handed to `send` at once. */
  maxBatchSize: number;
  /** How long (ms) a queue that just got its first payment waits before it is flushed. */
  delay: () => number;
  /** Receives each batch of one token's payments, in arrival order. */
  send: (token: Address, payments: P[]) => void;
}

/**
 * One queue of accepted payments per token. A queue is flushed into batches of at most
 * `maxBatchSize` when it is full or when the delay of its first payment ran out (the scheduler
 * decides the delay; see {@link BlockGrid}).
 *
 * @example
 * const queues = new TokenQueues({ maxBatchSize: 68, delay: () => 500, send: dispatch });
 * queues.push(payment.token, payment);
 */
export class TokenQueues<P> {
  readonly #options: TokenQueuesOptions<P>;
  readonly #queues = new Map<Address, P[]>();
  readonly #timers = new Map<Address, NodeJS.Timeout>();

  constructor(options: TokenQueuesOptions<P>) {
    this.#options = options;
  }

  /** Payments waiting in all queues. */
  get size(): number {
    let size = 0;
    for (const queue of this.#queues.values()) size += queue.length;
    return size;
  }

  /** Queues `payment`; flushes its token's queue at once when full or when `now` is set. */
  push(token: Address, payment: P, now = false): void {
    const queue = this.#queues.get(token) ?? [];
    this.#queues.set(token, queue);
    queue.push(payment);
    if (now || queue.length >= this.#options.maxBatchSize) this.flush(token);
    else if (!this.#timers.has(token)) {
      this.#timers.set(
        token,
        setTimeout(() => this.flush(token), this.#options.delay()),
      );
    }
  }

  /** Sends everything queued for `token` now. */
  flush(token: Address): void {
    const timer = this.#timers.get(token);
    if (timer) clearTimeout(timer);
    this.#timers.delete(token);
    const queue = this.#queues.get(token) ?? [];
    this.#queues.delete(token);
    while (queue.length > 0) this.#options.send(token, queue.splice(0, this.#options.maxBatchSize));
  }

  /** Sends everything queued now. */
  flushAll(): void {
    for (const token of [...this.#queues.keys()]) this.flush(token);
  }
}
