/**
 * The plumbing under `MysqlStore`: pooled connections with a deadline per call, transactions, the
 * mapping of connection-level failures to {@linkcode StoreUnavailableError}, and the helpers that bind lists of
 * ids in few distinct prepared statements.
 *
 * Every statement that carries a value is a prepared statement with placeholders (`execute`); no SQL is ever
 * built from values. Statements that take a list of ids use fixed batch sizes (powers of two), so each
 * connection prepares a handful of statements however the lists vary, far below the server's
 * `max_prepared_stmt_count`.
 *
 * @module
 */

import type { Connection, ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { Pool } from "../db/pool.ts";
import {
  AcquireTimeoutError,
  isFatalMysqlError,
  mysqlErrno,
  mysqlErrorKind,
  PoolClosedError,
  PoolFullError,
} from "../db/errors.ts";
import type { MysqlFactory } from "../db/mysql_factory.ts";
import { describeError } from "../describe_error.ts";
import { NameTakenError, StoreUnavailableError, type UniqueName } from "./errors.ts";
import type { PoolStats } from "./store.ts";

/** Largest id list bound in one statement. */
export const MAX_ID_BATCH = 256;
/** Largest number of rows inserted by one statement (64 frames of 100 KB stay under the 16 MiB packet limit). */
export const MAX_ROW_BATCH = 64;

/** What the store binds to placeholders (`null` for SQL NULL). */
export type Param = string | number | null;

/** Thrown when ROLLBACK itself failed: the connection may still be inside a transaction, so it is discarded. */
class RollbackFailedError extends Error {
  /** Read by isFatalMysqlError: the pool destroys the connection instead of reusing it. */
  readonly fatal = true;
  constructor(cause: unknown) {
    super("ROLLBACK failed; the connection is discarded", { cause });
    this.name = "RollbackFailedError";
  }
}

/**
 * A call got no answer within `queryTimeout`. `fatal`: the answer may still arrive later, so the connection is
 * discarded. (mysql2's own `timeout` option covers only the execute step, not the PREPARE before it.)
 */
class QueryTimeoutError extends Error {
  readonly fatal = true;
  readonly code = "QUERY_TIMEOUT";
  constructor(timeout: number) {
    super(`no answer from the server within ${timeout} ms`);
    this.name = "QueryTimeoutError";
  }
}

/**
 * `items` cut into power-of-two sized chunks of at most `max` (so few distinct statements are prepared).
 *
 * @example
 * ```ts
 * const batches = chunks([1, 2, 3, 4, 5, 6, 7], 4); // [[1, 2, 3, 4], [5, 6], [7]]
 * ```
 */
export function chunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  let start = 0;
  while (start < items.length) {
    let size = max;
    while (size > items.length - start) size >>= 1;
    out.push(items.slice(start, start + size));
    start += size;
  }
  return out;
}

/**
 * `items` cut into chunks of `max` (a power of two), the last one filled up to a power of two with copies of
 * its last item: one statement for a list of up to `max` items, and still few distinct prepared statements.
 * Only for statements that a repeated item does not change (an `IN` list, an idempotent upsert).
 *
 * @example
 * ```ts
 * const batches = paddedChunks([1, 2, 3, 4, 5], 4); // [[1, 2, 3, 4], [5]]
 * const one = paddedChunks([1, 2, 3], 4); // [[1, 2, 3, 3]]
 * ```
 */
export function paddedChunks<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += max) {
    const chunk = items.slice(start, start + max);
    let size = 1;
    while (size < chunk.length) size <<= 1;
    while (chunk.length < size) chunk.push(chunk[chunk.length - 1]);
    out.push(chunk);
  }
  return out;
}

/**
 * `(?, ?, ?)` for `n` values.
 *
 * @example
 * ```ts
 * const sql = `SELECT id FROM user WHERE id IN ${placeholders(3)}`;
 * ```
 */
export function placeholders(n: number): string {
  return `(${Array.from({ length: n }, () => "?").join(", ")})`;
}

/**
 * One pooled connection lent to a store call: prepared statements in, rows or a result header out.
 *
 * @example
 * ```ts
 * async function userCount(session: MysqlSession): Promise<number> {
 *   const [row] = await session.read("SELECT COUNT(*) AS n FROM user WHERE state = ?", ["online"]);
 *   return Number(row.n);
 * }
 * ```
 */
export class MysqlSession {
  /** The connection itself, for what is not a prepared statement (DDL, transaction control, ping). */
  readonly connection: Connection;

  /** Wraps a connection the caller holds; it stays the caller's to release. */
  constructor(connection: Connection) {
    this.connection = connection;
  }

  /** The rows a prepared SELECT returns. */
  async read(sql: string, values: Param[]): Promise<RowDataPacket[]> {
    const [rows] = await this.connection.execute<RowDataPacket[]>(sql, values);
    return rows;
  }

  /** The result header of a prepared INSERT, UPDATE or DELETE. */
  async write(sql: string, values: Param[]): Promise<ResultSetHeader> {
    const [result] = await this.connection.execute<ResultSetHeader>(sql, values);
    return result;
  }
}

/** Options for one {@linkcode MysqlConnections.use} call. */
export interface UseOptions {
  /** Milliseconds this call may wait for the server (default: the store's `queryTimeout`). */
  timeout?: number;
}

/** Options for {@linkcode MysqlConnections.transaction}. */
export interface TransactionOptions extends UseOptions {
  /**
   * How many times to run the transaction again after a failure that {@linkcode TransactionOptions.retryable}
   * accepts (default 0). Each attempt is a new transaction on the same connection, after a ROLLBACK.
   */
  retries?: number;
  /** Whether a failed attempt may be retried (default: {@linkcode isLockConflict}). */
  retryable?: (error: unknown) => boolean;
}

/**
 * Whether InnoDB gave up a transaction for a lock conflict with another one: a deadlock (errno 1213, the whole
 * transaction was rolled back) or a lock wait timeout (1205). Neither left anything of the transaction stored,
 * and running it again is the documented remedy: the other transaction has moved on by then.
 *
 * @example
 * ```ts
 * isLockConflict(Object.assign(new Error("Deadlock found"), { errno: 1213 })); // true
 * ```
 */
export function isLockConflict(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno === ER_LOCK_DEADLOCK || errno === ER_LOCK_WAIT_TIMEOUT;
}

const ER_LOCK_WAIT_TIMEOUT = 1205;
const ER_LOCK_DEADLOCK = 1213;

/**
 * Attempts after a deadlock or lock-wait timeout ({@linkcode isLockConflict}), in which InnoDB rolls a
 * transaction back; a transaction that reads what it decides on can simply run again.
 *
 * @example
 * ```ts
 * declare const connections: MysqlConnections;
 * await connections.transaction(async (db) => {
 *   await db.write("UPDATE user SET state = 'offline' WHERE id = ?", [1]);
 * }, { retries: LOCK_RETRIES });
 * ```
 */
export const LOCK_RETRIES = 3;

/** Options for {@linkcode MysqlConnections}. */
export interface MysqlConnectionsOptions {
  /** Milliseconds one call may wait for the server's answers once it has a connection. */
  queryTimeout: number;
}

/**
 * A connection pool as `MysqlStore` uses it. A call fails with {@linkcode StoreUnavailableError}
 * (the original error as `cause`) when no connection can be had in time, the connection breaks, the server
 * does not answer within `queryTimeout`, or the pool is closed. A connection that broke mid-call is discarded,
 * and the next call opens a new one.
 *
 * @example
 * ```ts
 * import { Pool } from "../db/pool.ts";
 * import { mysqlFactory } from "../db/mysql_factory.ts";
 *
 * const factory = mysqlFactory("mysql://chat:pw@127.0.0.1:3306/chat", { connectTimeout: 5_000 });
 * const pool = new Pool(factory, { acquireTimeout: 5_000 });
 * const connections = new MysqlConnections(factory, pool, { queryTimeout: 10_000 });
 * await connections.close();
 * ```
 */
export class MysqlConnections {
  readonly #pool: Pool<Connection>;
  readonly #factory: MysqlFactory;
  readonly #queryTimeout: number;
  #closing: Promise<void> | null = null;

  /** Takes over `pool`, whose connections `factory` makes (its redacted URL names the server in errors). */
  constructor(factory: MysqlFactory, pool: Pool<Connection>, options: MysqlConnectionsOptions) {
    this.#factory = factory;
    this.#pool = pool;
    this.#queryTimeout = options.queryTimeout;
  }

  /** The pool's counters. */
  stats(): PoolStats {
    const pool = this.#pool;
    return {
      size: pool.size,
      idle: pool.idle,
      inUse: pool.inUse,
      waiting: pool.waiting,
      pending: pool.pending,
    };
  }

  /** Closes the pool (waiting up to 5 s for calls in flight); idempotent. Later calls are unavailable. */
  close(): Promise<void> {
    this.#closing ??= this.#pool.close();
    return this.#closing;
  }

  /**
   * Runs `fn` with a pooled connection. A connection-level failure discards the connection and becomes
   * StoreUnavailableError; other errors (NameTakenError, a caller's bad value) pass through and the
   * connection is reused.
   */
  async use<R>(fn: (session: MysqlSession) => Promise<R>, options: UseOptions = {}): Promise<R> {
    const timeout = options.timeout ?? this.#queryTimeout;
    if (this.#closing) throw new StoreUnavailableError(`MySQL store ${this.#factory.redactedUrl} is closed`);
    let lease;
    try {
      lease = await this.#pool.acquire();
    } catch (error) {
      throw this.#unavailable(error);
    }
    let broken: unknown;
    const work = fn(new MysqlSession(lease.connection));
    // After a timeout the work fails later, when the discarded connection is cut; nobody waits for it then.
    work.catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QueryTimeoutError(timeout)), timeout);
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (error) {
      if (isFatalMysqlError(error)) broken = error;
      if (broken !== undefined || mysqlErrorKind(error) === "unavailable") throw this.#unavailable(error);
      throw error;
    } finally {
      clearTimeout(timer);
      lease.release(broken);
    }
  }

  /**
   * {@linkcode MysqlConnections.use} inside START TRANSACTION ... COMMIT; any failure rolls back. A failure
   * that `options.retryable` accepts runs `fn` again in a new transaction, up to `options.retries` times.
   */
  async transaction<R>(
    fn: (session: MysqlSession) => Promise<R>,
    options: TransactionOptions = {},
  ): Promise<R> {
    const { retries = 0, retryable = isLockConflict } = options;
    return await this.use(async (session) => {
      for (let attempt = 0;; attempt++) {
        try {
          return await transactionOnce(session, fn);
        } catch (error) {
          if (attempt >= retries || isFatalMysqlError(error) || !retryable(error)) throw error;
        }
      }
    }, options);
  }

  #unavailable(error: unknown): StoreUnavailableError {
    const url = this.#factory.redactedUrl;
    if (error instanceof PoolClosedError) {
      return new StoreUnavailableError(`MySQL store ${url} is closed`, { cause: error });
    }
    if (error instanceof AcquireTimeoutError) {
      const reason = error.cause === undefined ? "all connections busy" : describeError(error.cause);
      return new StoreUnavailableError(
        `MySQL ${url}: no connection within ${error.timeout} ms (${reason})`,
        { cause: error },
      );
    }
    if (error instanceof PoolFullError) {
      return new StoreUnavailableError(`MySQL ${url}: too many callers waiting for a connection`, {
        cause: error,
      });
    }
    return new StoreUnavailableError(`MySQL ${url}: ${describeError(error)}`, { cause: error });
  }
}

/** One START TRANSACTION ... COMMIT around `fn` on `session`; any failure rolls back and is rethrown. */
async function transactionOnce<R>(
  session: MysqlSession,
  fn: (session: MysqlSession) => Promise<R>,
): Promise<R> {
  const db = session.connection;
  await db.query("START TRANSACTION");
  let result: R;
  try {
    result = await fn(session);
    await db.query("COMMIT");
  } catch (error) {
    await rollbackAfter(db, error);
    throw error;
  }
  return result;
}

/**
 * Rolls back the transaction that `error` ended, unless `error` broke the connection (the server rolls that
 * back by itself). Throws a fatal error when ROLLBACK itself failed: the connection is discarded, not reused
 * inside a transaction.
 *
 * @example
 * ```ts
 * import type { Connection } from "mysql2/promise";
 *
 * declare const db: Connection;
 * try {
 *   await db.query("START TRANSACTION; UPDATE user SET state = 'offline'; COMMIT");
 * } catch (error) {
 *   await rollbackAfter(db, error);
 *   throw error;
 * }
 * ```
 */
export async function rollbackAfter(db: Connection, error: unknown): Promise<void> {
  if (isFatalMysqlError(error)) return;
  try {
    await db.query("ROLLBACK");
  } catch (rollbackError) {
    throw new RollbackFailedError(rollbackError);
  }
}

/**
 * Runs an insert of a unique name, reporting a duplicate key as {@linkcode NameTakenError}.
 *
 * @example
 * ```ts
 * async function createTag(session: MysqlSession, name: string): Promise<number> {
 *   const result = await uniqueName(
 *     () => session.write("INSERT INTO allgroup (groupname, groupdesc) VALUES (?, '')", [name]),
 *     { kind: "group", name },
 *   );
 *   return result.insertId;
 * }
 * ```
 */
export async function uniqueName<T>(insert: () => Promise<T>, claim: UniqueName): Promise<T> {
  try {
    return await insert();
  } catch (error) {
    if (mysqlErrorKind(error) === "duplicate") throw new NameTakenError(claim.kind, claim.name);
    throw error;
  }
}
