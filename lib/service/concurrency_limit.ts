/**
 * At most `limit` tasks run at once; the rest wait in FIFO order. Used for password hashing: Deno runs each
 * async scrypt on a thread of its own (the blocking pool has hundreds), so a login storm would otherwise
 * hash on every core at once, starve the event loop that delivers chat, and hold 16 MiB per hash.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`ConcurrencyLimit: limit must be an integer >= 1, got ${limit}`);
    }
    this.limit = limit;
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
      if (next) next();
      else this.#running--;
    }
  }
}
