/**
 * The {@linkcode PoolFactory} that opens single `mysql2` connections for our own {@linkcode Pool}
 * (DESIGN.md: "hand-written over single mysql2 connections, not mysql2's own pool").
 *
 * @module
 */

import mysql from "mysql2";
import type { Connection } from "mysql2/promise";
import { isFatalMysqlError } from "./errors.ts";
import type { PoolFactory } from "./pool.ts";
import { redactUrl } from "../redact_url.ts";

export { isFatalMysqlError };

/** Options for {@linkcode mysqlFactory}. */
export interface MysqlFactoryOptions {
  /** Milliseconds to open a connection (TCP connect and handshake) before giving up (default 10_000). */
  connectTimeout?: number;
  /** Milliseconds {@linkcode MysqlFactory.destroy} waits for a polite COM_QUIT before cutting the socket (default 1_000). */
  quitTimeout?: number;
  /**
   * Lets one `query()` carry several statements separated by `;` (default false). Only for connections whose
   * text queries are built from constant SQL and literals made safe (`lib/store/mysql_script.ts`): on such a
   * connection an injected `;` would run a statement of its own.
   *
   * Such a connection is the chat append's, whose queries are complete text: `query()` takes no values there
   * (it throws TypeError when given some), so mysql2 does not scan the text for placeholders, and it captures
   * no stack trace per query (`MysqlScript.run` gives a failure its caller's stack instead). Both cost the
   * node about 4% of its time in a cluster pingpong.
   */
  multipleStatements?: boolean;
}

/** A factory for `Pool<Connection>` that also knows which errors mean "this connection is broken". */
export interface MysqlFactory extends PoolFactory<Connection> {
  /** The URL with its password masked, for messages and logs. */
  readonly redactedUrl: string;
  /** Always present here: reports errors a connection raises between commands; returns the detach. */
  onError(connection: Connection, listener: (error: unknown) => void): () => void;
  /** {@linkcode isFatalMysqlError}. */
  isFatal(error: unknown): boolean;
}

/** The parts of mysql2's core connection we touch that its typings do not declare. */
interface CoreConnection extends mysql.Connection {
  stream: { destroy(): void; destroyed?: boolean; once(event: "close", listener: () => void): void };
}

/**
 * mysql2's `queryFormat` for connections whose queries are complete text (`multipleStatements`): the text as
 * it is, without the scan for placeholders that mysql2's own formatting makes even when there are no values.
 */
function completeText(sql: string, values: unknown): string {
  if (Array.isArray(values) ? values.length > 0 : values !== undefined) {
    throw new TypeError("a multi-statement connection takes complete SQL text, no values to format into it");
  }
  return sql;
}

/** The one redaction of service URLs (`lib/redact_url.ts`), re-exported where MySQL code has always found it. */
export { redactUrl };

/**
 * Opens `mysql2` connections to `url` (`mysql://user:password@host:port/database`, URL-encoded parts) with
 * utf8mb4 (utf8mb4_unicode_ci), exact big numbers and a connect timeout.
 *
 * - `create(signal)` tears the socket down when the signal aborts mid-handshake and rejects with its reason.
 * - `destroy()` says COM_QUIT, waits briefly for the socket to close, then cuts it; it never throws.
 * - `onError()` reports errors the connection raises outside a command (the server closing an idle
 *   connection arrives as `PROTOCOL_CONNECTION_LOST`).
 * - `isFatal()` is {@linkcode isFatalMysqlError}: a duplicate key keeps the connection, a lost socket does not.
 *
 * Errors never contain the password: mysql2's own messages name at most the user and host.
 *
 * @example
 * ```ts ignore
 * const pool = new Pool(mysqlFactory("mysql://chat:pw@127.0.0.1:3306/chat"), { max: 8 });
 * const [rows] = await pool.withConnection((db) => db.execute("SELECT 1"));
 * ```
 */
export function mysqlFactory(url: string, options: MysqlFactoryOptions = {}): MysqlFactory {
  const redactedUrl = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`invalid MySQL URL: ${redactedUrl}`);
  }
  if (parsed.protocol !== "mysql:" && parsed.protocol !== "mariadb:") {
    throw new TypeError(`MySQL URL must start with mysql:// or mariadb://, got ${redactedUrl}`);
  }
  const connectTimeout = options.connectTimeout ?? 10_000;
  const quitTimeout = options.quitTimeout ?? 1_000;
  for (const [name, value] of [["connectTimeout", connectTimeout], ["quitTimeout", quitTimeout]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`mysqlFactory option "${name}" must be a positive integer, got ${value}`);
    }
  }
  const config: mysql.ConnectionOptions = {
    uri: url,
    charset: "UTF8MB4_UNICODE_CI",
    supportBigNumbers: true,
    connectTimeout,
    multipleStatements: options.multipleStatements ?? false,
    ...(options.multipleStatements ? { trace: false, queryFormat: completeText } : {}),
  };
  const cores = new WeakMap<Connection, CoreConnection>();

  return {
    redactedUrl,

    create(signal: AbortSignal): Promise<Connection> {
      if (signal.aborted) return Promise.reject(signal.reason);
      const core = mysql.createConnection(config) as CoreConnection;
      // mysql2 emits "error" on the connection for failures outside a command; an EventEmitter without a
      // listener would throw that out of the event loop and kill the process. Pool listeners come and go
      // through onError(); this one stays for the connection's life.
      core.on("error", () => {});
      return new Promise<Connection>((resolve, reject) => {
        const settle = () => {
          signal.removeEventListener("abort", onAbort);
          core.off("connect", onConnect);
          core.off("error", onFail);
        };
        const onConnect = () => {
          settle();
          const connection = core.promise();
          cores.set(connection, core);
          resolve(connection);
        };
        const onFail = (error: unknown) => {
          settle();
          core.stream.destroy();
          reject(error);
        };
        const onAbort = () => {
          settle();
          core.destroy();
          core.stream.destroy();
          reject(signal.reason);
        };
        core.once("connect", onConnect);
        core.once("error", onFail);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },

    async destroy(connection: Connection): Promise<void> {
      const core = cores.get(connection);
      if (!core) return;
      cores.delete(connection);
      const closed = new Promise<void>((resolve) => {
        if (core.stream.destroyed) resolve();
        else core.stream.once("close", resolve);
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<void>((resolve) => timer = setTimeout(resolve, quitTimeout));
      // end() resolves when COM_QUIT is sent (at once on a broken connection), which waits behind a command
      // still running; the server then closes the socket. A hung server gets quitTimeout, then the cut.
      await Promise.race([Promise.all([connection.end(), closed]), late]);
      clearTimeout(timer);
      core.stream.destroy();
      await closed;
    },

    onError(connection: Connection, listener: (error: unknown) => void): () => void {
      const core = cores.get(connection);
      if (!core) return () => {};
      core.on("error", listener);
      return () => core.off("error", listener);
    },

    isFatal: isFatalMysqlError,
  };
}
