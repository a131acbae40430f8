/**
 * Groups and their members in SQLite: the `allgroup`, `groupuser` and `groupleft` tables' part of `Store`.
 * A member joins at the group conversation's last seq (`groupuser.joinseq`); a member who leaves moves to
 * `groupleft` with the last seq at that moment, up to which they may still read.
 *
 * @module
 */

import { bindId, type SqliteConnection, uniqueName } from "./sqlite_connection.ts";
import { groupRecords, USER_GROUPS_SQL } from "./row_records.ts";
import type { GroupAccess, GroupMethods, GroupRecord } from "./store.ts";

const SQL = {
  create: "INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)",
  addCreator: "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')",
  exists: "SELECT 1 FROM allgroup WHERE id = ?",
  // DO NOTHING also keeps a creator who "joins" their own group a creator, and a member's join seq.
  addMember: "INSERT INTO groupuser (groupid, userid, grouprole, joinseq) VALUES (?1, ?2, 'normal', " +
    "coalesce((SELECT lastseq FROM conversations WHERE conv = 'g:' || ?1), 0)) " +
    "ON CONFLICT (groupid, userid) DO NOTHING",
  forgetLeft: "DELETE FROM groupleft WHERE groupid = ? AND userid = ?",
  memberIds: "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid",
  removeMember: "DELETE FROM groupuser WHERE groupid = ? AND userid = ?",
  recordLeft: "INSERT INTO groupleft (groupid, userid, leftseq) VALUES (?1, ?2, " +
    "coalesce((SELECT lastseq FROM conversations WHERE conv = 'g:' || ?1), 0)) " +
    "ON CONFLICT (groupid, userid) DO UPDATE SET leftseq = excluded.leftseq",
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

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
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
    return this.#db.run(() => this.#db.statement(SQL.exists).get(bindId(groupId, "group id")) !== undefined);
  }

  /**
   * Adds a normal member at the conversation's current last seq; joining twice (or the creator joining) is a
   * no-op. A former member becomes a member again.
   */
  addGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      this.#db.transaction(() => {
        if (this.#db.statement(SQL.addMember).run(group, user).changes > 0) {
          this.#db.statement(SQL.forgetLeft).run(group, user);
        }
      });
    });
  }

  /** Removes a member, recording the conversation's last seq as where they may read up to; else a no-op. */
  removeGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const user = bindId(userId, "user id");
      this.#db.transaction(() => {
        if (this.#db.statement(SQL.removeMember).run(group, user).changes > 0) {
          this.#db.statement(SQL.recordLeft).run(group, user);
        }
      });
    });
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
