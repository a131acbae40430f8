/**
 * The first release's offline messages in MySQL: the `offlinemessage` table's part of `Store`. New messages
 * are kept in their conversations (`mysql_messages.ts`); the rows an upgraded database still holds are
 * handed over once at the next login, then deleted.
 *
 * @module
 */

import { rowLimit, safeId, uniqueIds } from "./argument_checks.ts";
import { chunks, MAX_ID_BATCH, type MysqlConnections, placeholders } from "./mysql_connections.ts";
import { offlineMessage } from "./row_records.ts";
import type { OfflineMessage, OfflineMethods } from "./store.ts";

/**
 * The `offlinemessage` table over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const offline = new MysqlOffline(connections);
 * const messages = await offline.readOffline(1, 100);
 * await offline.deleteOffline(1, messages.map((message) => message.id));
 * ```
 */
export class MysqlOffline implements OfflineMethods {
  readonly #connections: MysqlConnections;
  /**
   * Set once the table was found empty. Only the first release added rows, and every node of it is stopped
   * before the upgrade (README "Upgrading in place"): an empty table stays empty, so every later login (a
   * reconnect storm is thousands) skips the round trip.
   */
  #empty = false;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  async readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    const user = safeId(userId, "user id");
    const count = rowLimit(limit);
    if (this.#empty) return [];
    return await this.#connections.use(async (db) => {
      // LIMIT is bound as a string: MySQL 8 rejects a DOUBLE there, which is how mysql2 sends a JS number.
      const rows = await db.read(
        "SELECT id, message FROM offlinemessage WHERE userid = ? ORDER BY id LIMIT ?",
        [user, String(count)],
      );
      if (rows.length === 0) {
        this.#empty = (await db.read("SELECT 1 FROM offlinemessage LIMIT 1", [])).length === 0;
      }
      return rows.map(offlineMessage);
    });
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  async deleteOffline(userId: number, ids: number[]): Promise<void> {
    const user = safeId(userId, "user id");
    const messages = uniqueIds(ids, "offline message id");
    return await this.#connections.use(async (db) => {
      for (const batch of chunks(messages, MAX_ID_BATCH)) {
        await db.write(
          `DELETE FROM offlinemessage WHERE userid = ? AND id IN ${placeholders(batch.length)}`,
          [user, ...batch],
        );
      }
    });
  }
}
