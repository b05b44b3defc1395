import type { Address } from "viem";

import type { OperatorLedger, WithdrawalDeadline } from "../../clearing/OperatorLedger.js";

/** What a {@link ClearingScheduler} clears with: `clearPending` for one token (some accounts, or all). */
export type ClearRun = (
  token: Address,
  accounts: readonly { payer: Address }[] | undefined,
) => Promise<void>;

/** Options of a {@link ClearingScheduler}. */
export interface ClearingSchedulerOptions {
  ledger: OperatorLedger;
  clear: ClearRun;
  /** Clear everything pending this often (ms); 0: never on a timer. */
  intervalMs: number;
  /** Clear an account as soon as its uncleared total (value plus fee) reaches this; 0n: never. */
  threshold: bigint;
  /** Clear an account at once when its payer requests a withdrawal. */
  onWithdrawal: boolean;
  /** How long after a failed clear it is tried again (default 1,000 ms). */
  retryMs?: number;
  log: (line: string) => void;
}

/**
 * The clearing scheduler: one job, deciding when to clear. It clears everything pending every
 * `intervalMs`, an account whose uncleared total reaches `threshold` right after the accept that
 * took it there ({@link noteAccepted}), and an account whose payer requested a withdrawal as soon
 * as the request is seen ({@link withdrawalRequested}, fed by `watchLedger`; each timer tick also
 * looks at `ledger.withdrawalDeadlines()`), long before its delay ends. One clear runs at a time;
 * requests made meanwhile are merged into the next run, so a pair is never cleared twice at once.
 *
 * @example
 * const scheduler = new ClearingScheduler({ ledger, clear, intervalMs: 60_000, threshold: 1_000_000n, onWithdrawal: true, log });
 * scheduler.start();
 */
export class ClearingScheduler {
  readonly #options: ClearingSchedulerOptions;
  /** Accounts to clear per token; `"all"` for every pending voucher of the token. */
  #requested = new Map<Address, Set<Address> | "all">();
  #running: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #runs = 0;

  constructor(options: ClearingSchedulerOptions) {
    this.#options = options;
  }

  /** Clear runs finished so far. */
  get runs(): number {
    return this.#runs;
  }

  start(): void {
    if (this.#options.intervalMs > 0) {
      this.#timer = setInterval(() => this.tick(), this.#options.intervalMs);
      this.#timer.unref?.();
    }
  }

  /** The timer's work: everything pending, and every account with a pending withdrawal first. */
  tick(): Promise<void> {
    if (this.#options.onWithdrawal) {
      this.withdrawalRequested(this.#options.ledger.withdrawalDeadlines());
    }
    return this.clearAll();
  }

  /** Clears every pending voucher of every token. */
  clearAll(): Promise<void> {
    for (const token of this.#options.ledger.tokens) this.#requested.set(token, "all");
    return this.#kick();
  }

  /** After an accept: clears the account when its uncleared total reached the threshold. */
  noteAccepted(account: { payer: Address; token: Address }): void {
    const { threshold, ledger } = this.#options;
    if (threshold <= 0n || ledger.uncleared(account) < threshold) return;
    this.#request(account);
  }

  /** A withdrawal was requested: clears those accounts now (when enabled). */
  withdrawalRequested(deadlines: readonly WithdrawalDeadline[]): void {
    if (!this.#options.onWithdrawal || deadlines.length === 0) return;
    for (const deadline of deadlines) this.#request(deadline);
  }

  /** Stops the timer and waits for the run in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  #request({ payer, token }: { payer: Address; token: Address }): void {
    const key = token.toLowerCase() as Address;
    const current = this.#requested.get(key);
    if (current !== "all") {
      const set = current ?? new Set<Address>();
      set.add(payer.toLowerCase() as Address);
      this.#requested.set(key, set);
    }
    void this.#kick();
  }

  /** Requests `scope` again after `retryMs` (a failed clear: nonce, fees, a node hiccup). */
  #retry(token: Address, scope: Set<Address> | "all"): void {
    setTimeout(() => {
      if (scope === "all") this.#requested.set(token, "all");
      else for (const payer of scope) this.#request({ payer, token });
      void this.#kick();
    }, this.#options.retryMs ?? 1_000).unref?.();
  }

  #kick(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    this.#running ??= this.#run().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #run(): Promise<void> {
    while (this.#requested.size > 0 && !this.#stopped) {
      const requested = this.#requested;
      this.#requested = new Map();
      for (const [token, scope] of requested) {
        const accounts = scope === "all" ? undefined : [...scope].map((payer) => ({ payer }));
        if (
          this.#options.ledger.pendingClears({ token, ...(accounts ? { accounts } : {}) })
            .length === 0
        )
          continue;
        try {
          await this.#options.clear(token, accounts);
        } catch (error) {
          const text = error instanceof Error ? error.message : String(error);
          this.#options.log(
            `clearing: clear failed: ${text.split("\n")[0]!.slice(0, 300)}; trying again`,
          );
          this.#retry(token, scope);
        }
      }
      this.#runs += 1;
    }
  }
}
