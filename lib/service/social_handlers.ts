/**
 * ADD_FRIEND, CREATE_GROUP and ADD_GROUP: the first release's requests, with what issue 13 added (blocks
 * refuse ADD_FRIEND; joining sends GROUP_EVENT `joined`; ADD_GROUP's v2 ACK carries the group).
 *
 * @module
 */
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import {
  addFriendRequest,
  addGroupRequest,
  createGroupRequest,
  type Envelope,
} from "../protocol/requests.ts";
import { NameTakenError } from "../store/errors.ts";
import type { ServiceContext } from "./context.ts";
import { blockedBy, blocking, checkOtherUser } from "./friend_handlers.ts";
import { tellGroup } from "./group_events.ts";
import { sessionUser } from "./identity.ts";
import { PresenceView } from "./presence_view.ts";
import type { Session } from "./session.ts";

/**
 * ADD_FRIEND (v1's meaning: one direction, at once), refused across a block: errno 16 when the friend
 * blocks the user, 4 when the user blocks the friend.
 */
export async function addFriend(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = addFriendRequest(envelope.frame);
  const user = sessionUser(session, request);
  const friendid = request.friendid;
  await checkOtherUser(context, user, friendid, "friendid");
  const blocks = await context.store.listBlocks(user.id);
  if (blocks.blockedBy.includes(friendid)) throw blockedBy(friendid);
  if (blocks.blocking.includes(friendid)) throw blocking(friendid);
  await context.store.addFriend(user.id, friendid);
  return { friendid };
}

/** CREATE_GROUP: ACK `{groupid}`; the creator's devices get `joined` with the group's name and description. */
export async function createGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = createGroupRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  let groupid: number;
  try {
    groupid = await context.store.createGroup(user.id, request.groupname, request.groupdesc);
  } catch (error) {
    if (error instanceof NameTakenError) {
      throw new RequestError(Errno.REJECTED, "this group name is already taken");
    }
    throw error;
  }
  await tellGroup(context, {
    groupid,
    event: "joined",
    userid: user.id,
    by: user.id,
    role: "creator",
    name: user.name,
    groupname: request.groupname,
    groupdesc: request.groupdesc,
  });
  return { groupid };
}

/**
 * ADD_GROUP: joining twice is a no-op; a real join sends `joined` to every member, the joiner included.
 * The v2 ACK carries the group as LOGIN_ACK lists it, so the client can show it at once.
 */
export async function addGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = addGroupRequest(envelope.frame);
  const user = sessionUser(session, request);
  const { groupid } = request;
  if (!await context.store.groupExists(groupid)) {
    throw new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${groupid}`);
  }
  const role = await context.store.addGroupMember(groupid, user.id);
  if (role !== null) {
    await tellGroup(context, {
      groupid,
      event: "joined",
      userid: user.id,
      by: user.id,
      role,
      name: user.name,
    });
  }
  // v1 gets no fields on success: nothing more to read for it.
  if (session.version !== 2) return { groupid };
  const group = await context.store.findGroup(groupid);
  if (!group) return { groupid };
  const ids = group.members.map((member) => member.id);
  const view = await PresenceView.of(context, user.id, ids).catch((error) => {
    // The bus down: the group is still worth showing, with everyone offline until the next login.
    context.log.warn("presence of group members unknown", { group: groupid, error });
    return new PresenceView(new Set());
  });
  const { id: _id, ...entry } = view.group(group);
  return { groupid, ...entry };
}
