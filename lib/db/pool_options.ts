/**
 * The options of the pool and their up-front validation (after tarn.js): a bad value is a RangeError naming
 * the option, its bounds and the value, thrown by the constructor or by `close()` before anything starts.
 *
 * @module
 */

import { type Clock, realClock } from "./clock.ts";

/** Sizes and timings of a `Pool`; every field is optional. */
export interface PoolOptions {
  /** Connections kept open once the pool has been used (default 0). */
  min?: number;
  /** Most connections open or opening at once (default 10). */
  max?: number;
  /**
   * Most callers queued while the pool is at `max` with nothing idle; one more is rejected at once with
   * `PoolFullError` (default Infinity; 0 fails fast instead of queueing).
   */
  maxWaiters?: number;
  /** Milliseconds a caller waits before `AcquireTimeoutError` (default 10_000; Infinity waits forever). */
  acquireTimeout?: number;
  /** Milliseconds a connection may sit idle before the reaper closes it (default 30_000; Infinity never). */
  idleTimeout?: number;
  /** Milliseconds between the reaper's looks (default 1_000). */
  reapInterval?: number;
  /** Where the pool's time and timers come from (default real time); tests pass a fake one. */
  clock?: Clock;
}

/** Options of one `Pool.acquire()` call. */
export interface AcquireOptions {
  /** Gives up waiting when aborted; the acquire rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Options of `Pool.close()`. */
export interface CloseOptions {
  /** Milliseconds to wait for leases to come back before destroying them (default 5_000). */
  timeout?: number;
}

/** {@linkcode PoolOptions} with every default filled in and every value checked. */
export type ResolvedPoolOptions = Readonly<Required<PoolOptions>>;

/** setTimeout treats larger delays as 0. */
const MAX_DELAY = 2 ** 31 - 1;

/**
 * Fills in the defaults of `options` and checks every value; throws a RangeError naming the first bad one.
 *
 * @example
 * ```ts
 * import { resolvePoolOptions } from "./pool_options.ts";
 *
 * const options = resolvePoolOptions({ max: 4 });
 * console.log(options.max, options.min, options.acquireTimeout); // 4 0 10000
 * try {
 *   resolvePoolOptions({ min: 5, max: 4 });
 * } catch (error) {
 *   console.log(error instanceof RangeError); // true: "min" (5) must not exceed "max" (4)
 * }
 * ```
 */
export function resolvePoolOptions(options: PoolOptions = {}): ResolvedPoolOptions {
  const min = check('Pool option "min"', options.min ?? 0, 0, false);
  const max = check('Pool option "max"', options.max ?? 10, 1, false);
  if (min > max) {
    throw new RangeError(`Pool option "min" (${min}) must not exceed "max" (${max})`);
  }
  return {
    min,
    max,
    maxWaiters: check('Pool option "maxWaiters"', options.maxWaiters ?? Infinity, 0, true),
    acquireTimeout: check('Pool option "acquireTimeout"', options.acquireTimeout ?? 10_000, 1, true),
    idleTimeout: check('Pool option "idleTimeout"', options.idleTimeout ?? 30_000, 1, true),
    reapInterval: check('Pool option "reapInterval"', options.reapInterval ?? 1_000, 1, false),
    clock: options.clock ?? realClock,
  };
}

/**
 * The deadline of `close()` in milliseconds (default 5_000); throws a RangeError when it is not a whole
 * number from 0 to 2^31 - 1.
 *
 * @example
 * ```ts
 * import { resolveCloseTimeout } from "./pool_options.ts";
 *
 * console.log(resolveCloseTimeout({})); // 5000
 * console.log(resolveCloseTimeout({ timeout: 0 })); // 0: destroy outstanding leases at once
 * ```
 */
export function resolveCloseTimeout(options: CloseOptions): number {
  return check('close() option "timeout"', options.timeout ?? 5_000, 0, false);
}

/** A whole number ≥ `least` (or Infinity when allowed), small enough for setTimeout; else a RangeError. */
function check(what: string, value: number, least: number, infinite: boolean): number {
  if (infinite && value === Infinity) return value;
  if (!Number.isInteger(value) || value < least || value > MAX_DELAY) {
    const kind = infinite ? "Infinity or an integer" : "an integer";
    throw new RangeError(`${what} must be ${kind} from ${least} to ${MAX_DELAY}, got ${value}`);
  }
  return value;
}
