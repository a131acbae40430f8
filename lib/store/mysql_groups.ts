/**
 * Groups and their members in MySQL: the `allgroup` and `groupuser` tables' part of `Store`, with what members
 * do to a group (leave, kick, roles, rename) in `mysql_group_changes.ts`.
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import { LOCK_RETRIES, type MysqlConnections, uniqueName } from "./mysql_connections.ts";
import { MysqlGroupChanges } from "./mysql_group_changes.ts";
import { GROUP_LAST_SEQ, lockGroup, removeMember } from "./mysql_group_rows.ts";
import { GROUP_SQL, groupRecord, groupRecords, USER_GROUPS_SQL } from "./row_records.ts";
import type { GroupAccess, GroupChange, GroupLeave, GroupMethods, GroupRecord, GroupRole } from "./store.ts";

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
  readonly #changes: MysqlGroupChanges;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
    this.#changes = new MysqlGroupChanges(connections);
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

  /** The group with its members ordered by id, or `null` when it does not exist. */
  async findGroup(groupId: number): Promise<GroupRecord | null> {
    const group = safeId(groupId, "group id");
    return await this.#connections.use(async (db) => groupRecord(await db.read(GROUP_SQL, [group])));
  }

  /**
   * Adds a member, who joins at the group conversation's current last seq: as `creator` when the group has no
   * members, else as `normal`. Resolves the role, or `null` when the user already was a member. A former member
   * joins again at the current last seq, and as the latest join.
   */
  async addGroupMember(groupId: number, userId: number): Promise<GroupRole | null> {
    const params = [safeId(groupId, "group id"), safeId(userId, "user id")];
    return await this.#connections.transaction(async (db): Promise<GroupRole | null> => {
      // The group's row is locked before the members are counted: of two users joining an empty group at
      // once, the second counts the first (mysql_group_rows.ts).
      await lockGroup(db, params[0]);
      const [count] = await db.read("SELECT COUNT(*) AS n FROM groupuser WHERE groupid = ?", [params[0]]);
      const role: GroupRole = Number(count.n) === 0 ? "creator" : "normal";
      const added = await db.write(
        "INSERT IGNORE INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, ?)",
        [...params, role],
      );
      if (added.affectedRows === 0) return null;
      await db.write(
        `INSERT INTO groupjoin (groupid, userid, joinseq) VALUES (?, ?, ${GROUP_LAST_SEQ}) ` +
          "ON DUPLICATE KEY UPDATE joinseq = VALUES(joinseq)",
        [...params, params[0]],
      );
      await db.write("DELETE FROM groupleft WHERE groupid = ? AND userid = ?", params);
      return role;
    }, { retries: LOCK_RETRIES });
  }

  /**
   * Removes a member (the creator too), recording the conversation's last seq as where their view ends. A
   * non-member is a no-op. Locks the group's row first, as joining and leaving do.
   */
  async removeGroupMember(groupId: number, userId: number): Promise<void> {
    const group = safeId(groupId, "group id");
    const user = safeId(userId, "user id");
    await this.#connections.transaction(async (db) => {
      await lockGroup(db, group);
      await removeMember(db, group, user);
    }, { retries: LOCK_RETRIES });
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

  /** LEAVE_GROUP, handing the creator role on (see `mysql_group_changes.ts`). */
  leaveGroup(groupId: number, userId: number): Promise<GroupLeave> {
    return this.#changes.leaveGroup(groupId, userId);
  }

  /** KICK (see `mysql_group_changes.ts`). */
  kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange> {
    return this.#changes.kickMember(groupId, actorId, targetId);
  }

  /** SET_ROLE (see `mysql_group_changes.ts`). */
  setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange> {
    return this.#changes.setMemberRole(groupId, actorId, targetId, role);
  }

  /** UPDATE_GROUP; rejects with NameTakenError for another group's name (see `mysql_group_changes.ts`). */
  updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    return this.#changes.updateGroup(groupId, actorId, fields);
  }
}
