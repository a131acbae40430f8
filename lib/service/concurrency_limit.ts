/** Options for {@linkcode ConcurrencyLimit}. */
export interface ConcurrencyLimitOptions {
  /**
   * `now` (the default): a freed slot passes to the next waiter at once. `next turn`: in a later turn of the
   * event loop, after the I/O that is ready, so that a queue of tasks with little real I/O in them (token logins
   * on the embedded store) cannot run back to back while frames of other connections wait. The turn is a
   * `setTimeout(0)`: a chain of `setImmediate` (or of MessageChannel messages) was measured here to hold off
   * network reads for hundreds of milliseconds in Deno 2.9.
   */
  handOff?: "now" | "next turn";
}

/**
 * At most `limit` tasks run at once; the rest wait in FIFO order. Used for password hashing: Deno runs each
 * async scrypt on a thread of its own (the blocking pool has hundreds), so a login storm would otherwise
 * hash on every core at once, starve the event loop that delivers chat, and hold 16 MiB per hash. And for
 * token logins (handed off in the next turn), which a node restart brings all at once.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #nextTurn: boolean;

  constructor(limit: number, options: ConcurrencyLimitOptions = {}) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`ConcurrencyLimit: limit must be an integer >= 1, got ${limit}`);
    }
    this.limit = limit;
    this.#nextTurn = options.handOff === "next turn";
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free; its result or rejection is passed through. */
  async run<R>(task: () => Promise<R>): Promise<R> {
    if (this.#running >= this.limit) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      // The slot passes straight to the next waiter, so a newcomer cannot overtake the queue.
      const next = this.#waiting.shift();
      if (!next) this.#running--;
      else if (this.#nextTurn) setTimeout(next, 0);
      else next();
    }
  }
}
