/**
 * A transaction sent as few multi-statement queries: each {@linkcode MysqlScript.run} is ONE round trip
 * carrying several statements, the first also carrying START TRANSACTION and the last COMMIT. The chat append
 * (`mysql_append.ts`) is two round trips this way instead of six prepared statements one after another: on a
 * host whose cores the nodes and MariaDB share, every round trip is a wake-up of each side.
 *
 * Multi-statement queries are text, not prepared statements, so the values are written into the SQL here:
 * numbers only as safe integers, strings with a utf8mb4 introducer either as they are (`_utf8mb4'abc'`) when
 * they hold only printable ASCII other than the quote and the backslash, or else as hexadecimal literals
 * (`_utf8mb4 X'6127'`). Neither kind holds a character that could end the string early or escape one,
 * whatever the server's `sql_mode` (escaping a quote is not safe: `NO_BACKSLASH_ESCAPES` changes how it
 * reads). Most values (conversation names, ids, JSON frames of plain text) are the first kind, half the size
 * of their hex and cheaper to make.
 * The connection must be opened with mysql2's `multipleStatements` (`mysqlFactory`'s option of that name).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Connection } from "mysql2/promise";
import { isFatalMysqlError } from "../db/errors.ts";
import {
  isLockConflict,
  type MysqlConnections,
  type Param,
  rollbackAfter,
  type TransactionOptions,
} from "./mysql_connections.ts";

/** One statement of a script: SQL with `?` placeholders, and their values. */
export interface Statement {
  sql: string;
  values: Param[];
}

/**
 * A string a literal can hold as it is: printable ASCII but `'` and `\`, so nothing in it ends the string or
 * escapes the next character, whatever the `sql_mode`.
 */
const PLAIN_TEXT = /^[\x20-\x26\x28-\x5b\x5d-\x7e]*$/;

/**
 * `value` as an SQL literal: `NULL`, a decimal integer, or a utf8mb4 string literal, plain or in hex (see the
 * module's notes).
 *
 * @example
 * ```ts
 * sqlLiteral("ab"); // "_utf8mb4'ab'"
 * sqlLiteral("a'b"); // "_utf8mb4 X'612762'"
 * sqlLiteral(42); // "42"
 * ```
 */
export function sqlLiteral(value: Param): string {
  if (value === null) return "NULL";
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new RangeError(`SQL literal must be a safe integer, got ${value}`);
    }
    return String(value);
  }
  if (typeof value !== "string") throw new TypeError(`SQL literal must be a string, number or null`);
  if (PLAIN_TEXT.test(value)) return `_utf8mb4'${value}'`;
  return `_utf8mb4 X'${Buffer.from(value, "utf8").toString("hex")}'`;
}

/**
 * `items` cut into runs of `max` and the rest: a script's statements are text, so unlike prepared ones
 * (`chunks` of `mysql_connections.ts`) their row counts need not repeat.
 *
 * @example
 * ```ts
 * slices([1, 2, 3, 4, 5], 2); // [[1, 2], [3, 4], [5]]
 * ```
 */
export function slices<T>(items: readonly T[], max: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += max) out.push(items.slice(start, start + max));
  return out;
}

/**
 * `sql` with each `?` replaced by the literal of the next value; the SQL must hold no `?` of its own (the
 * statements of this project quote none).
 *
 * @example
 * ```ts
 * formatSql("SELECT ? + ?", [1, 2]); // "SELECT 1 + 2"
 * ```
 */
export function formatSql(sql: string, values: readonly Param[]): string {
  const parts = sql.split("?");
  if (parts.length !== values.length + 1) {
    throw new RangeError(`SQL has ${parts.length - 1} placeholders for ${values.length} values`);
  }
  let out = parts[0];
  for (let i = 0; i < values.length; i++) out += sqlLiteral(values[i]) + parts[i + 1];
  return out;
}

/**
 * SQL text one query carries at most (the statements are ASCII: strings are hex): well under the server's
 * packet limit (`max_allowed_packet`, 16 MiB by default on MariaDB), so a batch of large frames takes a few
 * round trips rather than being refused.
 */
const MAX_QUERY_CHARS = 8 * 1024 * 1024;

/** `texts` grouped into queries of at most {@linkcode MAX_QUERY_CHARS} (a longer statement alone). */
function queries(texts: readonly string[]): string[][] {
  const out: string[][] = [];
  let size = Infinity;
  for (const text of texts) {
    if (size + text.length > MAX_QUERY_CHARS) {
      out.push([]);
      size = 0;
    }
    out[out.length - 1].push(text);
    size += text.length + 2;
  }
  return out;
}

/**
 * `error` (mysql2's, which keeps its code, errno, message and the failed query's `sql`) with the stack of the
 * code awaiting {@linkcode MysqlScript.run}, taken only when a query failed: the connections of scripts
 * capture none per query (`mysqlFactory`'s `multipleStatements`), so mysql2's own stack would name only its
 * packet parser.
 */
function withCallerStack(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const here: { stack?: string } = {};
  Error.captureStackTrace(here, withCallerStack);
  const frames = here.stack?.slice(here.stack.indexOf("\n")) ?? "";
  error.stack = `${error.name}: ${error.message}${frames}`;
  return error;
}

/**
 * One transaction on a multi-statement connection. Nothing is sent until the first `run`, which begins the
 * transaction in the same round trip; `commit` ends it in the round trip of its last statements.
 *
 * @example
 * ```ts
 * declare const script: MysqlScript;
 * const [, rows] = await script.run([
 *   { sql: "UPDATE conversations SET lastseq = lastseq + 1 WHERE conv = ?", values: ["u:1:2"] },
 *   { sql: "SELECT lastseq FROM conversations WHERE conv = ?", values: ["u:1:2"] },
 * ]);
 * await script.commit([]);
 * ```
 */
export class MysqlScript {
  readonly #connection: Connection;
  #begun = false;
  #committed = false;

  /** Wraps a connection the caller holds, opened with `multipleStatements`. */
  constructor(connection: Connection) {
    this.#connection = connection;
  }

  /** Whether {@linkcode MysqlScript.commit} succeeded. */
  get committed(): boolean {
    return this.#committed;
  }

  /** Whether a statement was sent: a transaction may be open. */
  get begun(): boolean {
    return this.#begun;
  }

  /**
   * Sends `statements` in one round trip (after START TRANSACTION on the first call; more round trips only
   * past {@linkcode MAX_QUERY_CHARS}) and returns each one's result: rows for a SELECT, a result header
   * otherwise. The server stops at the first failing statement, and this rejects with its error; the caller
   * rolls back.
   */
  async run(statements: readonly Statement[]): Promise<unknown[]> {
    // Nothing to send: the transaction begins with the next statements.
    if (statements.length === 0) return [];
    const texts = statements.map(({ sql, values }) => formatSql(sql, values));
    if (!this.#begun) texts.unshift("START TRANSACTION");
    this.#begun = true;
    const results: unknown[] = [];
    try {
      for (const query of queries(texts)) {
        const [result] = await this.#connection.query(query.join(";\n"));
        // mysql2 answers a query of one statement with its result, of several with the list of their results.
        results.push(...(query.length === 1 ? [result] : result as unknown[]));
      }
    } catch (error) {
      throw withCallerStack(error);
    }
    return results.slice(results.length - statements.length);
  }

  /** Sends `statements` and COMMIT in one round trip; returns the results of `statements`. */
  async commit(statements: readonly Statement[]): Promise<unknown[]> {
    if (!this.#begun && statements.length === 0) {
      this.#committed = true; // an empty transaction: nothing was sent, nothing to commit
      return [];
    }
    const results = await this.run([...statements, { sql: "COMMIT", values: [] }]);
    this.#committed = true;
    return results.slice(0, statements.length);
  }
}

/**
 * Runs `fn` as one {@linkcode MysqlScript} transaction on a pooled connection, as
 * {@linkcode MysqlConnections.transaction} does with prepared statements: COMMIT after `fn` unless it
 * committed, ROLLBACK on any failure, and a failure that `options.retryable` accepts runs `fn` again in a new
 * transaction, up to `options.retries` times. The pool's connections must allow multiple statements.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * await scriptTransaction(connections, async (script) => {
 *   await script.commit([{ sql: "UPDATE user SET state = ? WHERE id = ?", values: ["offline", 1] }]);
 * });
 * ```
 */
export async function scriptTransaction<R>(
  connections: MysqlConnections,
  fn: (script: MysqlScript) => Promise<R>,
  options: TransactionOptions = {},
): Promise<R> {
  const { retries = 0, retryable = isLockConflict } = options;
  return await connections.use(async ({ connection }) => {
    for (let attempt = 0;; attempt++) {
      const script = new MysqlScript(connection);
      try {
        const result = await fn(script);
        if (!script.committed) await script.commit([]);
        return result;
      } catch (error) {
        if (script.begun) await rollbackAfter(connection, error);
        if (attempt >= retries || isFatalMysqlError(error) || !retryable(error)) throw error;
      }
    }
  }, options);
}
