/**
 * Result rows turned into the records of the `Store` interface. Both stores select the same column names from the
 * same schema, so each mapping is written once here.
 *
 * @module
 */

import type {
  DeviceToken,
  FriendRequestRecord,
  GroupMember,
  GroupRecord,
  OfflineMessage,
  StoredMessage,
  UserRecord,
  UserSummary,
} from "./store.ts";

/** One result row, as either driver returns it: column name to value. */
export type Row = Readonly<Record<string, unknown>>;

/**
 * A BIGINT id column: a number, or a string or bigint when the driver reads one beyond 2^53 (which becomes a
 * RangeError rather than a rounded id).
 *
 * @example
 * ```ts
 * const id = bigId("42"); // 42
 * ```
 */
export function bigId(value: unknown): number {
  const id = Number(value);
  if (!Number.isSafeInteger(id)) throw new RangeError(`id beyond 2^53 from the database: ${String(value)}`);
  return id;
}

/**
 * A row of `SELECT id, name, password FROM user`.
 *
 * @example
 * ```ts
 * const user = userRecord({ id: 1, name: "alice", password: "scrypt$..." });
 * ```
 */
export function userRecord(row: Row): UserRecord {
  return { id: Number(row.id), name: String(row.name), passwordHash: String(row.password) };
}

/**
 * A row of `SELECT u.id, u.name ...`.
 *
 * @example
 * ```ts
 * const friend = userSummary({ id: 2, name: "bob" });
 * ```
 */
export function userSummary(row: Row): UserSummary {
  return { id: Number(row.id), name: String(row.name) };
}

/**
 * A row of `SELECT u.id, u.name, r.note ...`: a pending request as its target sees it.
 *
 * @example
 * ```ts
 * const request = friendRequestRecord({ id: 2, name: "bob", note: "hi, it's Bob" });
 * ```
 */
export function friendRequestRecord(row: Row): FriendRequestRecord {
  return { id: Number(row.id), name: String(row.name), note: String(row.note) };
}

/**
 * One group with all its members, one row per member (one row with a NULL `userid` for a group without
 * members, none for a missing group): the query behind `Store.findGroup` in both dialects, whose rows
 * {@linkcode groupRecord} reads. One statement, so the members are those of the group row read.
 *
 * @example
 * ```ts
 * const sql: string = GROUP_SQL;
 * ```
 */
export const GROUP_SQL = "SELECT g.id, g.groupname, g.groupdesc, u.id AS userid, u.name, m.grouprole " +
  "FROM allgroup g " +
  "LEFT JOIN (groupuser m JOIN user u ON u.id = m.userid) ON m.groupid = g.id " +
  "WHERE g.id = ? ORDER BY u.id";

/**
 * The rows of {@linkcode GROUP_SQL} as the group, or `null` when there are none (no such group).
 *
 * @example
 * ```ts
 * const group = groupRecord([{ id: 1, groupname: "g", groupdesc: "", userid: null, name: null, grouprole: null }]);
 * // { id: 1, name: "g", desc: "", members: [] }
 * ```
 */
export function groupRecord(rows: readonly Row[]): GroupRecord | null {
  if (rows.length === 0) return null;
  const [group] = groupRecords(rows.filter((row) => row.userid !== null));
  return group ??
    { id: Number(rows[0].id), name: String(rows[0].groupname), desc: String(rows[0].groupdesc), members: [] };
}

/**
 * The rows of {@linkcode USER_GROUPS_SQL}, sorted by group then member, as one record per group.
 *
 * @example
 * ```ts
 * const [group] = groupRecords([
 *   { id: 1, groupname: "g", groupdesc: "d", userid: 2, name: "bob", grouprole: "creator" },
 * ]);
 * ```
 */
export function groupRecords(rows: readonly Row[]): GroupRecord[] {
  // Rows sorted by group: a new group starts wherever the group id changes.
  const groups: GroupRecord[] = [];
  for (const row of rows) {
    let group = groups.at(-1);
    if (group?.id !== Number(row.id)) {
      group = { id: Number(row.id), name: String(row.groupname), desc: String(row.groupdesc), members: [] };
      groups.push(group);
    }
    group.members.push({
      id: Number(row.userid),
      name: String(row.name),
      role: row.grouprole as GroupMember["role"],
    });
  }
  return groups;
}

/**
 * Every group a user belongs to with all its members, one row per member: the query behind
 * `Store.listUserGroups` in both dialects, whose columns {@linkcode groupRecords} reads.
 *
 * @example
 * ```ts
 * const sql: string = USER_GROUPS_SQL;
 * ```
 */
export const USER_GROUPS_SQL = "SELECT g.id, g.groupname, g.groupdesc, u.id AS userid, u.name, m.grouprole " +
  "FROM groupuser mine " +
  "JOIN allgroup g ON g.id = mine.groupid " +
  "JOIN groupuser m ON m.groupid = g.id " +
  "JOIN user u ON u.id = m.userid " +
  "WHERE mine.userid = ? ORDER BY g.id, u.id";

/**
 * A row of `SELECT id, message FROM offlinemessage`.
 *
 * @example
 * ```ts
 * const message = offlineMessage({ id: 7, message: '{"msgid":5}' });
 * ```
 */
export function offlineMessage(row: Row): OfflineMessage {
  return { id: bigId(row.id), frame: String(row.message) };
}

/**
 * The columns of the `messages` table that {@linkcode storedMessage} reads, in both dialects.
 *
 * @example
 * ```ts
 * const sql = `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE conv = ? AND seq = ?`;
 * ```
 */
export const MESSAGE_COLUMNS = "conv, seq, sender, ts, mid, frame";

/**
 * A row of `SELECT conv, seq, sender, ts, mid, frame FROM messages` ({@linkcode MESSAGE_COLUMNS}).
 *
 * @example
 * ```ts
 * const message = storedMessage({ conv: "u:1:2", seq: 1, sender: 1, ts: 1795000000000, mid: "m", frame: "{}" });
 * ```
 */
export function storedMessage(row: Row): StoredMessage {
  return {
    conv: String(row.conv),
    seq: bigId(row.seq),
    senderId: bigId(row.sender),
    mid: String(row.mid),
    ts: bigId(row.ts),
    frame: String(row.frame),
  };
}

/**
 * A row of `SELECT tokenhash, expires_at FROM device_tokens`.
 *
 * @example
 * ```ts
 * const token = deviceToken({ tokenhash: "ab12", expires_at: 1795000000000 });
 * ```
 */
export function deviceToken(row: Row): DeviceToken {
  return { tokenHash: String(row.tokenhash), expiresAt: bigId(row.expires_at) };
}
