/**
 * The seam between the pool and what it pools: the pool only opens, closes and watches connections through
 * a {@linkcode PoolFactory}, so its tests run on fake connections and production on single mysql2 ones
 * (`mysql_factory.ts`).
 *
 * @module
 */

/**
 * Opens and closes the pooled connections.
 *
 * @example
 * ```ts
 * import type { PoolFactory } from "./pool_factory.ts";
 *
 * // A stand-in for a database connection, as the pool's tests use.
 * interface Db {
 *   query(sql: string): Promise<string[]>;
 * }
 * const factory: PoolFactory<Db> = {
 *   create: (signal) => {
 *     signal.throwIfAborted();
 *     return Promise.resolve({ query: (sql) => Promise.resolve([sql]) });
 *   },
 *   destroy: () => Promise.resolve(),
 *   isFatal: (error) => error instanceof TypeError,
 * };
 * ```
 */
export interface PoolFactory<T> {
  /** Opens one connection. The signal aborts when the pool no longer wants it (close). */
  create(signal: AbortSignal): Promise<T>;
  /** Closes one connection; errors are collected, never thrown out of release(). */
  destroy(connection: T): Promise<void>;
  /** Optional: call `listener` when an idle or leased connection fails; returns a function that detaches it. */
  onError?(connection: T, listener: (error: unknown) => void): () => void;
  /** Optional: whether an error thrown by withConnection's callback means the connection is broken (default: true). mysql2 marks those with `fatal: true`. */
  isFatal?(error: unknown): boolean;
}
