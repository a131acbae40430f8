/**
 * One open connection as the pool tracks it, and the lease that lends it out. A lease is a one-shot
 * release function (after pg-pool): a second call throws, and a release with an error destroys the
 * connection instead of returning it.
 *
 * @module
 */

import { DoubleReleaseError } from "./errors.ts";

/** An open connection, idle or leased, with what the pool needs to know about it. */
export interface PooledConnection<T> {
  readonly connection: T;
  /** When it last became idle (the clock's now()), for the reaper. */
  since: number;
  /** The factory reported an error while it was leased: destroy it on release. */
  broken: boolean;
  /** Removes the factory's error listener; a no-op when there is none. */
  detach: () => void;
}

/**
 * One borrowed connection. `await using` returns it at the end of the block.
 *
 * @example
 * ```ts
 * import type { Lease } from "./pool_lease.ts";
 *
 * async function count(lease: Lease<{ query(sql: string): Promise<number> }>): Promise<number> {
 *   try {
 *     return await lease.connection.query("SELECT COUNT(*) FROM user");
 *   } catch (error) {
 *     lease.release(error); // a failed connection is destroyed, not reused
 *     throw error;
 *   } finally {
 *     await lease[Symbol.asyncDispose](); // releases it unless released above
 *   }
 * }
 * ```
 */
export interface Lease<T> extends AsyncDisposable {
  /** The borrowed connection; do not touch it after release. */
  readonly connection: T;
  /** Returns the connection; with an error, destroys it instead. A second call throws DoubleReleaseError. */
  release(error?: unknown): void;
}

/**
 * Lends `entry` out: `onRelease(entry, failed)` runs on the first release only, with `failed` true when it
 * came with an error (neither undefined nor null). Disposing releases it unless it already was.
 *
 * @example
 * ```ts
 * import { createLease, type PooledConnection } from "./pool_lease.ts";
 *
 * const entry: PooledConnection<string> = { connection: "db", since: 0, broken: false, detach: () => {} };
 * const lease = createLease(entry, (_entry, failed) => console.log(failed ? "destroy" : "keep"));
 * lease.release(new Error("connection lost")); // destroy
 * await lease[Symbol.asyncDispose](); // nothing: already released
 * ```
 */
export function createLease<T>(
  entry: PooledConnection<T>,
  onRelease: (entry: PooledConnection<T>, failed: boolean) => void,
): Lease<T> {
  let released = false;
  const release = (error?: unknown) => {
    if (released) throw new DoubleReleaseError();
    released = true;
    onRelease(entry, error !== undefined && error !== null);
  };
  return {
    connection: entry.connection,
    release,
    [Symbol.asyncDispose]: () => {
      if (!released) release();
      return Promise.resolve();
    },
  };
}
