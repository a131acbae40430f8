/**
 * A {@linkcode Clock} that moves only when a test says so: timers run in order of their due time during
 * {@linkcode FakeClock.advance}, synchronously, with `now()` set to each one's due time while it runs.
 *
 * @module
 */

import type { Clock } from "../../lib/db/clock.ts";

interface Timer {
  readonly at: number;
  /** Breaks ties between timers due at the same moment: the one scheduled first runs first. */
  readonly order: number;
  readonly callback: () => void;
}

/**
 * Fake time for a pool (or anything else that takes a {@linkcode Clock}).
 *
 * @example
 * ```ts
 * import { FakeClock } from "./fake_clock.ts";
 *
 * const clock = new FakeClock();
 * const fired: number[] = [];
 * clock.schedule(() => fired.push(clock.now()), 100);
 * clock.advance(99); // fired: []
 * clock.advance(1); // fired: [100]
 * ```
 */
export class FakeClock implements Clock {
  #now = 0;
  #order = 0;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  schedule(callback: () => void, delay: number): () => void {
    if (!(delay >= 0)) throw new RangeError(`FakeClock.schedule(): delay must be ≥ 0, got ${delay}`);
    const timer: Timer = { at: this.#now + delay, order: this.#order++, callback };
    this.#timers.push(timer);
    return () => {
      this.#timers = this.#timers.filter((other) => other !== timer);
    };
  }

  /** Timers scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, running every timer that falls due on the way (also those the callbacks
   * schedule), in order of due time.
   */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`FakeClock.advance(): ms must be ≥ 0, got ${ms}`);
    const end = this.#now + ms;
    while (true) {
      const next = this.#timers
        .filter((timer) => timer.at <= end)
        .sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (!next) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = next.at;
      next.callback();
    }
    this.#now = end;
  }
}
