/**
 * Who may change a group (PROTOCOL.md "Groups"), decided from the roles that a store
 * read inside its transaction. One source for every store, so SQLite and MySQL refuse alike; the checks run
 * in the order of the protocol's errnos (the acting user first, then the target, then the role rules).
 *
 * @module
 */

import type { GroupRefusal, GroupRole } from "./store.ts";

/**
 * Why `actor` may not kick `target` (each the member's role, `null` when not a member), or `null` when they
 * may: the creator kicks anyone else, an admin kicks normal members only, nobody kicks the creator.
 *
 * @example
 * ```ts
 * kickRefusal("admin", "normal"); // null
 * kickRefusal("admin", "admin"); // "not_permitted"
 * ```
 */
export function kickRefusal(actor: GroupRole | null, target: GroupRole | null): GroupRefusal | null {
  if (actor === null) return "not_member";
  if (target === null) return "no_target";
  if (actor === "normal" || target === "creator") return "not_permitted";
  if (actor === "admin" && target === "admin") return "not_permitted";
  return null;
}

/**
 * Why `actor` may not set `target`'s role, or `null` when they may: only the creator sets roles, and the
 * creator's own role is not one to set (it changes hands only when the creator leaves). Unlike a kick, a
 * non-creator is refused before the target is looked at (PROTOCOL.md SET_ROLE's order).
 *
 * @example
 * ```ts
 * setRoleRefusal("creator", "normal"); // null
 * setRoleRefusal("admin", "normal"); // "not_permitted"
 * ```
 */
export function setRoleRefusal(actor: GroupRole | null, target: GroupRole | null): GroupRefusal | null {
  if (actor === null) return "not_member";
  if (actor !== "creator") return "not_permitted";
  if (target === null) return "no_target";
  if (target === "creator") return "not_permitted";
  return null;
}

/**
 * Why `actor` may not change the group's name or description, or `null` when they may (the creator or an
 * admin).
 *
 * @example
 * ```ts
 * updateRefusal("admin"); // null
 * updateRefusal("normal"); // "not_permitted"
 * ```
 */
export function updateRefusal(actor: GroupRole | null): GroupRefusal | null {
  if (actor === null) return "not_member";
  if (actor === "normal") return "not_permitted";
  return null;
}

/**
 * `role` when it is a role that SET_ROLE may give; otherwise a RangeError (a caller's bug: the service
 * answers errno 4 before it asks the store).
 *
 * @example
 * ```ts
 * const role = assignableRole("admin"); // "admin"
 * ```
 */
export function assignableRole(role: string): "admin" | "normal" {
  if (role !== "admin" && role !== "normal") {
    throw new RangeError(`role must be "admin" or "normal", got ${JSON.stringify(role)}`);
  }
  return role;
}

/**
 * `fields` when it names at least one of `name` and `desc`, each a string; otherwise a RangeError or
 * TypeError (a caller's bug: the service answers errno 4).
 *
 * @example
 * ```ts
 * const fields = groupFields({ desc: "" }); // { desc: "" }
 * ```
 */
export function groupFields(fields: { name?: string; desc?: string }): { name?: string; desc?: string } {
  if (fields.name === undefined && fields.desc === undefined) {
    throw new RangeError("updateGroup needs a name or a description");
  }
  for (const key of ["name", "desc"] as const) {
    const value = fields[key];
    if (value !== undefined && typeof value !== "string") {
      throw new TypeError(`group ${key} must be a string, got ${typeof value}`);
    }
  }
  return fields;
}
