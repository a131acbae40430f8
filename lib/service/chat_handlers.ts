/** ONE_CHAT and GROUP_CHAT. */
import { groupChatFrame, localTime, oneChatFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import { type Envelope, groupChatRequest, oneChatRequest } from "../protocol/requests.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import type { Session } from "./session.ts";

/** The ACK fields of an accepted chat message. */
export interface ChatReceipt extends Record<string, unknown> {
  mid: string;
  ts: number;
}

export async function oneChat(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<ChatReceipt> {
  const request = oneChatRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  if (!context.sessions.has(request.toid) && !await context.userExists(request.toid)) {
    throw new RequestError(Errno.NO_SUCH_USER, `no such user: ${request.toid}`);
  }
  const receipt = { mid: context.nextMessageId(), ts: Date.now() };
  const frame = oneChatFrame({
    id: user.id,
    name: user.name,
    toid: request.toid,
    msg: request.msg,
    time: request.time ?? localTime(),
    ...receipt,
  });
  await context.delivery.toUser(request.toid, frame, true);
  return receipt;
}

export async function groupChat(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<ChatReceipt> {
  const request = groupChatRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  const members = await context.store.listGroupMemberIds(request.groupid);
  // A group always has its creator as a member, so no members means no group.
  if (members.length === 0) throw new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${request.groupid}`);
  if (!members.includes(user.id)) {
    throw new RequestError(Errno.NOT_A_MEMBER, `not a member of group ${request.groupid}`);
  }
  const receipt = { mid: context.nextMessageId(), ts: Date.now() };
  const frame = groupChatFrame({
    id: user.id,
    name: user.name,
    groupid: request.groupid,
    msg: request.msg,
    time: request.time ?? localTime(),
    ...receipt,
  });
  await context.delivery.toUsers(members.filter((id) => id !== user.id), frame);
  return receipt;
}
