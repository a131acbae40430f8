/**
 * The process's resident memory against a configured bound (`--max-memory`), sampled on a timer: a connection
 * only reads the last sample, so a storm of new connections costs no extra reads of the RSS.
 */

/** Options for {@linkcode MemoryBound}. */
export interface MemoryBoundOptions {
  /** The bound in bytes; 0 turns the check off. */
  maxBytes: number;
  /** Milliseconds between samples (default 1000). */
  intervalMs?: number;
  /** Reads the RSS in bytes (default `Deno.memoryUsage().rss`); tests pass their own. */
  readRss?: () => number;
}

/**
 * @example
 * ```ts
 * import { MemoryBound } from "./memory_bound.ts";
 *
 * using bound = new MemoryBound({ maxBytes: 512 * 1024 * 1024 });
 * if (bound.reached) console.log("refuse new connections");
 * ```
 */
export class MemoryBound implements Disposable {
  readonly maxBytes: number;
  readonly #readRss: () => number;
  readonly #timer: ReturnType<typeof setInterval> | undefined;
  #rss = 0;

  constructor(options: MemoryBoundOptions) {
    if (!Number.isInteger(options.maxBytes) || options.maxBytes < 0) {
      throw new RangeError(`MemoryBound: maxBytes must be an integer >= 0, got ${options.maxBytes}`);
    }
    this.maxBytes = options.maxBytes;
    this.#readRss = options.readRss ?? (() => Deno.memoryUsage().rss);
    if (this.maxBytes === 0) return;
    this.sample();
    const timer = setInterval(() => this.sample(), options.intervalMs ?? 1000);
    // Sampling alone must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** True while the last sample was at or above the bound (never when the bound is off). */
  get reached(): boolean {
    return this.maxBytes > 0 && this.#rss >= this.maxBytes;
  }

  /** The last sampled RSS in bytes (0 when the bound is off). */
  get rss(): number {
    return this.#rss;
  }

  /** Reads the RSS now (the timer calls it; tests call it after changing what `readRss` returns). */
  sample(): void {
    this.#rss = this.#readRss();
  }

  /** Stops sampling. Idempotent. */
  stop(): void {
    clearInterval(this.#timer);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}
