/**
 * Devices in SQLite: the `devices`, `device_cursors` and `device_tokens` tables' part of `Store`
 * (sql/sqlite/002_conversations.sql). A device's cursors are its offline queue: what it has not been handed
 * is every message past them.
 *
 * @module
 */

import { convName, deviceName, rowLimit, safeId, seqNumber, text } from "./argument_checks.ts";
import { deviceToken, MESSAGE_COLUMNS, storedMessage } from "./row_records.ts";
import { bindId, type SqliteConnection } from "./sqlite_connection.ts";
import type { CursorUpdate, DeviceCursor, DeviceMethods, DeviceToken, StoredMessage } from "./store.ts";

const SQL = {
  knownDevice: "SELECT 1 FROM devices WHERE userid = ? AND device = ?",
  addDevice: "INSERT INTO devices (userid, device, created_at) VALUES (?, ?, ?) " +
    "ON CONFLICT (userid, device) DO NOTHING",
  // Cursors saved for a device before it was registered mean nothing: it starts afresh.
  clearCursors: "DELETE FROM device_cursors WHERE userid = ? AND device = ?",
  // The lowest cursor of the user's other devices in each conversation. A device without a row for a
  // conversation is at 0 there, so the new one gets a row only where every other device has one.
  inheritCursors: "INSERT INTO device_cursors (userid, device, conv, seq) " +
    "SELECT ?1, ?2, dc.conv, min(dc.seq) FROM device_cursors dc " +
    "JOIN devices d ON d.userid = dc.userid AND d.device = dc.device " +
    "WHERE dc.userid = ?1 AND dc.device <> ?2 " +
    "GROUP BY dc.conv " +
    "HAVING count(*) = (SELECT count(*) FROM devices WHERE userid = ?1 AND device <> ?2)",
  // One-to-one conversations (listed by the user's read_seqs rows) and groups the user is in, never below the
  // seq they joined at.
  cursors: "SELECT r.conv, c.lastseq, coalesce(dc.seq, 0) AS pos FROM read_seqs r " +
    "JOIN conversations c ON c.conv = r.conv " +
    "LEFT JOIN device_cursors dc ON dc.userid = r.userid AND dc.device = ?2 AND dc.conv = r.conv " +
    "WHERE r.userid = ?1 AND r.conv >= 'u:' AND r.conv < 'u;' " +
    "UNION ALL " +
    "SELECT c.conv, c.lastseq, max(g.joinseq, coalesce(dc.seq, 0)) FROM groupuser g " +
    "JOIN conversations c ON c.conv = 'g:' || g.groupid " +
    "LEFT JOIN device_cursors dc ON dc.userid = g.userid AND dc.device = ?2 AND dc.conv = c.conv " +
    "WHERE g.userid = ?1 " +
    "ORDER BY 1",
  // Per conversation, the storage order (rowid) of the oldest messages past the cursor; their seq order is
  // their rowid order.
  pastKeys:
    "SELECT rowid AS ord FROM messages WHERE conv = ? AND seq > ? AND sender <> ? ORDER BY seq LIMIT ?",
  byKeys:
    `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY rowid`,
  saveCursor: "INSERT INTO device_cursors (userid, device, conv, seq) VALUES (?, ?, ?, ?) " +
    "ON CONFLICT (userid, device, conv) DO UPDATE SET seq = max(seq, excluded.seq)",
  dropToken: "DELETE FROM device_tokens WHERE userid = ? AND device = ?",
  addToken: "INSERT INTO device_tokens (userid, device, tokenhash, expires_at) VALUES (?, ?, ?, ?)",
  // The id grows with every token issued: keep the user's newest.
  pruneTokens: "DELETE FROM device_tokens WHERE userid = ?1 AND id NOT IN " +
    "(SELECT id FROM device_tokens WHERE userid = ?1 ORDER BY id DESC LIMIT ?2)",
  findToken: "SELECT tokenhash, expires_at FROM device_tokens WHERE userid = ? AND device = ?",
} as const;

/**
 * The device tables over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const devices = new SqliteDevices(connection);
 * await devices.registerDevice(1, "phone");
 * const cursors = await devices.deviceCursors(1, "phone");
 * ```
 */
export class SqliteDevices implements DeviceMethods {
  readonly #db: SqliteConnection;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /** Records the device; `true` when it is new, and then it starts at the lowest cursors of the others. */
  registerDevice(userId: number, device: string): Promise<boolean> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const name = deviceName(device);
      // Nearly every login is of a known device (a reconnect storm is 10,000 of them): a row read is enough
      // there, where a write transaction (BEGIN IMMEDIATE, COMMIT) would take the write lock for nothing.
      // Rows of devices are never deleted, so one that is known stays known.
      if (this.#db.statement(SQL.knownDevice).get(user, name) !== undefined) return false;
      return this.#db.transaction(() => {
        if (this.#db.statement(SQL.addDevice).run(user, name, BigInt(Date.now())).changes === 0) return false;
        this.#db.statement(SQL.clearCursors).run(user, name);
        this.#db.statement(SQL.inheritCursors).run(user, name);
        return true;
      });
    });
  }

  /** The device's cursor and the last seq of every conversation of the user (groups: not below the join). */
  deviceCursors(userId: number, device: string): Promise<Map<string, DeviceCursor>> {
    return this.#db.run(() => {
      const rows = this.#db.statement(SQL.cursors).all(bindId(userId, "user id"), deviceName(device));
      return new Map(
        rows.map((row) => [String(row.conv), { cursor: Number(row.pos), lastSeq: Number(row.lastseq) }]),
      );
    });
  }

  /** The oldest `limit` messages past `cursors` sent by others than `userId`, in the order they were stored. */
  messagesPast(userId: number, cursors: Map<string, number>, limit: number): Promise<StoredMessage[]> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const count = BigInt(rowLimit(limit));
      const checked = [...cursors].map(([conv, seq]) => [convName(conv), seqNumber(seq, "cursor")] as const);
      if (count === 0n) return [];
      const pastKeys = this.#db.statement(SQL.pastKeys);
      const keys: number[] = [];
      for (const [conv, seq] of checked) {
        for (const row of pastKeys.all(conv, seq, user, count)) keys.push(Number(row.ord));
      }
      keys.sort((a, b) => a - b);
      const oldest = JSON.stringify(keys.slice(0, limit));
      return this.#db.statement(SQL.byKeys).all(oldest).map(storedMessage);
    });
  }

  /** Saves the cursors in one transaction; each only moves forward. */
  saveCursors(updates: CursorUpdate[]): Promise<void> {
    return this.#db.run(() => {
      const rows = updates.map((update) =>
        [
          bindId(update.userId, "cursor user id"),
          deviceName(update.device),
          convName(update.conv),
          seqNumber(update.seq, "cursor seq"),
        ] as const
      );
      if (rows.length === 0) return;
      this.#db.transaction(() => {
        const save = this.#db.statement(SQL.saveCursor);
        for (const row of rows) save.run(...row);
      });
    });
  }

  /** Stores the device's token hash in place of its previous one, keeping the user's newest `maxTokens`. */
  setDeviceToken(userId: number, device: string, token: DeviceToken, maxTokens: number): Promise<void> {
    return this.#db.run(() => {
      const user = bindId(userId, "user id");
      const name = deviceName(device);
      const hash = text(token.tokenHash, "token hash");
      const expiresAt = BigInt(safeId(token.expiresAt, "token expiry"));
      if (!Number.isSafeInteger(maxTokens) || maxTokens < 1) {
        throw new RangeError(`maxTokens must be a positive integer, got ${String(maxTokens)}`);
      }
      this.#db.transaction(() => {
        this.#db.statement(SQL.dropToken).run(user, name);
        this.#db.statement(SQL.addToken).run(user, name, hash, expiresAt);
        this.#db.statement(SQL.pruneTokens).run(user, BigInt(maxTokens));
      });
    });
  }

  /** The device's token, or `null` when it has none (never issued, or revoked). */
  findDeviceToken(userId: number, device: string): Promise<DeviceToken | null> {
    return this.#db.run(() => {
      const row = this.#db.statement(SQL.findToken).get(bindId(userId, "user id"), deviceName(device));
      return row === undefined ? null : deviceToken(row);
    });
  }

  /** Revokes the device's token; a device without one is a no-op. */
  revokeDeviceToken(userId: number, device: string): Promise<void> {
    return this.#db.run(() => {
      this.#db.statement(SQL.dropToken).run(bindId(userId, "user id"), deviceName(device));
    });
  }
}
