/**
 * Groups and their members in SQLite: the `allgroup`, `groupuser` and `groupleft` tables' part of `Store`.
 * A member joins at the group conversation's last seq (`groupuser.joinseq`) and in the group's join order
 * (`groupuser.joinorder`); a member who leaves moves to `groupleft` with the last seq at that moment, up to
 * which they may still read. The role-dependent changes (kick, set role, update) are `sqlite_group_roles.ts`.
 *
 * @module
 */

import { GROUP_SQL, groupRecord, groupRecords, USER_GROUPS_SQL } from "./row_records.ts";
import { bindId, type SqliteConnection, uniqueName } from "./sqlite_connection.ts";
import { groupFound, memberRole, removeMember } from "./sqlite_group_members.ts";
import { SqliteGroupRoles } from "./sqlite_group_roles.ts";
import type { GroupAccess, GroupChange, GroupLeave, GroupMethods, GroupRecord, GroupRole } from "./store.ts";

const SQL = {
  create: "INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)",
  addCreator: "INSERT INTO groupuser (groupid, userid, grouprole, joinorder) VALUES (?, ?, 'creator', 1)",
  // The first member of a group without members becomes its creator; everyone else joins as normal, after
  // every member there is. DO NOTHING keeps a member's role, join seq and join order (RETURNING then gives no
  // row). `WHERE true` tells SQLite's parser that ON CONFLICT is not a join constraint.
  addMember: "INSERT INTO groupuser (groupid, userid, grouprole, joinseq, joinorder) " +
    "SELECT ?1, ?2, " +
    "CASE WHEN EXISTS (SELECT 1 FROM groupuser WHERE groupid = ?1) THEN 'normal' ELSE 'creator' END, " +
    "coalesce((SELECT lastseq FROM conversations WHERE conv = 'g:' || ?1), 0), " +
    "coalesce((SELECT max(joinorder) FROM groupuser WHERE groupid = ?1), 0) + 1 WHERE true " +
    "ON CONFLICT (groupid, userid) DO NOTHING RETURNING grouprole",
  forgetLeft: "DELETE FROM groupleft WHERE groupid = ? AND userid = ?",
  memberIds: "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid",
  // The longest-standing admin, else the longest-standing member: a few rows per group, sorted.
  heir: "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY grouprole <> 'admin', joinorder LIMIT 1",
  makeCreator: "UPDATE groupuser SET grouprole = 'creator' WHERE groupid = ? AND userid = ?",
  isMember: "SELECT 1 FROM groupuser WHERE groupid = ? AND userid = ?",
  leftSeq: "SELECT leftseq FROM groupleft WHERE groupid = ? AND userid = ?",
} as const;

/**
 * The group tables over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const groups = new SqliteGroups(connection);
 * const exists = await groups.groupExists(1);
 * ```
 */
export class SqliteGroups implements GroupMethods {
  readonly #db: SqliteConnection;
  readonly #roles: SqliteGroupRoles;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
    this.#roles = new SqliteGroupRoles(connection);
  }

  /** Creates a group and its creator membership atomically; rejects with {@linkcode NameTakenError}. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    return this.#db.run(() => {
      const creator = bindId(creatorId, "creator id");
      return uniqueName(() =>
        this.#db.transaction(() => {
          const groupId = this.#db.statement(SQL.create).run(name, desc).lastInsertRowid;
          this.#db.statement(SQL.addCreator).run(groupId, creator);
          return Number(groupId);
        }), { kind: "group", name });
    });
  }

  /** Whether the group exists. */
  groupExists(groupId: number): Promise<boolean> {
    return this.#db.run(() => groupFound(this.#db, bindId(groupId, "group id")));
  }

  /** The group with all its members ordered by id, or `null` when it does not exist. */
  findGroup(groupId: number): Promise<GroupRecord | null> {
    return this.#db.run(() => groupRecord(this.#db.statement(GROUP_SQL).all(bindId(groupId, "group id"))));
  }

  /**
   * Adds a member at the conversation's current last seq and last in the join order: `normal`, or `creator`
   * when the group has no members left. `null` (a no-op) when already a member. A former member becomes a
   * member again.
   */
  addGroupMember(groupId: number, userId: number): Promise<GroupRole | null> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      return this.#db.transaction(() => {
        const added = this.#db.statement(SQL.addMember).get(group, user);
        if (added === undefined) return null;
        this.#db.statement(SQL.forgetLeft).run(group, user);
        return added.grouprole as GroupRole;
      });
    });
  }

  /** Removes a member, recording the conversation's last seq as where they may read up to; else a no-op. */
  removeGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      this.#db.transaction(() => removeMember(this.#db, group, user));
    });
  }

  /**
   * LEAVE_GROUP: removes the member as removeGroupMember does; a leaving creator hands the role to the
   * longest-standing admin, else the longest-standing member (`heir`). The last member leaving leaves the
   * group without members: whoever joins next becomes its creator.
   */
  leaveGroup(groupId: number, userId: number): Promise<GroupLeave> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      return this.#db.transaction((): GroupLeave => {
        if (!groupFound(this.#db, group)) return { ok: false, reason: "no_group" };
        const role = memberRole(this.#db, group, user);
        if (role === null) return { ok: false, reason: "not_member" };
        removeMember(this.#db, group, user);
        if (role !== "creator") return { ok: true };
        const heir = this.#db.statement(SQL.heir).get(group);
        if (heir === undefined) return { ok: true };
        this.#db.statement(SQL.makeCreator).run(group, heir.userid);
        return { ok: true, heir: Number(heir.userid) };
      });
    });
  }

  /** KICK (see `sqlite_group_roles.ts`). */
  kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange> {
    return this.#roles.kickMember(groupId, actorId, targetId);
  }

  /** SET_ROLE (see `sqlite_group_roles.ts`). */
  setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange> {
    return this.#roles.setMemberRole(groupId, actorId, targetId, role);
  }

  /** UPDATE_GROUP (see `sqlite_group_roles.ts`); rejects with {@linkcode NameTakenError}. */
  updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    return this.#roles.updateGroup(groupId, actorId, fields);
  }

  /** Whether `userId` is, was (and up to which seq they may read), or never was (`null`) a member. */
  groupAccess(groupId: number, userId: number): Promise<GroupAccess> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      if (this.#db.statement(SQL.isMember).get(group, user) !== undefined) return { member: true };
      const left = this.#db.statement(SQL.leftSeq).get(group, user);
      return left === undefined ? null : { member: false, lastSeq: Number(left.leftseq) };
    });
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]> {
    return this.#db.run(() => {
      const rows = this.#db.statement(SQL.memberIds).all(bindId(groupId, "group id"));
      return rows.map((row) => Number(row.userid));
    });
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]> {
    return this.#db.run(() =>
      groupRecords(this.#db.statement(USER_GROUPS_SQL).all(bindId(userId, "user id")))
    );
  }
}
