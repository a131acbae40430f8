/**
 * A caller queued for a connection, and the deadline that ends its wait (after tarn.js's
 * PendingOperation): the acquire timeout or the caller's signal, whichever comes first. Both are
 * cancelled the moment the waiter is served, so a served or abandoned waiter leaves no timer and no
 * listener behind.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { AcquireTimeoutError } from "./errors.ts";
import type { PooledConnection } from "./pool_lease.ts";

/** A caller of `Pool.acquire()` waiting in the FIFO queue. */
export interface Waiter<T> {
  readonly deferred: PromiseWithResolvers<PooledConnection<T>>;
  /** Cancels the waiter's timeout and removes its abort listener; a no-op until they exist. */
  detach: () => void;
}

/** How {@linkcode startDeadline} ends a wait. */
export interface DeadlineOptions<T> {
  /** The caller's signal: when it aborts, the wait rejects with its reason. */
  signal?: AbortSignal;
  /** Milliseconds before the wait rejects with `AcquireTimeoutError`; Infinity never. */
  timeout: number;
  /** Where the timer comes from. */
  clock: Clock;
  /** The last failure to open a connection, read when the timeout fires: it becomes the error's cause. */
  lastCreateError(): unknown;
  /** Takes the waiter out of the queue; called when its wait ends unserved, before it is rejected. */
  dequeue(waiter: Waiter<T>): void;
}

/**
 * Ends the wait of `waiter` at `options.timeout` or when `options.signal` aborts, whichever comes first;
 * `waiter.detach()` (called by whoever serves it) cancels both.
 *
 * @example
 * ```ts
 * import { realClock } from "./clock.ts";
 * import { startDeadline, type Waiter } from "./pool_waiter.ts";
 *
 * const queue: Waiter<string>[] = [];
 * const waiter: Waiter<string> = { deferred: Promise.withResolvers(), detach: () => {} };
 * queue.push(waiter);
 * startDeadline(waiter, {
 *   timeout: 1_000,
 *   clock: realClock,
 *   lastCreateError: () => undefined,
 *   dequeue: (gone) => queue.splice(queue.indexOf(gone), 1),
 * });
 * // Served before the deadline: the timer is cancelled.
 * queue.shift()!.detach();
 * waiter.deferred.resolve({ connection: "db", since: 0, broken: false, detach: () => {} });
 * ```
 */
export function startDeadline<T>(waiter: Waiter<T>, options: DeadlineOptions<T>): void {
  const { signal, timeout, clock } = options;
  let served = false;
  let cancelTimeout = () => {};
  const giveUp = (reason: unknown) => {
    waiter.detach();
    options.dequeue(waiter);
    waiter.deferred.reject(reason);
  };
  const onAbort = () => giveUp(signal!.reason);
  // Detach is in place before the timer exists: the first setTimeout of a Deno test process can run
  // pending microtasks, which may serve this waiter before schedule() returns.
  waiter.detach = () => {
    served = true;
    cancelTimeout();
    signal?.removeEventListener("abort", onAbort);
  };
  signal?.addEventListener("abort", onAbort);
  if (timeout === Infinity) return;
  const cancel = clock.schedule(() => {
    const cause = options.lastCreateError();
    giveUp(new AcquireTimeoutError(timeout, cause === undefined ? undefined : { cause }));
  }, timeout);
  if (served) cancel();
  else cancelTimeout = cancel;
}
