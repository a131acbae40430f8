/**
 * Time as the pool sees it. Injectable so that tests drive the idle reaper, acquire timeouts and close
 * deadlines step by step instead of waiting on real time with a margin.
 *
 * @module
 */

/** A source of time and one-shot timers. */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes back (like `performance.now()`). */
  now(): number;
  /** Calls `callback` once after `delay` ms; returns a function that cancels it (a no-op once it ran). */
  schedule(callback: () => void, delay: number): () => void;
}

/**
 * Real time: `performance.now()` and `setTimeout`, the default of every pool.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 *
 * const started = realClock.now();
 * const cancel = realClock.schedule(() => console.log("late"), 1_000);
 * cancel(); // nothing is printed
 * console.log(realClock.now() >= started); // true
 * ```
 */
export const realClock: Clock = {
  now: () => performance.now(),
  schedule(callback, delay) {
    const timer = setTimeout(callback, delay);
    return () => clearTimeout(timer);
  },
};
