/**
 * One connection opened before the server starts, so that a database that does not exist, a wrong password or
 * a server that is not running stops the start at once with the fix, instead of surfacing as "no connection
 * within 5000 ms" after the pool gave up retrying.
 *
 * @module
 */
import { DatabaseSetupError, mysqlErrorKind } from "./errors.ts";
import { mysqlFactory } from "./mysql_factory.ts";

/** Options for {@linkcode checkMysql}. */
export interface CheckMysqlOptions {
  /** Milliseconds to connect and authenticate (default 3_000). */
  connectTimeout?: number;
}

/**
 * Opens and closes one connection to `url`. Rejects with {@linkcode DatabaseSetupError} whose message says
 * what to do: the `CREATE DATABASE` line for an unknown database, the user and how to pass a password when
 * access is denied, the host and port when nothing listens there.
 *
 * @example
 * ```ts ignore
 * await checkMysql("mysql://chat@127.0.0.1:3306/chat");
 * ```
 */
export async function checkMysql(url: string, options: CheckMysqlOptions = {}): Promise<void> {
  const factory = mysqlFactory(url, { connectTimeout: options.connectTimeout ?? 3_000 });
  let connection;
  try {
    connection = await factory.create(new AbortController().signal);
  } catch (error) {
    throw new DatabaseSetupError(setupMessage(url, error), { cause: error });
  }
  await factory.destroy(connection);
}

/**
 * The message for a failed first connection to `url`, naming the fix; never the password.
 *
 * @example
 * ```ts
 * const error = Object.assign(new Error("Unknown database 'chat'"), { errno: 1049 });
 * setupMessage("mysql://chat:pw@127.0.0.1:3306/chat", error); // 'MySQL database "chat" does not exist …'
 * ```
 */
export function setupMessage(url: string, error: unknown): string {
  const parsed = new URL(url);
  const host = parsed.hostname;
  const port = parsed.port || "3306";
  const database = decodeURIComponent(parsed.pathname.slice(1)) || "(none)";
  const user = decodeURIComponent(parsed.username) || "(none)";
  const reason = error instanceof Error ? error.message : String(error);
  switch (mysqlErrorKind(error)) {
    case "unknown_database":
      return `MySQL database "${database}" does not exist on ${host}:${port}. Create it (as an admin, e.g. ` +
        `sudo mariadb): CREATE DATABASE \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;`;
    case "access_denied":
      return `MySQL on ${host}:${port} refused user "${user}" (${reason}). Check the user, its password ` +
        `and its grant (GRANT ALL ON \`${database}\`.* TO '${user}'@'<this host>';); pass the password in ` +
        `CHAT_MYSQL_PASSWORD or --mysql-password-file FILE rather than in the URL`;
    case "refused":
      return `cannot connect to MySQL at ${host}:${port}: connection refused. Is MariaDB running, and ` +
        `listening on that host and port?`;
    case "unknown_host":
      return `cannot connect to MySQL: host "${host}" not found (${reason})`;
    default: {
      const code = (error as { code?: unknown } | null)?.code;
      return `cannot connect to MySQL at ${host}:${port}: ${
        typeof code === "string" ? `${code}: ` : ""
      }${reason}`;
    }
  }
}
