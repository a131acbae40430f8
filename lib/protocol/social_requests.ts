/**
 * Decoders of the friend and group requests (PROTOCOL.md "Friends and blocking" and "Groups", msgids
 * 21–28). Every failure is a {@linkcode RequestError} with errno 4 naming the field; whether the users and
 * groups exist, and what the user may do, are the service's questions.
 *
 * @module
 */
import { Errno } from "./errno.ts";
import { RequestError } from "./errors.ts";
import { type Frame, optionalId, optionalText, requireBoolean, requireId, requireText } from "./fields.ts";
import type { Limits } from "./limits.ts";
import type { Identified } from "./requests.ts";

/** The longest `note` of a FRIEND_REQUEST, in characters. */
export const MAX_NOTE_LENGTH = 200;

/** The roles SET_ROLE may give (the creator's role only passes on when the creator leaves). */
export type AssignableRole = "admin" | "normal";

/** FRIEND_REQUEST: ask `friendid` to become friends both ways. */
export interface FriendRequestRequest extends Identified {
  friendid: number;
  note: string;
}

/**
 * FRIEND_REQUEST. `note` defaults to "".
 *
 * @example
 * ```ts
 * friendRequestRequest({ msgid: 21, friendid: 7 }); // { id: undefined, friendid: 7, note: "" }
 * ```
 */
export function friendRequestRequest(frame: Frame): FriendRequestRequest {
  return {
    id: optionalId(frame, "id"),
    friendid: requireId(frame, "friendid"),
    note: optionalText(frame, "note", MAX_NOTE_LENGTH) ?? "",
  };
}

/** FRIEND_REPLY: answer the pending request of `requester`. Its `id` names the requester, not the user. */
export interface FriendReplyRequest {
  requester: number;
  accept: boolean;
}

/**
 * FRIEND_REPLY. `accept` is required: a reply that says neither yes nor no is refused, not taken as a no.
 *
 * @example
 * ```ts
 * friendReplyRequest({ msgid: 22, id: 3, accept: true }); // { requester: 3, accept: true }
 * ```
 */
export function friendReplyRequest(frame: Frame): FriendReplyRequest {
  return { requester: requireId(frame, "id"), accept: requireBoolean(frame, "accept") };
}

/** REMOVE_FRIEND. */
export interface RemoveFriendRequest extends Identified {
  friendid: number;
}

export function removeFriendRequest(frame: Frame): RemoveFriendRequest {
  return { id: optionalId(frame, "id"), friendid: requireId(frame, "friendid") };
}

/** BLOCK: `on` blocks `userid`, `!on` lifts the block. */
export interface BlockRequest extends Identified {
  userid: number;
  on: boolean;
}

export function blockRequest(frame: Frame): BlockRequest {
  return { id: optionalId(frame, "id"), userid: requireId(frame, "userid"), on: requireBoolean(frame, "on") };
}

/** A request about one group: LEAVE_GROUP. */
export interface GroupRequest extends Identified {
  groupid: number;
}

export function leaveGroupRequest(frame: Frame): GroupRequest {
  return { id: optionalId(frame, "id"), groupid: requireId(frame, "groupid") };
}

/** A request about one member of one group: KICK. */
export interface MemberRequest extends GroupRequest {
  userid: number;
}

export function kickRequest(frame: Frame): MemberRequest {
  return {
    id: optionalId(frame, "id"),
    groupid: requireId(frame, "groupid"),
    userid: requireId(frame, "userid"),
  };
}

/** SET_ROLE. */
export interface SetRoleRequest extends MemberRequest {
  role: AssignableRole;
}

/**
 * SET_ROLE: `role` is `"admin"` or `"normal"` (`"creator"` is not given, only handed over).
 *
 * @example
 * ```ts
 * setRoleRequest({ msgid: 27, groupid: 1, userid: 2, role: "admin" }).role; // "admin"
 * ```
 */
export function setRoleRequest(frame: Frame): SetRoleRequest {
  const role = frame.role;
  if (role === undefined || role === null) throw invalid('"role" is missing');
  if (role !== "admin" && role !== "normal") throw invalid('"role" must be "admin" or "normal"');
  return {
    id: optionalId(frame, "id"),
    groupid: requireId(frame, "groupid"),
    userid: requireId(frame, "userid"),
    role,
  };
}

/** UPDATE_GROUP: at least one of the two fields. */
export interface UpdateGroupRequest extends GroupRequest {
  groupname: string | undefined;
  groupdesc: string | undefined;
}

/**
 * UPDATE_GROUP, with CREATE_GROUP's limits: `groupname` 1–50 characters when given, `groupdesc` 0–200.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "./limits.ts";
 *
 * updateGroupRequest({ msgid: 28, groupid: 1, groupdesc: "" }, DEFAULT_LIMITS);
 * // { id: undefined, groupid: 1, groupname: undefined, groupdesc: "" }
 * ```
 */
export function updateGroupRequest(frame: Frame, limits: Limits): UpdateGroupRequest {
  const groupid = requireId(frame, "groupid");
  const given = (field: string) => frame[field] !== undefined && frame[field] !== null;
  const groupname = given("groupname") ? requireText(frame, "groupname", 1, limits.groupname) : undefined;
  const groupdesc = optionalText(frame, "groupdesc", limits.groupdesc);
  if (groupname === undefined && groupdesc === undefined) {
    throw invalid('"groupname" or "groupdesc" is needed');
  }
  return { id: optionalId(frame, "id"), groupid, groupname, groupdesc };
}

function invalid(message: string): RequestError {
  return new RequestError(Errno.INVALID_REQUEST, `invalid request: ${message}`);
}
