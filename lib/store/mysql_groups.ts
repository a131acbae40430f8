/**
 * Groups and their members in MySQL: the `allgroup` and `groupuser` tables' part of `Store`.
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import { type MysqlConnections, uniqueName } from "./mysql_connections.ts";
import { groupRecords, USER_GROUPS_SQL } from "./row_records.ts";
import type { GroupAccess, GroupChange, GroupLeave, GroupMethods, GroupRecord, GroupRole } from "./store.ts";

/** The group conversation's last seq (0 before its first message), for the group id bound at its `?`. */
const GROUP_LAST_SEQ = "COALESCE((SELECT lastseq FROM conversations WHERE groupid = ?), 0)";

/**
 * The group tables over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const groups = new MysqlGroups(connections);
 * const groupId = await groups.createGroup(1, "rust", "systems talk");
 * ```
 */
export class MysqlGroups implements GroupMethods {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /** Creates a group and its creator membership in one transaction; rejects with {@linkcode NameTakenError}. */
  async createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    const creator = safeId(creatorId, "creator id");
    return await this.#connections.transaction(async (db) => {
      const result = await uniqueName(
        () => db.write("INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)", [name, desc]),
        { kind: "group", name },
      );
      const groupId = result.insertId;
      await db.write("INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')", [
        groupId,
        creator,
      ]);
      return groupId;
    });
  }

  /** Whether the group exists. */
  async groupExists(groupId: number): Promise<boolean> {
    const group = safeId(groupId, "group id");
    return await this.#connections.use(async (db) =>
      (await db.read("SELECT 1 FROM allgroup WHERE id = ?", [group])).length > 0
    );
  }

  /**
   * Adds a normal member, who joins at the group conversation's current last seq; joining twice (or the
   * creator joining) is a no-op. A former member joins again at the current last seq.
   */
  async addGroupMember(groupId: number, userId: number): Promise<GroupRole | null> {
    const params = [safeId(groupId, "group id"), safeId(userId, "user id")];
    return await this.#connections.transaction(async (db) => {
      const added = await db.write(
        "INSERT IGNORE INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal')",
        params,
      );
      if (added.affectedRows === 0) return null;
      await db.write(
        `INSERT INTO groupjoin (groupid, userid, joinseq) VALUES (?, ?, ${GROUP_LAST_SEQ}) ` +
          "ON DUPLICATE KEY UPDATE joinseq = VALUES(joinseq)",
        [...params, params[0]],
      );
      await db.write("DELETE FROM groupleft WHERE groupid = ? AND userid = ?", params);
      // Temporary: the MySQL side of issue 13 makes the first member of an empty group its creator.
      return "normal";
    });
  }

  /**
   * Removes a member (the creator too), recording the conversation's last seq as where their view ends. A
   * non-member is a no-op.
   */
  async removeGroupMember(groupId: number, userId: number): Promise<void> {
    const params = [safeId(groupId, "group id"), safeId(userId, "user id")];
    return await this.#connections.transaction(async (db) => {
      const removed = await db.write("DELETE FROM groupuser WHERE groupid = ? AND userid = ?", params);
      if (removed.affectedRows === 0) return;
      await db.write(
        `INSERT INTO groupleft (groupid, userid, leftseq) VALUES (?, ?, ${GROUP_LAST_SEQ}) ` +
          "ON DUPLICATE KEY UPDATE leftseq = VALUES(leftseq)",
        [...params, params[0]],
      );
    });
  }

  /** Whether the user is a member, was one (and up to which seq they may read), or never was (`null`). */
  async groupAccess(groupId: number, userId: number): Promise<GroupAccess> {
    const params = [safeId(groupId, "group id"), safeId(userId, "user id")];
    return await this.#connections.use(async (db) => {
      const [row] = await db.read(
        "SELECT (SELECT COUNT(*) FROM groupuser WHERE groupid = ? AND userid = ?) AS member, " +
          "(SELECT leftseq FROM groupleft WHERE groupid = ? AND userid = ?) AS leftseq",
        [...params, ...params],
      );
      if (Number(row.member) > 0) return { member: true };
      return row.leftseq === null ? null : { member: false, lastSeq: Number(row.leftseq) };
    });
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  async listGroupMemberIds(groupId: number): Promise<number[]> {
    const group = safeId(groupId, "group id");
    return await this.#connections.use(async (db) => {
      const rows = await db.read("SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid", [group]);
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  async listUserGroups(userId: number): Promise<GroupRecord[]> {
    const user = safeId(userId, "user id");
    return await this.#connections.use(async (db) => groupRecords(await db.read(USER_GROUPS_SQL, [user])));
  }

  // Temporary stubs so that the tree type-checks; the MySQL side of issue 13 replaces them.
  findGroup(_groupId: number): Promise<GroupRecord | null> {
    return Promise.reject(new Error("not implemented"));
  }

  leaveGroup(_groupId: number, _userId: number): Promise<GroupLeave> {
    return Promise.reject(new Error("not implemented"));
  }

  kickMember(_groupId: number, _actorId: number, _targetId: number): Promise<GroupChange> {
    return Promise.reject(new Error("not implemented"));
  }

  setMemberRole(
    _groupId: number,
    _actorId: number,
    _targetId: number,
    _role: "admin" | "normal",
  ): Promise<GroupChange> {
    return Promise.reject(new Error("not implemented"));
  }

  updateGroup(
    _groupId: number,
    _actorId: number,
    _fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    return Promise.reject(new Error("not implemented"));
  }
}
