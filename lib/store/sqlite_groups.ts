/**
 * Groups and their members in SQLite: the `allgroup` and `groupuser` tables' part of `Store`.
 *
 * @module
 */

import { bindId, type SqliteConnection, uniqueName } from "./sqlite_connection.ts";
import { groupRecords, USER_GROUPS_SQL } from "./row_records.ts";
import type { GroupMethods, GroupRecord } from "./store.ts";

const SQL = {
  create: "INSERT INTO allgroup (groupname, groupdesc) VALUES (?, ?)",
  addCreator: "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'creator')",
  exists: "SELECT 1 FROM allgroup WHERE id = ?",
  // DO NOTHING also keeps a creator who "joins" their own group a creator.
  addMember: "INSERT INTO groupuser (groupid, userid, grouprole) VALUES (?, ?, 'normal') " +
    "ON CONFLICT (groupid, userid) DO NOTHING",
  memberIds: "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY userid",
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

  /** Adds a normal member; joining twice (or the creator joining) is a no-op. */
  addGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#db.run(() => {
      this.#db.statement(SQL.addMember).run(bindId(groupId, "group id"), bindId(userId, "user id"));
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
