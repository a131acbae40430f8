/**
 * The plumbing under `SqliteStore`: one `node:sqlite` connection with its cache of prepared statements,
 * transactions, the mapping of "the database cannot be used" failures to {@linkcode StoreUnavailableError},
 * and the binding of ids.
 *
 * `DatabaseSync` is synchronous, so every call runs to completion before the event loop moves on. That makes
 * each store method atomic with respect to the others without any locking of our own, and it is why
 * transactions here are plain synchronous functions. The price is that a call blocks the event loop while
 * SQLite works (or waits for another process's lock, up to the busy timeout); for a single-node embedded store
 * that is cheaper than a worker thread. The exception is the checkpoints, whose fsyncs would stall the event
 * loop: `sqlite_checkpointer.ts` runs them on a connection of their own in a worker thread.
 *
 * @module
 */

import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { safeId, uniqueIds } from "./argument_checks.ts";
import { NameTakenError, StoreUnavailableError, type UniqueName } from "./errors.ts";

// SQLite result codes (https://sqlite.org/rescode.html). Extended codes carry the primary code in the low byte.
const SQLITE_CONSTRAINT_UNIQUE = 2067;
/** Primary codes meaning "the database cannot be used right now", as opposed to a bad statement or value. */
const UNAVAILABLE_CODES = new Set([
  5, // BUSY
  6, // LOCKED
  7, // NOMEM
  8, // READONLY
  10, // IOERR
  11, // CORRUPT
  13, // FULL
  14, // CANTOPEN
  26, // NOTADB
]);

function errcode(error: unknown): number | undefined {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" ? code : undefined;
}

/**
 * An id as SQLite binds it. `node:sqlite` binds every JS number as a REAL; a BigInt binds as an INTEGER, which
 * is what the columns hold. The check turns a fractional or unsafe id (a caller's bug) into a RangeError.
 *
 * @example
 * ```ts
 * const userId: bigint = bindId(42, "user id");
 * ```
 */
export function bindId(value: number, what: string): bigint {
  return BigInt(safeId(value, what));
}

/**
 * Checked ids as the JSON array that `json_each(?)` expands. Sets of ids travel as one such parameter, so one
 * cached statement serves any number of ids (including none) and no SQL is ever built from values.
 *
 * @example
 * ```ts
 * const ids = idList([1, 2], "user id"); // "[1,2]"
 * ```
 */
export function idList(ids: readonly number[], what: string): string {
  return JSON.stringify(uniqueIds(ids, what));
}

/**
 * Runs an insert of a unique name, reporting a UNIQUE violation as {@linkcode NameTakenError}.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 *
 * const db = new DatabaseSync(":memory:");
 * db.exec("CREATE TABLE tag (name TEXT UNIQUE)");
 * uniqueName(() => db.prepare("INSERT INTO tag (name) VALUES (?)").run("rust"), { kind: "group", name: "rust" });
 * ```
 */
export function uniqueName<T>(insert: () => T, claim: UniqueName): T {
  try {
    return insert();
  } catch (error) {
    if (errcode(error) === SQLITE_CONSTRAINT_UNIQUE) throw new NameTakenError(claim.kind, claim.name);
    throw error;
  }
}

/**
 * SQLite's `synchronous` setting for commits: `"normal"` syncs the WAL only at checkpoints, `"full"` at every
 * commit (see {@linkcode SqliteConnection.open}).
 */
export type SqliteSync = "normal" | "full";

/** Options for {@linkcode SqliteConnection.open}. */
export interface SqliteConnectionOptions {
  /** How long a statement waits for another connection's lock, in ms. */
  busyTimeoutMs: number;
  /** How commits reach the disk. */
  synchronous: SqliteSync;
}

/**
 * One SQLite connection as `SqliteStore` uses it: statements prepared on first use and kept for the life of
 * the connection, and every call turned into the store's promise.
 *
 * @example
 * ```ts
 * const connection = SqliteConnection.open(":memory:", { busyTimeoutMs: 5000, synchronous: "normal" });
 * await connection.run(() => connection.statement("SELECT 1").get());
 * connection.close();
 * ```
 */
export class SqliteConnection {
  #db: DatabaseSync | null;
  readonly #path: string;
  readonly #synchronous: SqliteSync;
  readonly #statements = new Map<string, StatementSync>();

  private constructor(db: DatabaseSync, path: string, synchronous: SqliteSync) {
    this.#db = db;
    this.#path = path;
    this.#synchronous = synchronous;
  }

  /**
   * Opens (or creates) the database at `path`; `":memory:"` gives a private in-memory database. The parent
   * directory of a file path is created when missing. Missing Deno permissions surface as
   * `Deno.errors.NotCapable`; any other failure to open throws {@linkcode StoreUnavailableError}.
   */
  static open(path: string, options: SqliteConnectionOptions): SqliteConnection {
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path, { timeout: options.busyTimeoutMs });
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new StoreUnavailableError(`cannot open SQLite database ${JSON.stringify(path)}`, {
        cause: error,
      });
    }
    try {
      // WAL lets reads (health checks, a second process) proceed while a write commits, and costs fewer fsyncs
      // per commit than the rollback journal.
      // synchronous = NORMAL (the default here) does not fsync at each commit, only at checkpoints (which
      // `sqlite_checkpointer.ts` moves to a worker thread). A commit
      // still survives the process being killed (kill -9, a crash: the WAL is in the OS's page cache), and the
      // database stays consistent after a power cut, which may lose the last commits. FULL would fsync every
      // commit, and node:sqlite is synchronous: the event loop, every connection's chat included, would stand
      // still for each fsync (DESIGN.md measured 280 µs per one-row commit against 57 µs). A deployment that
      // must survive power cuts without loss chooses "full" (or the MySQL cluster). In-memory databases ignore
      // both settings.
      db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${options.synchronous.toUpperCase()};`);
    } catch (error) {
      db.close();
      throw new StoreUnavailableError(`cannot configure SQLite database ${JSON.stringify(path)}`, {
        cause: error,
      });
    }
    return new SqliteConnection(db, path, options.synchronous);
  }

  /**
   * Sets how many WAL pages a commit may leave before it runs a checkpoint itself (SQLite's
   * `wal_autocheckpoint`; see `sqlite_checkpointer.ts`). Does nothing once closed.
   */
  setAutoCheckpoint(pages: number): void {
    if (!Number.isSafeInteger(pages) || pages < 0) {
      throw new RangeError(`pages must be a non-negative integer, got ${String(pages)}`);
    }
    this.#db?.exec(`PRAGMA wal_autocheckpoint = ${pages}`);
  }

  /** The open database, for what the statement cache does not serve (DDL); throws once closed. */
  database(): DatabaseSync {
    return this.#open();
  }

  /** The statement for `sql`, prepared on first use; throws StoreUnavailableError once closed. */
  statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (statement === undefined) {
      statement = this.#open().prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /**
   * Runs `fn` inside BEGIN IMMEDIATE ... COMMIT. IMMEDIATE takes the write lock up front, so waiting for
   * another process happens at BEGIN (under the busy timeout) rather than failing halfway through.
   */
  transaction<T>(fn: (db: DatabaseSync) => T): T {
    const db = this.#open();
    this.statement("BEGIN IMMEDIATE").run();
    try {
      const result = fn(db);
      this.statement("COMMIT").run();
      return result;
    } catch (error) {
      // The failed statement may already have ended the transaction; only roll back one that is still open.
      if (db.isTransaction) this.statement("ROLLBACK").run();
      throw error;
    }
  }

  /**
   * Runs the async `fn` inside one BEGIN IMMEDIATE ... COMMIT, rolled back when it rejects. For a schema
   * migration only, at start, before anything else uses the connection: any call made on this connection
   * while `fn` awaits would join the transaction.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const db = this.#open();
    this.statement("BEGIN IMMEDIATE").run();
    try {
      const result = await fn();
      this.statement("COMMIT").run();
      return result;
    } catch (error) {
      if (db.isTransaction) this.statement("ROLLBACK").run();
      throw error;
    }
  }

  /**
   * Runs `fn` with synchronous = NORMAL: its commit skips the fsync (WAL: the next FULL commit or checkpoint
   * makes it durable). For the presence copy only, which the bus, not the database, is the truth of: an fsync
   * per login and logout would stall the event loop (and chat delivery) during a login storm. A no-op
   * difference when the connection already runs with NORMAL.
   */
  withoutSync(fn: () => void): void {
    if (this.#path === ":memory:" || this.#synchronous === "normal") return fn();
    const db = this.#open();
    db.exec("PRAGMA synchronous = NORMAL");
    try {
      fn();
    } finally {
      db.exec("PRAGMA synchronous = FULL");
    }
  }

  /**
   * Runs a synchronous database call as the store's promise: every failure, argument errors included,
   * becomes a rejection, and "the database cannot be used" failures become StoreUnavailableError.
   */
  run<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(this.#classify(error));
    }
  }

  /** {@linkcode SqliteConnection.run} for an async call (a migration, which reads its files). */
  async runAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.#classify(error);
    }
  }

  #classify(error: unknown): unknown {
    const code = errcode(error);
    if (code === undefined || !UNAVAILABLE_CODES.has(code & 0xff)) return error;
    return new StoreUnavailableError(
      `SQLite store ${JSON.stringify(this.#path)} unavailable: ${(error as Error).message}`,
      { cause: error },
    );
  }

  /** Closes the database; idempotent. Later calls throw {@linkcode StoreUnavailableError}. */
  close(): void {
    const db = this.#db;
    this.#db = null;
    this.#statements.clear();
    db?.close();
  }

  #open(): DatabaseSync {
    if (this.#db === null) {
      throw new StoreUnavailableError(`SQLite store ${JSON.stringify(this.#path)} is closed`);
    }
    return this.#db;
  }
}
