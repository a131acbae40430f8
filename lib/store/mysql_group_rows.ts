/**
 * The statements on a group's rows that joining, leaving, kicking and role changes share in MySQL, and the lock
 * order they keep:
 *
 * - a change that can make a group empty or not (join, leave, remove) or changes the `allgroup` row (update)
 *   first locks the group's `allgroup` row ({@linkcode lockGroup}), so that of two users joining an emptied
 *   group at once exactly one becomes its creator;
 * - then the `groupuser` rows it decides on, in userid order ({@linkcode lockMembers}); kick and set-role lock
 *   only these (a kick never empties a group: the kicker stays).
 *
 * Groups are never deleted, so whether one exists can be read without a lock.
 *
 * @module
 */

import type { MysqlSession } from "./mysql_connections.ts";
import type { GroupRole } from "./store.ts";

/** The group conversation's last seq (0 before its first message), for the group id bound at its `?`. */
export const GROUP_LAST_SEQ = "COALESCE((SELECT lastseq FROM conversations WHERE groupid = ?), 0)";

/**
 * Locks the group's `allgroup` row until the transaction ends; its name and description, or `null` when the
 * group does not exist.
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * const group = await lockGroup(db, 12);
 * if (group === null) console.log("no such group");
 * ```
 */
export async function lockGroup(
  db: MysqlSession,
  groupId: number,
): Promise<{ name: string; desc: string } | null> {
  const [row] = await db.read("SELECT groupname, groupdesc FROM allgroup WHERE id = ? FOR UPDATE", [groupId]);
  return row ? { name: String(row.groupname), desc: String(row.groupdesc) } : null;
}

/**
 * Whether the group exists (a plain read: groups are never deleted).
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * await groupRowExists(db, 12); // false for a group never created
 * ```
 */
export async function groupRowExists(db: MysqlSession, groupId: number): Promise<boolean> {
  return (await db.read("SELECT 1 FROM allgroup WHERE id = ?", [groupId])).length > 0;
}

/**
 * Locks the memberships of `userIds` in the group (`SELECT ... FOR UPDATE`, lowest userid first, so two
 * transactions locking overlapping members wait for each other instead of deadlocking) and returns the role of
 * each one that is a member.
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * const roles = await lockMembers(db, 12, [7, 3]);
 * roles.get(3); // "creator", "admin", "normal", or undefined for a non-member
 * ```
 */
export async function lockMembers(
  db: MysqlSession,
  groupId: number,
  userIds: number[],
): Promise<Map<number, GroupRole>> {
  const roles = new Map<number, GroupRole>();
  // One statement per member rather than an IN list: the order of the locks is then the order written here.
  for (const userId of [...new Set(userIds)].sort((a, b) => a - b)) {
    const [row] = await db.read(
      "SELECT grouprole FROM groupuser WHERE groupid = ? AND userid = ? FOR UPDATE",
      [groupId, userId],
    );
    if (row) roles.set(userId, String(row.grouprole) as GroupRole);
  }
  return roles;
}

/**
 * Removes the membership, recording the conversation's last seq as where the former member's view ends; `false`
 * when the user was not a member.
 *
 * @example
 * ```ts
 * import type { MysqlSession } from "./mysql_connections.ts";
 *
 * declare const db: MysqlSession;
 * await removeMember(db, 12, 3);
 * ```
 */
export async function removeMember(db: MysqlSession, groupId: number, userId: number): Promise<boolean> {
  const removed = await db.write("DELETE FROM groupuser WHERE groupid = ? AND userid = ?", [groupId, userId]);
  if (removed.affectedRows === 0) return false;
  await db.write(
    `INSERT INTO groupleft (groupid, userid, leftseq) VALUES (?, ?, ${GROUP_LAST_SEQ}) ` +
      "ON DUPLICATE KEY UPDATE leftseq = VALUES(leftseq)",
    [groupId, userId, groupId],
  );
  return true;
}
