/**
 * ONE_CHAT and GROUP_CHAT (PROTOCOL.md "Conversations and sequence numbers"): a message is stored in its
 * conversation (getting its seq) before it is acknowledged, then delivered live, best effort, to every
 * device of the recipients and to the sender's other devices. A repeated `cmid` is acknowledged again
 * with the first message's values and delivered to nobody. A ONE_CHAT to a user who blocks the sender is
 * errno 16 (the store decides, in the transaction that would store it): nothing stored, nothing delivered.
 * The store unreachable: errno 11, nothing stored, nothing delivered.
 *
 * @module
 */
import { directConv, groupConv } from "../conversation_name.ts";
import { groupChatFrame, localTime, oneChatFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import { MsgId } from "../protocol/msg_id.ts";
import { chatCmid, type Envelope, groupChatRequest, oneChatRequest } from "../protocol/requests.ts";
import type { AppendedMessage } from "../store/store.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import type { Session, SessionUser } from "./session.ts";

/** The ACK fields of an accepted chat message (v2); `dup` only on a repeated `cmid`. */
export interface ChatReceipt extends Record<string, unknown> {
  conv?: string;
  seq?: number;
  mid: string;
  ts: number;
  dup?: true;
}

export async function oneChat(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<ChatReceipt> {
  const request = oneChatRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  const cmid = session.version === 2 ? chatCmid(envelope.frame) : undefined;
  const time = request.time ?? localTime();
  if (request.toid === user.id) {
    // v2 has conversations of two users only; v1 keeps the original's relay to the user's own session.
    if (session.version === 2) {
      throw new RequestError(Errno.INVALID_REQUEST, 'invalid request: "toid" must not be your own id');
    }
    return relayToSelf(context, user, { msg: request.msg, time });
  }
  if (!context.sessions.has(request.toid) && !await context.userExists(request.toid)) {
    throw new RequestError(Errno.NO_SUCH_USER, `no such user: ${request.toid}`);
  }
  const conv = directConv(user.id, request.toid);
  return await storeAndDeliver(context, session, {
    conv,
    senderId: user.id,
    cmid,
    recipients: [request.toid],
  }, (stamp) =>
    oneChatFrame({
      conv,
      ...stamp,
      id: user.id,
      name: user.name,
      toid: request.toid,
      msg: request.msg,
      time,
    }));
}

export async function groupChat(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<ChatReceipt> {
  const request = groupChatRequest(envelope.frame, context.limits);
  const user = sessionUser(session, request);
  const cmid = session.version === 2 ? chatCmid(envelope.frame) : undefined;
  const members = await context.store.listGroupMemberIds(request.groupid);
  if (!members.includes(user.id)) {
    if (members.length === 0 && !await context.store.groupExists(request.groupid)) {
      throw new RequestError(Errno.NO_SUCH_GROUP, `no such group: ${request.groupid}`);
    }
    throw new RequestError(Errno.NOT_A_MEMBER, `not a member of group ${request.groupid}`);
  }
  const conv = groupConv(request.groupid);
  const time = request.time ?? localTime();
  const recipients = members.filter((id) => id !== user.id);
  return await storeAndDeliver(
    context,
    session,
    { conv, senderId: user.id, cmid, recipients },
    (stamp) =>
      groupChatFrame({
        conv,
        ...stamp,
        id: user.id,
        name: user.name,
        groupid: request.groupid,
        msg: request.msg,
        time,
      }),
  );
}

/** What the server stamps on a stored chat message: its seq, message id and receive time. */
interface Stamp {
  seq: number;
  mid: string;
  ts: number;
}

/**
 * Stores a chat message of the session's user in `conv` (its ACK waits for the commit), then, unless it
 * repeats a `cmid`, hands it to every device of `recipients` and to the sender's other devices.
 */
async function storeAndDeliver(
  context: ServiceContext,
  session: Session,
  message: { conv: string; senderId: number; cmid: string | undefined; recipients: number[] },
  frame: (stamp: Stamp) => string,
): Promise<ChatReceipt> {
  const { senderId } = message;
  const mid = context.nextMessageId();
  const ts = Date.now();
  const stored = await context.messages.append({
    conv: message.conv,
    senderId,
    cmid: message.cmid,
    mid,
    ts,
    frame: (seq) => frame({ seq, mid, ts }),
  });
  if ("blocked" in stored) {
    // Only one-to-one conversations are refused: the recipient is the one who blocks.
    throw new RequestError(Errno.BLOCKED, `blocked: user ${message.recipients[0]} has blocked you`);
  }
  if (!stored.dup) {
    // Not awaited: the message is stored, so the ACK need not wait for Redis to take the publishes (best
    // effort, never rejecting); the local sessions got the frame already, and the bus keeps the order.
    void context.delivery.toUsers(message.recipients, stored.frame);
    void context.delivery.toUser(senderId, stored.frame, session);
  }
  return receiptOf(stored);
}

function receiptOf(stored: AppendedMessage): ChatReceipt {
  const receipt: ChatReceipt = { conv: stored.conv, seq: stored.seq, mid: stored.mid, ts: stored.ts };
  if (stored.dup) receipt.dup = true;
  return receipt;
}

/**
 * A v1 ONE_CHAT to the sender: written to the user's own sessions as the first release did, without a
 * conversation (there is none of one user), so not stored.
 */
async function relayToSelf(
  context: ServiceContext,
  user: SessionUser,
  chat: { msg: string; time: string },
): Promise<ChatReceipt> {
  const receipt = { mid: context.nextMessageId(), ts: Date.now() };
  const frame = JSON.stringify({
    msgid: MsgId.ONE_CHAT,
    id: user.id,
    name: user.name,
    toid: user.id,
    msg: chat.msg,
    time: chat.time,
    ...receipt,
  });
  await context.delivery.toUser(user.id, frame);
  return receipt;
}
