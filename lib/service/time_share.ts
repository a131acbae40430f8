/**
 * A share of real time for one kind of task (token logins), so that a queue of them cannot take the whole
 * event loop while other work (chat frames) waits. The time during which at least one such task is in flight
 * is charged to a budget that refills at `share` of real time: while tasks run the budget falls by
 * `1 - share` per millisecond, while none runs it rises by `share`. A new task may start while the budget is
 * not below 0; once it is overdrawn, the next one waits until it is back at 0.
 *
 * A share of time, not a number of tasks per second, so that the rate follows the machine's speed: on the
 * embedded store a token login runs to its end without real I/O, so its time in flight is its time on the
 * event loop. A task waiting on real I/O (MySQL, Redis) is charged for its wait as well. It is a throttle, not
 * a priority: the node cannot tell when nothing else waits, so the budget holds logins back then too.
 *
 * @module
 */

import { type Clock, realClock } from "../db/clock.ts";

/** Rounding: a budget refilled for exactly the time {@linkcode TimeShare.msUntilFree} said may miss 0 by this. */
const ROUNDING_MS = 1e-9;

/** Options for {@linkcode TimeShare}. */
export interface TimeShareOptions {
  /**
   * The budget's bound either way, in ms: what an idle stretch saves up (a burst after it), and the most one
   * long task can overdraw (so that a task stuck for seconds does not hold back those after it for as long).
   * Default 10.
   */
  boundMs?: number;
  /** Where time comes from (tests pass a fake one). */
  clock?: Clock;
}

/**
 * The accounting of one share of time. {@linkcode ConcurrencyLimit} uses it when given one: it asks
 * {@linkcode TimeShare.msUntilFree} before it starts a task and reports each task's start and end.
 *
 * @example
 * ```ts
 * import { TimeShare } from "./time_share.ts";
 *
 * const share = new TimeShare(0.5);
 * share.started();
 * share.ended();
 * console.log(share.msUntilFree() >= 0); // true
 * ```
 */
export class TimeShare {
  readonly share: number;
  readonly clock: Clock;
  readonly #boundMs: number;
  /** ms of time in flight that tasks may still take; at most `boundMs`, at least `-boundMs`. */
  #budget: number;
  #accountedAt: number;
  #inFlight = 0;

  /** `share`: the part of real time tasks may be in flight, above 0 and at most 1. */
  constructor(share: number, options: TimeShareOptions = {}) {
    if (!(share > 0 && share <= 1)) {
      throw new RangeError(`TimeShare: share must be above 0 and at most 1, got ${share}`);
    }
    const boundMs = options.boundMs ?? 10;
    if (!(boundMs > 0 && Number.isFinite(boundMs))) {
      throw new RangeError(`TimeShare: boundMs must be a finite number above 0, got ${boundMs}`);
    }
    this.share = share;
    this.#boundMs = boundMs;
    this.clock = options.clock ?? realClock;
    this.#budget = boundMs;
    this.#accountedAt = this.clock.now();
  }

  /** The budget now, in ms (not below 0: a task may start). */
  get budgetMs(): number {
    this.#account();
    return this.#budget;
  }

  /** A task started. */
  started(): void {
    this.#account();
    this.#inFlight++;
  }

  /** A task ended (answered or failed). */
  ended(): void {
    this.#account();
    if (this.#inFlight === 0) throw new Error("TimeShare: ended() without a task in flight");
    this.#inFlight--;
  }

  /**
   * 0 when a task may start now; otherwise how many ms until the budget is refilled if nothing starts, or
   * `Infinity` while tasks are in flight (their time is still being charged: ask again when one ends).
   */
  msUntilFree(): number {
    this.#account();
    if (this.#budget >= -ROUNDING_MS) return 0;
    if (this.#inFlight > 0) return Infinity;
    return -this.#budget / this.share;
  }

  /** Charges the time since the last account to the budget: refilled at `share`, spent while tasks run. */
  #account(): void {
    const now = this.clock.now();
    const elapsed = now - this.#accountedAt;
    this.#accountedAt = now;
    const spent = this.#inFlight > 0 ? elapsed : 0;
    const budget = this.#budget + elapsed * this.share - spent;
    this.#budget = Math.max(-this.#boundMs, Math.min(this.#boundMs, budget));
  }
}
