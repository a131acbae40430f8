/**
 * Event loop lag: how late a periodic timer fires. A loop stalled by synchronous work (a slow query
 * driver, a hash on the main thread) shows here first.
 */
export class LoopLagMonitor implements Disposable {
  #last = 0;
  #max = 0;
  readonly #timer: number;

  constructor(readonly intervalMs = 500) {
    let expected = performance.now() + intervalMs;
    this.#timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - expected);
      this.#last = lag;
      this.#max = Math.max(this.#max, lag);
      expected = now + intervalMs;
    }, intervalMs) as unknown as number; // a number under Deno; @types/node in the graph says Timeout
    Deno.unrefTimer(this.#timer);
  }

  /** Lag of the latest tick, in seconds. */
  get lastSeconds(): number {
    return this.#last / 1000;
  }

  /** Largest lag seen, in seconds. */
  get maxSeconds(): number {
    return this.#max / 1000;
  }

  [Symbol.dispose](): void {
    clearInterval(this.#timer);
  }
}
