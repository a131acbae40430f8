/**
 * Group changes that depend on roles, in SQLite: KICK, SET_ROLE and UPDATE_GROUP. Each reads the roles and
 * makes its change in one BEGIN IMMEDIATE transaction, which holds the database's write lock throughout, so of
 * two changes at once (on any process sharing the file) each sees the other's outcome or none. Who may do
 * what is `group_permissions.ts`'s to decide, the same for every store.
 *
 * @module
 */

import {
  assignableRole,
  groupFields,
  kickRefusal,
  setRoleRefusal,
  updateRefusal,
} from "./group_permissions.ts";
import { bindId, type SqliteConnection, uniqueName } from "./sqlite_connection.ts";
import { groupFound, memberRole, removeMember } from "./sqlite_group_members.ts";
import type { GroupChange, GroupMethods } from "./store.ts";

const SQL = {
  setRole: "UPDATE groupuser SET grouprole = ? WHERE groupid = ? AND userid = ?",
  group: "SELECT groupname, groupdesc FROM allgroup WHERE id = ?",
  update: "UPDATE allgroup SET groupname = ?, groupdesc = ? WHERE id = ?",
} as const;

/** The role-dependent methods of `Store`. */
export type GroupRoleMethods = Pick<GroupMethods, "kickMember" | "setMemberRole" | "updateGroup">;

/**
 * KICK, SET_ROLE and UPDATE_GROUP over one SQLite connection.
 *
 * @example
 * ```ts
 * import type { SqliteConnection } from "./sqlite_connection.ts";
 *
 * declare const connection: SqliteConnection;
 * const roles = new SqliteGroupRoles(connection);
 * const change = await roles.setMemberRole(1, 2, 3, "admin");
 * ```
 */
export class SqliteGroupRoles implements GroupRoleMethods {
  readonly #db: SqliteConnection;

  /** Statements run on `connection`, which stays the caller's to close. */
  constructor(connection: SqliteConnection) {
    this.#db = connection;
  }

  /** KICK: removes `targetId` as the actor's role allows (see `kickRefusal`). */
  kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const actor = bindId(actorId, "actor id");
      const target = bindId(targetId, "target id");
      return this.#db.transaction((): GroupChange => {
        if (!groupFound(this.#db, group)) return { ok: false, reason: "no_group" };
        const refusal = kickRefusal(memberRole(this.#db, group, actor), memberRole(this.#db, group, target));
        if (refusal !== null) return { ok: false, reason: refusal };
        removeMember(this.#db, group, target);
        return { ok: true, changed: true };
      });
    });
  }

  /** SET_ROLE: the creator makes a member `admin` or `normal`; the role it has already is no change. */
  setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const actor = bindId(actorId, "actor id");
      const target = bindId(targetId, "target id");
      const newRole = assignableRole(role);
      return this.#db.transaction((): GroupChange => {
        if (!groupFound(this.#db, group)) return { ok: false, reason: "no_group" };
        const targetRole = memberRole(this.#db, group, target);
        const refusal = setRoleRefusal(memberRole(this.#db, group, actor), targetRole);
        if (refusal !== null) return { ok: false, reason: refusal };
        if (targetRole === newRole) return { ok: true, changed: false };
        this.#db.statement(SQL.setRole).run(newRole, group, target);
        return { ok: true, changed: true };
      });
    });
  }

  /**
   * UPDATE_GROUP: the creator or an admin changes the name and/or description; the values it has already are
   * no change. Rejects with {@linkcode NameTakenError} when the name is another group's (nothing changed).
   */
  updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    return this.#db.run(() => {
      const group = bindId(groupId, "group id");
      const actor = bindId(actorId, "actor id");
      const { name, desc } = groupFields(fields);
      return this.#db.transaction((): GroupChange => {
        const current = this.#db.statement(SQL.group).get(group);
        if (current === undefined) return { ok: false, reason: "no_group" };
        const refusal = updateRefusal(memberRole(this.#db, group, actor));
        if (refusal !== null) return { ok: false, reason: refusal };
        const newName = name ?? String(current.groupname);
        const newDesc = desc ?? String(current.groupdesc);
        if (newName === current.groupname && newDesc === current.groupdesc) {
          return { ok: true, changed: false };
        }
        uniqueName(() => this.#db.statement(SQL.update).run(newName, newDesc, group), {
          kind: "group",
          name: newName,
        });
        return { ok: true, changed: true };
      });
    });
  }
}
