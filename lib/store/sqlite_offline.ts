/**
 * Offline messages of the first release in SQLite: the `offlinemessage` table's part of `Store`. New messages
 * are kept in their conversations (`sqlite_messages.ts`); rows left by the first release are only read and
 * deleted, once, at the recipient's next login.
 *
 * @module
 */

import { rowLimit } from "./argument_checks.ts";
import { bindId, idList, type SqliteConnection } from "./sqlite_connection.ts";
import { offlineMessage } from "./row_records.ts";
import type { OfflineMessage, OfflineMethods } from "./store.ts";

const SQL = {
  read: "SELECT id, message FROM offlinemessage WHERE userid = ? ORDER BY id LIMIT ?",
  any: "SELECT 1 FROM offlinemessage LIMIT 1",
  delete: "DELETE FROM offlinemessage WHERE userid = ? AND id IN (SELECT value FROM json_each(?))",
} as const;

/**
 * The `offlinemessage` table over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const offline = new SqliteOffline(connection);
 * const messages = await offline.readOffline(1, 100);
 * await offline.deleteOffline(1, messages.map((message) => message.id));
 * ```
 */
export class SqliteOffline implements OfflineMethods {
  readonly #db: SqliteConnection;
  /**
   * Set once the table was found empty. Only the first release added rows, and it is stopped before the
   * upgrade (README "Upgrading in place"): an empty table stays empty, so every later login (a reconnect
   * storm is thousands) skips the query.
   */
  #empty = false;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const count = BigInt(rowLimit(limit));
      if (this.#empty) return [];
      const rows = this.#db.statement(SQL.read).all(user, count);
      if (rows.length === 0) this.#empty = this.#db.statement(SQL.any).get() === undefined;
      return rows.map(offlineMessage);
    });
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  deleteOffline(userId: number, ids: number[]): Promise<void> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      if (ids.length > 0) this.#db.statement(SQL.delete).run(user, idList(ids, "offline message id"));
    });
  }
}
