/** ADD_FRIEND, CREATE_GROUP and ADD_GROUP. */
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
import { sessionUser } from "./identity.ts";
import type { Session } from "./session.ts";

export async function addFriend(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = addFriendRequest(envelope.frame);
  const user = sessionUser(session, request);
  if (request.friendid === user.id) {
    throw new RequestError(Errno.INVALID_REQUEST, 'invalid request: "friendid" must not be your own id');
  }
  if (!await context.userExists(request.friendid)) {
    throw new RequestError(Errno.NO_SUCH_USER, `no such user: ${request.friendid}`);
  }
  await context.store.addFriend(user.id, request.friendid);
  return { friendid: request.friendid };
}

export async function createGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = createGroupRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  try {
    const groupid = await context.store.createGroup(user.id, request.groupname, request.groupdesc);
    return { groupid };
  } catch (error) {
    if (error instanceof NameTakenError) {
      throw new RequestError(Errno.REJECTED, "this group name is already taken");
    }
    throw error;
  }
}

export async function addGroup(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = addGroupRequest(envelope.frame);
  const user = sessionUser(session, request);
  if (!await context.store.groupExists(request.groupid)) {
    throw new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${request.groupid}`);
  }
  await context.store.addGroupMember(request.groupid, user.id);
  return { groupid: request.groupid };
}
