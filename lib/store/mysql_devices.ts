/**
 * Devices in MySQL: the `devices`, `device_cursors` and `device_tokens` tables' part of `Store`
 * (sql/mysql/002_conversations.sql). A device's offline queue is what lies past its cursors.
 *
 * @module
 */

import { convName, deviceName, rowLimit, safeId, seqNumber, text } from "./argument_checks.ts";
import {
  chunks,
  LOCK_RETRIES,
  MAX_ROW_BATCH,
  type MysqlConnections,
  type MysqlSession,
  type Param,
  placeholders,
} from "./mysql_connections.ts";
import { deviceToken, storedMessage } from "./row_records.ts";
import type { CursorUpdate, DeviceCursor, DeviceMethods, DeviceToken, StoredMessage } from "./store.ts";

/** Conversations bound in one statement of {@linkcode MysqlDevices.messagesPast}. */
const MAX_CONV_BATCH = 64;

/**
 * The device tables over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const devices = new MysqlDevices(connections);
 * await devices.registerDevice(1, "phone");
 * const cursors = await devices.deviceCursors(1, "phone");
 * ```
 */
export class MysqlDevices implements DeviceMethods {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /**
   * Records the device; `true` when it is new. A new device gets, in each conversation, the lowest cursor of
   * the user's other devices, counting a device without a cursor there as 0 (so it gets none either).
   */
  async registerDevice(userId: number, device: string): Promise<boolean> {
    const user = safeId(userId, "user id");
    const name = deviceName(device);
    return await this.#connections.transaction(async (db) => {
      const added = await db.write(
        "INSERT IGNORE INTO devices (userid, device, created_at) VALUES (?, ?, ?)",
        [
          user,
          name,
          Date.now(),
        ],
      );
      if (added.affectedRows === 0) return false;
      await db.write(
        "INSERT INTO device_cursors (userid, device, conv, seq) " +
          "SELECT userid, ?, conv, MIN(seq) FROM device_cursors WHERE userid = ? AND device <> ? GROUP BY conv " +
          "HAVING COUNT(*) = (SELECT COUNT(*) FROM devices WHERE userid = ? AND device <> ?)",
        [name, user, name, user, name],
      );
      return true;
    }, { retries: LOCK_RETRIES });
  }

  /**
   * The device's cursor and the last seq of every conversation of the user that has messages: one-to-one
   * ones they are in, and groups they are in (a group's cursor never below the seq they joined at).
   */
  async deviceCursors(userId: number, device: string): Promise<Map<string, DeviceCursor>> {
    const user = safeId(userId, "user id");
    const name = deviceName(device);
    return await this.#connections.use(async (db) => {
      const rows = await db.read(
        "SELECT c.conv, c.lastseq, COALESCE(d.seq, 0) AS cursorseq FROM conversations c " +
          "LEFT JOIN device_cursors d ON d.userid = ? AND d.device = ? AND d.conv = c.conv " +
          "WHERE c.usera = ? OR c.userb = ? " +
          "UNION ALL " +
          "SELECT c.conv, c.lastseq, GREATEST(COALESCE(d.seq, 0), COALESCE(j.joinseq, 0)) FROM groupuser m " +
          "JOIN conversations c ON c.groupid = m.groupid " +
          "LEFT JOIN groupjoin j ON j.groupid = m.groupid AND j.userid = m.userid " +
          "LEFT JOIN device_cursors d ON d.userid = m.userid AND d.device = ? AND d.conv = c.conv " +
          "WHERE m.userid = ?",
        [user, name, user, user, name, user],
      );
      return new Map(
        rows.map((
          row,
        ) => [String(row.conv), { cursor: Number(row.cursorseq), lastSeq: Number(row.lastseq) }]),
      );
    });
  }

  /**
   * The oldest `limit` messages past `cursors` sent by others than `userId`, in the order they were stored
   * (the `id` column, which grows with seq inside each conversation: both are taken under the conversation's
   * row lock).
   */
  async messagesPast(userId: number, cursors: Map<string, number>, limit: number): Promise<StoredMessage[]> {
    const user = safeId(userId, "user id");
    const count = rowLimit(limit);
    const ranges: Param[][] = [];
    for (const [conv, cursor] of cursors) {
      convName(conv);
      ranges.push([conv, seqNumber(cursor, "cursor")]);
    }
    if (count === 0 || ranges.length === 0) return [];
    const max = String(count); // LIMIT bound as a string: MySQL 8 rejects the DOUBLE mysql2 sends for a number
    return await this.#connections.use(async (db) => {
      // Within a conversation the stored order is the seq order, so the oldest `count` overall are among each
      // conversation's first `count` past its cursor: every branch reads at most that many rows (a device far
      // behind in many conversations costs its page, not its whole backlog). Each chunk of conversations yields
      // its oldest `count`, and the oldest `count` of those are the answer.
      const found: { id: number; message: StoredMessage }[] = [];
      for (const chunk of chunks(ranges, MAX_CONV_BATCH)) {
        const branch = "(SELECT id, conv, seq, sender, mid, ts, frame FROM messages " +
          "WHERE conv = ? AND seq > ? AND sender <> ? ORDER BY seq LIMIT ?)";
        const rows = await db.read(
          `${chunk.map(() => branch).join(" UNION ALL ")} ORDER BY id LIMIT ?`,
          [...chunk.flatMap(([conv, cursor]) => [conv, cursor, user, max]), max],
        );
        for (const row of rows) found.push({ id: Number(row.id), message: storedMessage(row) });
      }
      return found.sort((a, b) => a.id - b.id).slice(0, count).map((entry) => entry.message);
    });
  }

  /** Saves the cursors in one transaction; each only moves forward. */
  async saveCursors(updates: CursorUpdate[]): Promise<void> {
    // Checked before the transaction, one row per (user, device, conv) with its highest seq, in key order so
    // that two transactions lock shared rows in the same order.
    const rows = new Map<string, Param[]>();
    for (const update of updates) {
      const user = safeId(update.userId, "user id");
      const device = deviceName(update.device);
      convName(update.conv);
      const seq = seqNumber(update.seq, "cursor");
      const key = `${user}\n${device}\n${update.conv}`;
      const previous = rows.get(key);
      if (!previous || Number(previous[3]) < seq) rows.set(key, [user, device, update.conv, seq]);
    }
    if (rows.size === 0) return;
    const sorted = [...rows.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([, row]) => row);
    await this.#connections.transaction(async (db) => {
      for (const chunk of chunks(sorted, MAX_ROW_BATCH)) {
        await db.write(
          "INSERT INTO device_cursors (userid, device, conv, seq) VALUES " +
            chunk.map(() => "(?, ?, ?, ?)").join(", ") +
            " ON DUPLICATE KEY UPDATE seq = GREATEST(seq, VALUES(seq))",
          chunk.flat(),
        );
      }
    }, { retries: LOCK_RETRIES });
  }

  /** Stores the device's token hash, replacing its previous one; keeps the user's newest `maxTokens`. */
  async setDeviceToken(userId: number, device: string, token: DeviceToken, maxTokens: number): Promise<void> {
    const user = safeId(userId, "user id");
    const name = deviceName(device);
    const hash = text(token.tokenHash, "token hash");
    const expiresAt = safeId(token.expiresAt, "token expiry");
    if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
      throw new RangeError(`maxTokens must be a positive integer, got ${String(maxTokens)}`);
    }
    await this.#connections.transaction(async (db) => {
      // Delete and insert: the new row takes a new id, which is what orders a user's tokens by issue. The old
      // row is found by a plain read and deleted by its id: a DELETE by (userid, device) of a row that does
      // not exist yet (a first login) would gap-lock the index, and logins of neighbouring new users would
      // deadlock on their INSERTs.
      const [previous] = await db.read("SELECT id FROM device_tokens WHERE userid = ? AND device = ?", [
        user,
        name,
      ]);
      if (previous) await db.write("DELETE FROM device_tokens WHERE id = ?", [Number(previous.id)]);
      await db.write(
        "INSERT INTO device_tokens (userid, device, tokenhash, expires_at) VALUES (?, ?, ?, ?)",
        [user, name, hash, expiresAt],
      );
      await dropOldTokens(db, user, maxTokens);
    }, { retries: LOCK_RETRIES });
  }

  /** The device's token, or `null` when it has none. */
  async findDeviceToken(userId: number, device: string): Promise<DeviceToken | null> {
    const params = [safeId(userId, "user id"), deviceName(device)];
    return await this.#connections.use(async (db) => {
      const [row] = await db.read(
        "SELECT tokenhash, expires_at FROM device_tokens WHERE userid = ? AND device = ?",
        params,
      );
      return row ? deviceToken(row) : null;
    });
  }

  /** Revokes the device's token; a device without one is left as it is. */
  async revokeDeviceToken(userId: number, device: string): Promise<void> {
    const params = [safeId(userId, "user id"), deviceName(device)];
    await this.#connections.use(async (db) => {
      await db.write("DELETE FROM device_tokens WHERE userid = ? AND device = ?", params);
    });
  }
}

/** Deletes the user's tokens past the newest `keep`. */
async function dropOldTokens(db: MysqlSession, userId: number, keep: number): Promise<void> {
  const rows = await db.read("SELECT id FROM device_tokens WHERE userid = ? ORDER BY id DESC", [userId]);
  const old = rows.slice(keep).map((row) => Number(row.id));
  for (const chunk of chunks(old, MAX_ROW_BATCH)) {
    await db.write(`DELETE FROM device_tokens WHERE id IN ${placeholders(chunk.length)}`, chunk);
  }
}
