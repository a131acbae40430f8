/**
 * A generic connection pool, hand-written so that its behaviour under failure is ours to define and test
 * (see DESIGN.md, "The connection pool"). It pools whatever a {@linkcode PoolFactory} opens: single mysql2
 * connections in production, fakes in `tests/pool_test.ts`.
 *
 * Shape (after pg-pool): plain arrays of idle connections and waiters, a set of leased ones, and one
 * private `#dispatch()` that is the only place where waiters meet connections; acquire, release, create,
 * remove and reap all end by calling it. The pieces around it have a file each: the factory seam
 * (`pool_factory.ts`), the options and their validation (`pool_options.ts`), a pooled connection and its
 * lease (`pool_lease.ts`), a waiter and its deadline (`pool_waiter.ts`). This module re-exports their
 * public types, so `pool.ts` stays the one import for callers.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { CloseTimeoutError, PoolClosedError, PoolCloseError, PoolFullError } from "./errors.ts";
import type { PoolFactory } from "./pool_factory.ts";
import { createLease, type Lease, type PooledConnection } from "./pool_lease.ts";
import {
  type AcquireOptions,
  type CloseOptions,
  type PoolOptions,
  resolveCloseTimeout,
  resolvePoolOptions,
} from "./pool_options.ts";
import { startDeadline, type Waiter } from "./pool_waiter.ts";

export type { PoolFactory } from "./pool_factory.ts";
export type { Lease } from "./pool_lease.ts";
export type { AcquireOptions, CloseOptions, PoolOptions } from "./pool_options.ts";

/** Wait after a failed create before trying again, so that a database that is down is not hammered. */
const CREATE_RETRY_DELAY = 100;
/** Destroy failures kept for close() to report: bounded, like everything else. */
const MAX_KEPT_FAILURES = 100;

/**
 * A pool of connections with a bounded FIFO wait queue, acquire timeouts, an idle reaper and an orderly close.
 *
 * @example
 * ```ts
 * import { Pool, type PoolFactory } from "./pool.ts";
 *
 * // Production passes mysqlFactory(url) from mysql_factory.ts; any factory will do.
 * interface Db {
 *   query(sql: string): Promise<string[]>;
 * }
 * const factory: PoolFactory<Db> = {
 *   create: () => Promise.resolve({ query: (sql) => Promise.resolve([sql]) }),
 *   destroy: () => Promise.resolve(),
 * };
 * await using pool = new Pool(factory, { max: 8, acquireTimeout: 2_000 });
 * const rows = await pool.withConnection((db) => db.query("SELECT 1"));
 * {
 *   await using lease = await pool.acquire({ signal: AbortSignal.timeout(500) });
 *   await lease.connection.query("SELECT 2");
 * } // released here
 * console.log(rows, pool.idle); // [ "SELECT 1" ] 1
 * ```
 */
export class Pool<T> implements AsyncDisposable {
  #factory: PoolFactory<T>;
  #min: number;
  #max: number;
  #maxWaiters: number;
  #acquireTimeout: number;
  #idleTimeout: number;
  #reapInterval: number;
  #clock: Clock;

  /** Oldest first: released connections are pushed, and acquire takes the newest so the surplus ages out. */
  #idle: PooledConnection<T>[] = [];
  #leased = new Set<PooledConnection<T>>();
  #waiters: Waiter<T>[] = [];
  #pending = 0;
  #lastCreateError: unknown = undefined;
  #used = false;
  /** Cancels the reaper's next look; set only while one is scheduled. */
  #reaper: (() => void) | undefined;
  /** Cancels the create retry after a failure; set only while one is scheduled. */
  #retry: (() => void) | undefined;
  #destroying = new Set<Promise<void>>();
  #failures: unknown[] = [];
  /** Aborts connections still opening when the pool closes. */
  #closer = new AbortController();
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Resolved by the last release or create while close() waits. */
  #drained: PromiseWithResolvers<void> | undefined;

  /** Validates `options` (RangeError naming the bad one); opens nothing and starts no timer. */
  constructor(factory: PoolFactory<T>, options: PoolOptions = {}) {
    this.#factory = factory;
    const resolved = resolvePoolOptions(options);
    this.#min = resolved.min;
    this.#max = resolved.max;
    this.#maxWaiters = resolved.maxWaiters;
    this.#acquireTimeout = resolved.acquireTimeout;
    this.#idleTimeout = resolved.idleTimeout;
    this.#reapInterval = resolved.reapInterval;
    this.#clock = resolved.clock;
  }

  /** Open connections, idle or leased (not those still opening). */
  get size(): number {
    return this.#idle.length + this.#leased.size;
  }
  /** Open connections nobody holds. */
  get idle(): number {
    return this.#idle.length;
  }
  /** Connections currently leased. */
  get inUse(): number {
    return this.#leased.size;
  }
  /** Callers queued for a connection. */
  get waiting(): number {
    return this.#waiters.length;
  }
  /** Connections being opened. */
  get pending(): number {
    return this.#pending;
  }

  /**
   * Borrows a connection: an idle one, a new one, or the next one released, in FIFO order of callers.
   * Rejects with `PoolFullError` at once when the pool is saturated and `maxWaiters` are queued,
   * `AcquireTimeoutError` after `acquireTimeout`, the signal's reason when aborted, `PoolClosedError`
   * when the pool closes.
   *
   * @example
   * ```ts
   * import type { Pool } from "./pool.ts";
   *
   * declare const pool: Pool<{ query(sql: string): Promise<unknown> }>;
   * await using lease = await pool.acquire({ signal: AbortSignal.timeout(500) });
   * await lease.connection.query("SELECT 1");
   * ```
   */
  async acquire(options: AcquireOptions = {}): Promise<Lease<T>> {
    const { signal } = options;
    if (this.#closed) throw new PoolClosedError();
    signal?.throwIfAborted();
    const saturated = this.#idle.length === 0 && this.size + this.#pending >= this.#max;
    if (saturated && this.#waiters.length >= this.#maxWaiters) {
      throw new PoolFullError(this.#maxWaiters);
    }
    this.#used = true;
    const waiter: Waiter<T> = { deferred: Promise.withResolvers(), detach: () => {} };
    this.#waiters.push(waiter);
    this.#dispatch();
    // Served on the spot: no need to start a clock (each one is a timer).
    if (this.#waiters.includes(waiter)) this.#startDeadline(waiter, signal);
    const entry = await waiter.deferred.promise;
    return createLease(entry, (leased, failed) => this.#release(leased, failed));
  }

  /**
   * Runs `fn` with a connection and always releases it; when `fn` throws an error that
   * `factory.isFatal` deems fatal (every error by default) the connection is destroyed.
   *
   * @example
   * ```ts
   * import type { Pool } from "./pool.ts";
   *
   * declare const pool: Pool<{ query(sql: string): Promise<[unknown[], unknown]> }>;
   * const [rows] = await pool.withConnection((db) => db.query("SELECT id FROM user"));
   * console.log(rows.length);
   * ```
   */
  async withConnection<R>(fn: (connection: T) => Promise<R>, options?: AcquireOptions): Promise<R> {
    const lease = await this.acquire(options);
    let result: R;
    try {
      result = await fn(lease.connection);
    } catch (error) {
      lease.release((this.#factory.isFatal?.(error) ?? true) ? error : undefined);
      throw error;
    }
    lease.release();
    return result;
  }

  /**
   * Idempotent. Rejects waiters and refuses new acquires (`PoolClosedError`), aborts connections still
   * opening, waits up to `timeout` ms (default 5_000) for leases to come back, then destroys everything.
   * Rejects with a `PoolCloseError` (an AggregateError) listing every failure: destroys that failed
   * since the pool opened (the first 100) and a `CloseTimeoutError` when the deadline passed.
   * Connections that open after close() are destroyed; one stuck forever is the factory's to abort.
   *
   * @example
   * ```ts
   * import type { Pool } from "./pool.ts";
   *
   * declare const pool: Pool<unknown>;
   * Deno.addSignalListener("SIGTERM", () => pool.close({ timeout: 2_000 }));
   * ```
   */
  close(options: CloseOptions = {}): Promise<void> {
    if (!this.#closing) {
      try {
        this.#closing = this.#shutdown(resolveCloseTimeout(options));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return this.#closing;
  }

  /** Same as {@linkcode Pool.close} with the default deadline. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The only place where waiters meet connections; also starts the creates that are needed. */
  #dispatch(): void {
    if (this.#closed) return;
    while (this.#waiters.length > 0 && this.#idle.length > 0) {
      const waiter = this.#waiters.shift()!;
      const entry = this.#idle.pop()!;
      waiter.detach();
      this.#leased.add(entry);
      waiter.deferred.resolve(entry);
    }
    // One create per waiter not yet covered by a pending one, plus the top-up to `min`; the top-up
    // pauses after a failed create until a waiter's create succeeds, so an idle pool never retries forever.
    if (this.#retry === undefined) {
      const topUp = this.#used && this.#lastCreateError === undefined ? this.#min - this.size : 0;
      const wanted = Math.max(this.#waiters.length, topUp);
      while (this.#pending < wanted && this.size + this.#pending < this.#max) this.#create();
    }
    this.#scheduleReap();
  }

  #create(): void {
    // Reserved before awaiting, so concurrent dispatches never open more than `max`.
    this.#pending++;
    this.#open();
  }

  async #open(): Promise<void> {
    let connection: T;
    try {
      connection = await this.#factory.create(this.#closer.signal);
    } catch (error) {
      this.#pending--;
      if (!this.#closed) {
        this.#lastCreateError = error;
        if (this.#waiters.length > 0 && this.#retry === undefined) {
          this.#retry = this.#clock.schedule(() => {
            this.#retry = undefined;
            this.#dispatch();
          }, CREATE_RETRY_DELAY);
        }
      }
      this.#checkDrained();
      this.#dispatch();
      return;
    }
    this.#pending--;
    const entry: PooledConnection<T> = {
      connection,
      since: this.#clock.now(),
      broken: false,
      detach: () => {},
    };
    if (this.#closed) {
      // Opened too late: close() no longer wants it.
      this.#destroy(entry);
      this.#checkDrained();
      return;
    }
    this.#lastCreateError = undefined;
    entry.detach = this.#factory.onError?.(connection, () => this.#failed(entry)) ?? entry.detach;
    // Whoever asked may have given up meanwhile: dispatch hands it to the next waiter or leaves it idle.
    this.#idle.push(entry);
    this.#dispatch();
  }

  #failed(entry: PooledConnection<T>): void {
    const index = this.#idle.indexOf(entry);
    if (index === -1) {
      entry.broken = true; // leased: its holder finds out on its own; release destroys it
      return;
    }
    this.#idle.splice(index, 1);
    this.#destroy(entry);
    this.#dispatch();
  }

  /** Ends the wait of `waiter` at the acquire timeout or when the caller's signal aborts, whichever first. */
  #startDeadline(waiter: Waiter<T>, signal: AbortSignal | undefined): void {
    startDeadline(waiter, {
      signal,
      timeout: this.#acquireTimeout,
      clock: this.#clock,
      lastCreateError: () => this.#lastCreateError,
      dequeue: (gone) => {
        const index = this.#waiters.indexOf(gone);
        if (index !== -1) this.#waiters.splice(index, 1);
      },
    });
  }

  #release(entry: PooledConnection<T>, failed: boolean): void {
    // Not leased any more: close() destroyed it at its deadline.
    if (!this.#leased.delete(entry)) return;
    if (failed || entry.broken || this.#closed) {
      this.#destroy(entry);
    } else {
      entry.since = this.#clock.now();
      this.#idle.push(entry);
    }
    this.#checkDrained();
    this.#dispatch();
  }

  #destroy(entry: PooledConnection<T>): void {
    entry.detach();
    const done = (async () => {
      try {
        await this.#factory.destroy(entry.connection);
      } catch (error) {
        if (this.#failures.length < MAX_KEPT_FAILURES) this.#failures.push(error);
      }
    })();
    this.#destroying.add(done);
    done.then(() => this.#destroying.delete(done));
  }

  /** Keeps a reaper timer only while some idle connection could be reaped (never when empty or at `min`). */
  #scheduleReap(): void {
    const reapable = !this.#closed && this.#idleTimeout !== Infinity && this.#idle.length > 0 &&
      this.size > this.#min;
    if (reapable && this.#reaper === undefined) {
      this.#reaper = this.#clock.schedule(() => {
        this.#reaper = undefined;
        this.#reap();
      }, this.#reapInterval);
    } else if (!reapable && this.#reaper !== undefined) {
      this.#reaper();
      this.#reaper = undefined;
    }
  }

  #reap(): void {
    const now = this.#clock.now();
    while (this.#idle.length > 0 && this.size > this.#min && now - this.#idle[0].since >= this.#idleTimeout) {
      this.#destroy(this.#idle.shift()!);
    }
    this.#dispatch();
  }

  #checkDrained(): void {
    if (this.#drained && this.#leased.size === 0 && this.#pending === 0) this.#drained.resolve();
  }

  async #shutdown(timeout: number): Promise<void> {
    this.#closed = true;
    this.#reaper?.();
    this.#reaper = undefined;
    this.#retry?.();
    this.#retry = undefined;
    this.#closer.abort(new PoolClosedError());
    for (const waiter of this.#waiters.splice(0)) {
      waiter.detach();
      waiter.deferred.reject(new PoolClosedError());
    }
    for (const entry of this.#idle.splice(0)) this.#destroy(entry);

    const failures: unknown[] = [];
    this.#drained = Promise.withResolvers();
    this.#checkDrained();
    let cancelDeadline = () => {};
    const inTime = await Promise.race([
      this.#drained.promise.then(() => true),
      new Promise<false>((resolve) => cancelDeadline = this.#clock.schedule(() => resolve(false), timeout)),
    ]);
    cancelDeadline();
    if (!inTime) {
      failures.push(new CloseTimeoutError(timeout, this.#leased.size, this.#pending));
      for (const entry of this.#leased) this.#destroy(entry);
      this.#leased.clear();
    }

    await Promise.all(this.#destroying);
    failures.push(...this.#failures.splice(0));
    if (failures.length > 0) throw new PoolCloseError(failures);
  }
}
