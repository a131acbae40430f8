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

/**
 * Codes of errors after which a connection cannot be trusted: the socket failed, the server went away, or a
 * timed-out command whose answer may still arrive (mysql2 marks most of these `fatal`, not all).
 */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "PROTOCOL_CONNECTION_LOST",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "PROTOCOL_PACKETS_OUT_OF_ORDER",
  "ER_SERVER_SHUTDOWN",
  "ER_CON_COUNT_ERROR",
  "ER_NET_READ_ERROR",
  "ER_NET_READ_INTERRUPTED",
  "ER_NET_ERROR_ON_WRITE",
  "ER_NET_WRITE_INTERRUPTED",
  "ER_NET_PACKETS_OUT_OF_ORDER",
  "ER_CONNECTION_KILLED",
  "ER_QUERY_INTERRUPTED",
  "ER_CLIENT_INTERACTION_TIMEOUT",
]);

/** MySQL error numbers (https://mariadb.com/kb/en/mariadb-error-codes/) meaning "cannot serve this now". */
const UNAVAILABLE_ERRNOS = new Set([
  1040, // ER_CON_COUNT_ERROR
  1053, // ER_SERVER_SHUTDOWN
  1205, // ER_LOCK_WAIT_TIMEOUT
  1213, // ER_LOCK_DEADLOCK (the transaction was rolled back)
  1290, // ER_OPTION_PREVENTS_STATEMENT (read-only server)
  1836, // ER_READ_ONLY_MODE
]);

const ER_DUP_ENTRY = 1062;
const ER_ACCESS_DENIED_ERROR = 1045;
const ER_DBACCESS_DENIED_ERROR = 1044;
const ER_BAD_DB_ERROR = 1049;
const ER_HOST_NOT_PRIVILEGED = 1130;

/**
 * What a MySQL error means to its caller, the one classification used by the pool's factory and the store:
 *
 * - `"duplicate"`: a unique key was violated; the connection is fine.
 * - `"broken"`: the connection is unusable (mysql2's `fatal`, or a connection-level code).
 * - `"unavailable"`: the server cannot serve this now (shutting down, read-only, deadlock, lock wait).
 * - `"unknown_database"`, `"access_denied"`, `"refused"`, `"unknown_host"`: configuration mistakes that a
 *   retry cannot fix, reported at start with the fix.
 * - `"other"`: a statement or value the server rejected.
 */
export type MysqlErrorKind =
  | "duplicate"
  | "broken"
  | "unavailable"
  | "unknown_database"
  | "access_denied"
  | "refused"
  | "unknown_host"
  | "other";

/** The MySQL error number on `error`, when it has one. */
export function mysqlErrno(error: unknown): number | undefined {
  const value = (error as { errno?: unknown } | null)?.errno;
  return typeof value === "number" ? value : undefined;
}

function mysqlCode(error: unknown): string | undefined {
  const value = (error as { code?: unknown } | null)?.code;
  return typeof value === "string" ? value : undefined;
}

/**
 * Classifies a `mysql2` error (see {@linkcode MysqlErrorKind}). The configuration kinds come first, so that a
 * refused connection reads as `"refused"`, although it also leaves no usable connection.
 *
 * @example
 * ```ts
 * mysqlErrorKind(Object.assign(new Error("dup"), { errno: 1062 })); // "duplicate"
 * mysqlErrorKind(Object.assign(new Error("refused"), { code: "ECONNREFUSED" })); // "refused"
 * ```
 */
export function mysqlErrorKind(error: unknown): MysqlErrorKind {
  const errno = mysqlErrno(error);
  const code = mysqlCode(error);
  if (errno === ER_DUP_ENTRY) return "duplicate";
  if (errno === ER_BAD_DB_ERROR) return "unknown_database";
  if (
    errno === ER_ACCESS_DENIED_ERROR || errno === ER_DBACCESS_DENIED_ERROR || errno === ER_HOST_NOT_PRIVILEGED
  ) return "access_denied";
  if (code === "ECONNREFUSED") return "refused";
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") return "unknown_host";
  if (isFatalMysqlError(error)) return "broken";
  if (errno !== undefined && UNAVAILABLE_ERRNOS.has(errno)) return "unavailable";
  return "other";
}

/**
 * Whether `error` means the connection that raised it is unusable: mysql2's `fatal` flag, or one of the
 * connection-level codes (socket errors, server shutdown, a timed-out command).
 *
 * @example
 * ```ts
 * isFatalMysqlError(Object.assign(new Error("gone"), { code: "PROTOCOL_CONNECTION_LOST" })); // true
 * ```
 */
export function isFatalMysqlError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { fatal } = error as { fatal?: unknown };
  const code = mysqlCode(error);
  return fatal === true || (code !== undefined && CONNECTION_CODES.has(code));
}

/**
 * The database cannot be used as configured (unknown database, access denied, nothing listening); the message
 * names the fix and never a password. The driver's error is the `cause`.
 */
export class DatabaseSetupError extends Error {
  /** `message`: what is wrong and how to fix it. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DatabaseSetupError";
  }
}
