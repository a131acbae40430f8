/**
 * The errors of the connection pool (`pool.ts`). Messages name the limit that was hit, never a host,
 * user or password: a creation error that might mention those travels only as `cause`.
 */

/** `acquire()` on a pool that is closing or closed, or a waiter that was still queued when it closed. */
export class PoolClosedError extends Error {
  constructor() {
    super("Pool is closed");
    this.name = "PoolClosedError";
  }
}

/**
 * No connection became free within `acquireTimeout`. When opening a connection failed meanwhile,
 * `cause` is the last such failure: usually the real reason (database down, bad credentials).
 */
export class AcquireTimeoutError extends Error {
  /** The acquire timeout that expired, in milliseconds. */
  readonly timeout: number;
  /** `options.cause`: the last creation error, when there was one. */
  constructor(timeout: number, options?: ErrorOptions) {
    super(`Pool.acquire() timed out after ${timeout} ms`, options);
    this.name = "AcquireTimeoutError";
    this.timeout = timeout;
  }
}

/** The wait queue already holds `maxWaiters` callers: rejected at once rather than queued without bound. */
export class PoolFullError extends Error {
  /** The configured bound of the wait queue. */
  readonly maxWaiters: number;
  /** `maxWaiters`: the bound that was hit. */
  constructor(maxWaiters: number) {
    super(`Pool wait queue is full (maxWaiters: ${maxWaiters})`);
    this.name = "PoolFullError";
    this.maxWaiters = maxWaiters;
  }
}

/** `Lease.release()` called a second time: the connection may already belong to someone else. */
export class DoubleReleaseError extends Error {
  constructor() {
    super("Lease already released");
    this.name = "DoubleReleaseError";
  }
}

/** `close()` gave up waiting for leases or for connections still opening; the leased ones were destroyed. */
export class CloseTimeoutError extends Error {
  /** The close deadline, in milliseconds. */
  readonly timeout: number;
  /** How many leases were still outstanding at the deadline. */
  readonly leases: number;
  /** How many connections were still opening at the deadline (they are destroyed if they ever open). */
  readonly opening: number;
  /** The deadline and what was still outstanding when it passed. */
  constructor(timeout: number, leases: number, opening: number) {
    super(
      `Pool.close(): after ${timeout} ms, ${leases} lease(s) still out and ${opening} connection(s) still opening`,
    );
    this.name = "CloseTimeoutError";
    this.timeout = timeout;
    this.leases = leases;
    this.opening = opening;
  }
}

/** Everything that went wrong while closing (failed destroys, a {@linkcode CloseTimeoutError}), together. */
export class PoolCloseError extends AggregateError {
  /** `errors`: every failure, in the order they happened. */
  constructor(errors: unknown[]) {
    super(errors, `Pool.close(): ${errors.length} failure(s)`);
    this.name = "PoolCloseError";
  }
}
