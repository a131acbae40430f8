/**
 * What members do to a group in MySQL: leave it, kick a member, set a member's role, rename or redescribe it
 * (PROTOCOL.md "Groups"). Each is one transaction that reads the roles it decides on with locking reads and
 * changes the rows before it commits, in the lock order of `mysql_group_rows.ts`; a deadlock or lock-wait
 * timeout runs it again.
 *
 * @module
 */

import { safeId } from "./argument_checks.ts";
import {
  assignableRole,
  groupFields,
  kickRefusal,
  setRoleRefusal,
  updateRefusal,
} from "./group_permissions.ts";
import { LOCK_RETRIES, type MysqlConnections, uniqueName } from "./mysql_connections.ts";
import { groupRowExists, lockGroup, lockMembers, removeMember } from "./mysql_group_rows.ts";
import type { GroupChange, GroupLeave, GroupRefusal } from "./store.ts";

/** A change refused for `reason` (decided by `group_permissions.ts`, as in every store). */
function refused(reason: GroupRefusal): GroupChange {
  return { ok: false, reason };
}

/**
 * The group changes over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const changes = new MysqlGroupChanges(connections);
 * const change = await changes.kickMember(12, 1, 3);
 * if (!change.ok) console.log(change.reason); // "not_permitted" when user 1 may not kick user 3
 * ```
 */
export class MysqlGroupChanges {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /**
   * Removes the member (as `removeGroupMember`); a leaving creator hands the role to the earliest-joined admin,
   * else the earliest-joined member (`heir`). The group's row is locked first, so a user joining the group at
   * the same time either counts among the members (and may inherit) or finds it empty (and creates it anew).
   */
  async leaveGroup(groupId: number, userId: number): Promise<GroupLeave> {
    const group = safeId(groupId, "group id");
    const user = safeId(userId, "user id");
    return await this.#connections.transaction(async (db): Promise<GroupLeave> => {
      if (await lockGroup(db, group) === null) return { ok: false, reason: "no_group" };
      const role = (await lockMembers(db, group, [user])).get(user);
      if (role === undefined) return { ok: false, reason: "not_member" };
      await removeMember(db, group, user);
      if (role !== "creator") return { ok: true };
      const [heir] = await db.read(
        "SELECT userid FROM groupuser WHERE groupid = ? ORDER BY grouprole = 'admin' DESC, joinorder LIMIT 1 " +
          "FOR UPDATE",
        [group],
      );
      if (!heir) return { ok: true };
      const heirId = Number(heir.userid);
      await db.write("UPDATE groupuser SET grouprole = 'creator' WHERE groupid = ? AND userid = ?", [
        group,
        heirId,
      ]);
      return { ok: true, heir: heirId };
    }, { retries: LOCK_RETRIES });
  }

  /**
   * KICK: the creator or an admin removes `targetId`; an admin may not kick an admin, and nobody the creator.
   * Both memberships are locked before the roles are read, so of two kicks at once each sees the other's
   * outcome or none of it.
   */
  async kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange> {
    const group = safeId(groupId, "group id");
    const actor = safeId(actorId, "actor id");
    const target = safeId(targetId, "target id");
    return await this.#connections.transaction(async (db): Promise<GroupChange> => {
      if (!(await groupRowExists(db, group))) return refused("no_group");
      const roles = await lockMembers(db, group, [actor, target]);
      const refusal = kickRefusal(roles.get(actor) ?? null, roles.get(target) ?? null);
      if (refusal !== null) return refused(refusal);
      await removeMember(db, group, target);
      return { ok: true, changed: true };
    }, { retries: LOCK_RETRIES });
  }

  /** SET_ROLE: the creator makes a member `admin` or `normal`; the role it has already is no change. */
  async setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange> {
    const group = safeId(groupId, "group id");
    const actor = safeId(actorId, "actor id");
    const target = safeId(targetId, "target id");
    assignableRole(role);
    return await this.#connections.transaction(async (db): Promise<GroupChange> => {
      if (!(await groupRowExists(db, group))) return refused("no_group");
      const roles = await lockMembers(db, group, [actor, target]);
      const refusal = setRoleRefusal(roles.get(actor) ?? null, roles.get(target) ?? null);
      if (refusal !== null) return refused(refusal);
      if (roles.get(target) === role) return { ok: true, changed: false };
      await db.write("UPDATE groupuser SET grouprole = ? WHERE groupid = ? AND userid = ?", [
        role,
        group,
        target,
      ]);
      return { ok: true, changed: true };
    }, { retries: LOCK_RETRIES });
  }

  /**
   * UPDATE_GROUP: the creator or an admin sets the name and/or the description; the values it has already are
   * no change. Rejects with NameTakenError when the name is another group's.
   */
  async updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    const group = safeId(groupId, "group id");
    const actor = safeId(actorId, "actor id");
    groupFields(fields);
    return await this.#connections.transaction(async (db): Promise<GroupChange> => {
      // The group's row first (its values are compared, then written), then the actor's membership.
      const current = await lockGroup(db, group);
      if (current === null) return refused("no_group");
      const refusal = updateRefusal((await lockMembers(db, group, [actor])).get(actor) ?? null);
      if (refusal !== null) return refused(refusal);
      const name = fields.name ?? current.name;
      const desc = fields.desc ?? current.desc;
      if (name === current.name && desc === current.desc) return { ok: true, changed: false };
      await uniqueName(
        () => db.write("UPDATE allgroup SET groupname = ?, groupdesc = ? WHERE id = ?", [name, desc, group]),
        { kind: "group", name },
      );
      return { ok: true, changed: true };
    }, { retries: LOCK_RETRIES });
  }
}
