/**
 * Offline messages in MySQL: the `offlinemessage` table's part of `Store`.
 *
 * @module
 */

import { rowLimit, safeId, uniqueIds } from "./argument_checks.ts";
import {
  chunks,
  MAX_ID_BATCH,
  MAX_ROW_BATCH,
  type MysqlConnections,
  type Param,
  placeholders,
} from "./mysql_connections.ts";
import { offlineMessage } from "./row_records.ts";
import type { OfflineEntry, OfflineMessage, OfflineMethods } from "./store.ts";

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

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /** Stores the frames in one transaction, in the given order: all are stored or none. */
  async storeOffline(entries: OfflineEntry[]): Promise<void> {
    if (entries.length === 0) return;
    // Validated before the transaction: a caller's bug fails the call before any write.
    const rows = entries.map((
      entry,
    ): Param[] => [safeId(entry.userId, "offline message user id"), entry.frame]);
    return await this.#connections.transaction(async (db) => {
      // Multi-row inserts in the given order: InnoDB numbers the rows of one INSERT consecutively.
      for (const batch of chunks(rows, MAX_ROW_BATCH)) {
        await db.write(
          `INSERT INTO offlinemessage (userid, message) VALUES ${batch.map(() => "(?, ?)").join(", ")}`,
          batch.flat(),
        );
      }
    });
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  async readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    const user = safeId(userId, "user id");
    const count = rowLimit(limit);
    return await this.#connections.use(async (db) => {
      // LIMIT is bound as a string: MySQL 8 rejects a DOUBLE there, which is how mysql2 sends a JS number.
      const rows = await db.read(
        "SELECT id, message FROM offlinemessage WHERE userid = ? ORDER BY id LIMIT ?",
        [user, String(count)],
      );
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
