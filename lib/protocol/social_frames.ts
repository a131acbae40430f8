/**
 * Server-to-client frames of friends and groups (PROTOCOL.md msgids 21, 22 and 29): live frames, never
 * stored, and never sent to a v1 connection (`Session.deliver` drops them).
 *
 * @module
 */
import { MsgId } from "./msg_id.ts";

/**
 * FRIEND_REQUEST pushed to the target: `id` (the requester) asks to be friends.
 *
 * @example
 * ```ts
 * friendRequestFrame({ id: 1, name: "ann", note: "hi" });
 * // '{"msgid":21,"id":1,"name":"ann","note":"hi"}'
 * ```
 */
export function friendRequestFrame(request: { id: number; name: string; note: string }): string {
  return JSON.stringify({
    msgid: MsgId.FRIEND_REQUEST,
    id: request.id,
    name: request.name,
    note: request.note,
  });
}

/**
 * FRIEND_REPLY pushed to the requester: `id` (who answered) accepted or declined.
 *
 * @example
 * ```ts
 * friendReplyFrame({ id: 2, name: "bob", accept: true });
 * // '{"msgid":22,"id":2,"name":"bob","accept":true}'
 * ```
 */
export function friendReplyFrame(reply: { id: number; name: string; accept: boolean }): string {
  return JSON.stringify({ msgid: MsgId.FRIEND_REPLY, id: reply.id, name: reply.name, accept: reply.accept });
}

/** A member's role in a group, as frames spell it. */
export type MemberRole = "creator" | "admin" | "normal";

/** What happened in a group (PROTOCOL.md "Groups"). */
export type GroupEventKind = "joined" | "left" | "kicked" | "role" | "updated";

/** A GROUP_EVENT: `userid` is who it is about, `by` who did it; the rest depends on the kind. */
export interface GroupEvent {
  groupid: number;
  event: GroupEventKind;
  userid: number;
  by: number;
  /** `joined`: the role joined with; `role`: the new role. */
  role?: MemberRole;
  /** `updated`, and CREATE_GROUP's `joined`: the group's name and description as they are now. */
  groupname?: string;
  groupdesc?: string;
  /** `joined`: the joiner's name. */
  name?: string;
}

/**
 * GROUP_EVENT; the fields a kind does not have are left out.
 *
 * @example
 * ```ts
 * groupEventFrame({ groupid: 3, event: "kicked", userid: 5, by: 1 });
 * // '{"msgid":29,"groupid":3,"event":"kicked","userid":5,"by":1}'
 * ```
 */
export function groupEventFrame(event: GroupEvent): string {
  return JSON.stringify({
    msgid: MsgId.GROUP_EVENT,
    groupid: event.groupid,
    event: event.event,
    userid: event.userid,
    by: event.by,
    role: event.role,
    groupname: event.groupname,
    groupdesc: event.groupdesc,
    name: event.name,
  });
}
