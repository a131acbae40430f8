/**
 * The membership steps that several SQLite group changes share (a leave, a kick, a removal), each for a
 * caller already inside a transaction on the connection, so that what it read and what it changes are one.
 *
 * @module
 */

import type { SqliteConnection } from "./sqlite_connection.ts";
import type { GroupRole } from "./store.ts";

const SQL = {
  exists: "SELECT 1 FROM allgroup WHERE id = ?",
  role: "SELECT grouprole FROM groupuser WHERE groupid = ? AND userid = ?",
  remove: "DELETE FROM groupuser WHERE groupid = ? AND userid = ?",
  recordLeft: "INSERT INTO groupleft (groupid, userid, leftseq) VALUES (?1, ?2, " +
    "coalesce((SELECT lastseq FROM conversations WHERE conv = 'g:' || ?1), 0)) " +
    "ON CONFLICT (groupid, userid) DO UPDATE SET leftseq = excluded.leftseq",
} as const;

/**
 * Whether the group exists.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const found = groupFound(connection, 1n);
 * ```
 */
export function groupFound(connection: SqliteConnection, group: bigint): boolean {
  return connection.statement(SQL.exists).get(group) !== undefined;
}

/**
 * The user's role in the group, or `null` when they are not a member.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const role = memberRole(connection, 1n, 2n); // "creator", "admin", "normal" or null
 * ```
 */
export function memberRole(connection: SqliteConnection, group: bigint, user: bigint): GroupRole | null {
  const row = connection.statement(SQL.role).get(group, user);
  return row === undefined ? null : row.grouprole as GroupRole;
}

/**
 * Removes a member, recording the conversation's last seq as where they may still read up to; `false` (and
 * nothing changed) when they were not a member.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * connection.transaction(() => removeMember(connection, 1n, 2n));
 * ```
 */
export function removeMember(connection: SqliteConnection, group: bigint, user: bigint): boolean {
  if (connection.statement(SQL.remove).run(group, user).changes === 0) return false;
  connection.statement(SQL.recordLeft).run(group, user);
  return true;
}
