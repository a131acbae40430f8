/**
 * The local copy of the user's groups, changed as GROUP_EVENTs and the group commands' ACKs say
 * (PROTOCOL.md "Groups"), and the line that tells a GROUP_EVENT to the user.
 */
import type { Group, GroupEvent } from "./model.ts";
import { printable } from "./render.ts";

/** How {@linkcode describeGroupEvent} names things. */
export interface EventWords {
  /** A user: `bob (2)`, `user 7`, or `you` for the logged-in user. */
  who(id: number): string;
  /** The event's group as it was before the event: `g:5 (dev)`. */
  ref: string;
}

/**
 * What a GROUP_EVENT says, to be read before it is applied to `groups` (an update says what changed).
 *
 * @example
 * ```ts
 * const who = (id: number) => ({ 1: "alice (1)", 2: "bob (2)" })[id] ?? `user ${id}`;
 * describeGroupEvent({ groupid: 5, event: "kicked", userid: 2, by: 1 }, new Map(), { who, ref: "g:5 (dev)" });
 * // "alice (1) kicked bob (2) from g:5 (dev)"
 * ```
 */
export function describeGroupEvent(
  event: GroupEvent,
  groups: ReadonlyMap<number, Group>,
  words: EventWords,
): string {
  const who = words.who(event.userid);
  const by = words.who(event.by);
  const ref = words.ref;
  switch (event.event) {
    case "joined": {
      const as = event.role && event.role !== "normal" ? ` as ${event.role}` : "";
      return `${who} joined ${ref}${as}`;
    }
    case "left":
      return `${who} left ${ref}`;
    case "kicked":
      return `${by} kicked ${who} from ${ref}`;
    case "role":
      // A creator who leaves hands the group over: `by` is the one who left.
      if (event.role === "creator") return `${who} took over ${ref} from ${by} as its creator`;
      return `${by} made ${who} ${event.role === "admin" ? "an admin" : "a normal member"} of ${ref}`;
    case "updated": {
      const group = groups.get(event.groupid);
      const renamed = event.groupname !== undefined && event.groupname !== group?.groupname;
      const described = event.groupdesc !== undefined && event.groupdesc !== group?.groupdesc;
      const name = printable(event.groupname ?? "");
      const desc = printable(event.groupdesc ?? "");
      if (renamed && described) {
        return `${by} renamed ${ref} to ${name} and changed its description to: ${desc}`;
      }
      if (described) return `${by} changed the description of ${ref} to: ${desc}`;
      return `${by} renamed ${ref} to ${name}`;
    }
  }
}

/** What {@linkcode applyGroupEvent} needs to know of the user and the users it may add. */
export interface MemberFacts {
  /** The logged-in user's id. */
  me: number;
  /** A user's name, empty when unknown. */
  nameOf(id: number): string;
  /** Whether a block between the user and `id` hides `id`'s presence. */
  hidden(id: number): boolean;
}

/**
 * Brings `groups` in line with a GROUP_EVENT: a member joins, leaves, is kicked or changes role, the group
 * is renamed; a group the user left or was kicked from is removed, one they joined (on another device)
 * is added.
 *
 * @example
 * ```ts
 * const groups = new Map([[5, { id: 5, groupname: "dev", groupdesc: "", users: [] }]]);
 * const facts = { me: 1, nameOf: () => "carol", hidden: () => false };
 * applyGroupEvent(groups, { groupid: 5, event: "joined", userid: 3, by: 3, role: "normal" }, facts);
 * groups.get(5)!.users; // [{ id: 3, name: "carol", state: "online", role: "normal" }]
 * ```
 */
export function applyGroupEvent(groups: Map<number, Group>, event: GroupEvent, facts: MemberFacts): void {
  switch (event.event) {
    case "joined": {
      if (!groups.has(event.groupid) && event.userid === facts.me) {
        // Joined on another device, or the event came before this device's ACK.
        groups.set(event.groupid, {
          id: event.groupid,
          groupname: event.groupname ?? "",
          groupdesc: event.groupdesc ?? "",
          users: [],
        });
      }
      const group = groups.get(event.groupid);
      if (!group) return;
      const member = group.users.find((user) => user.id === event.userid);
      const role = event.role ?? "normal";
      if (member) {
        member.role = role;
        return;
      }
      // The joiner acted just now, so is online, unless a block between them hides it.
      const state = facts.hidden(event.userid) ? "offline" : "online";
      group.users.push({ id: event.userid, name: facts.nameOf(event.userid), state, role });
      return;
    }
    case "left":
    case "kicked":
      if (event.userid === facts.me) groups.delete(event.groupid);
      else removeMember(groups, event.groupid, event.userid);
      return;
    case "role":
      if (event.role) setMemberRole(groups, event.groupid, event.userid, event.role);
      return;
    case "updated": {
      const group = groups.get(event.groupid);
      if (!group) return;
      if (event.groupname !== undefined) group.groupname = event.groupname;
      if (event.groupdesc !== undefined) group.groupdesc = event.groupdesc;
    }
  }
}

/** Removes a member from the local copy of a group (nothing when either is unknown). */
export function removeMember(groups: Map<number, Group>, groupid: number, userid: number): void {
  const group = groups.get(groupid);
  if (group) group.users = group.users.filter((user) => user.id !== userid);
}

/** Sets a member's role in the local copy of a group (nothing when either is unknown). */
export function setMemberRole(
  groups: Map<number, Group>,
  groupid: number,
  userid: number,
  role: string,
): void {
  const member = groups.get(groupid)?.users.find((user) => user.id === userid);
  if (member) member.role = role;
}
