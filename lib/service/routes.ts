/**
 * The msgid → handler table. Adding a message type means a decoder in `protocol/requests.ts`, a
 * handler here, and nothing in `net`.
 */
import { pongFrame, type ProtocolVersion } from "../protocol/encode.ts";
import { MsgId } from "../protocol/msg_id.ts";
import type { Envelope } from "../protocol/requests.ts";
import { login, logout, register } from "./account_handlers.ts";
import { block } from "./block_handlers.ts";
import { groupChat, oneChat } from "./chat_handlers.ts";
import type { ServiceContext } from "./context.ts";
import { history, read, sync, typing } from "./conversation_handlers.ts";
import { friendReply, friendRequest, removeFriend } from "./friend_handlers.ts";
import { kick, leaveGroup, setRole, updateGroup } from "./group_handlers.ts";
import type { Session } from "./session.ts";
import { addFriend, addGroup, createGroup } from "./social_handlers.ts";

/**
 * How a request is answered:
 * - `own`: with its own reply msgid (LOGIN_ACK, REG_ACK, PONG); the handler returns the frame, and a
 *   failure is that msgid with `errno` (what the C++ client expects).
 * - `ack`: v2 gets an ACK carrying the handler's fields or the errno; v1 gets nothing on success and an
 *   ERROR frame on failure.
 */
export type Route =
  | {
    reply: "own";
    replyMsgid: number;
    needsLogin: boolean;
    handle(
      context: ServiceContext,
      session: Session,
      envelope: Envelope,
    ): Promise<string | undefined> | string | undefined;
  }
  | {
    reply: "ack";
    needsLogin: boolean;
    handle(
      context: ServiceContext,
      session: Session,
      envelope: Envelope,
    ): Promise<Record<string, unknown> | undefined>;
  };

export const ROUTES: ReadonlyMap<number, Route> = new Map<number, Route>([
  [MsgId.LOGIN, { reply: "own", replyMsgid: MsgId.LOGIN_ACK, needsLogin: false, handle: login }],
  [MsgId.REG, { reply: "own", replyMsgid: MsgId.REG_ACK, needsLogin: false, handle: register }],
  [MsgId.LOGINOUT, { reply: "ack", needsLogin: true, handle: logout }],
  [MsgId.ONE_CHAT, { reply: "ack", needsLogin: true, handle: oneChat }],
  [MsgId.ADD_FRIEND, { reply: "ack", needsLogin: true, handle: addFriend }],
  [MsgId.CREATE_GROUP, { reply: "ack", needsLogin: true, handle: createGroup }],
  [MsgId.ADD_GROUP, { reply: "ack", needsLogin: true, handle: addGroup }],
  [MsgId.GROUP_CHAT, { reply: "ack", needsLogin: true, handle: groupChat }],
  [MsgId.PING, {
    reply: "own",
    replyMsgid: MsgId.PONG,
    needsLogin: false,
    // PONG is a v2 frame: a v1 connection gets no answer.
    handle: (_context, session, envelope) => session.version === 2 ? pongFrame(envelope.cid) : undefined,
  }],
]);

/**
 * Kept conversations, friends by request, blocking and group roles (PROTOCOL.md v2 extensions): a v1
 * connection never sees them.
 */
const V2_ROUTES: ReadonlyMap<number, Route> = new Map<number, Route>([
  [MsgId.SYNC, { reply: "ack", needsLogin: true, handle: sync }],
  [MsgId.HISTORY, { reply: "ack", needsLogin: true, handle: history }],
  [MsgId.READ, { reply: "ack", needsLogin: true, handle: read }],
  // Never answered, not even "not logged in": the handler drops what it refuses and returns no frame.
  [MsgId.TYPING, { reply: "own", replyMsgid: MsgId.TYPING, needsLogin: false, handle: typing }],
  [MsgId.FRIEND_REQUEST, { reply: "ack", needsLogin: true, handle: friendRequest }],
  [MsgId.FRIEND_REPLY, { reply: "ack", needsLogin: true, handle: friendReply }],
  [MsgId.REMOVE_FRIEND, { reply: "ack", needsLogin: true, handle: removeFriend }],
  [MsgId.BLOCK, { reply: "ack", needsLogin: true, handle: block }],
  [MsgId.LEAVE_GROUP, { reply: "ack", needsLogin: true, handle: leaveGroup }],
  [MsgId.KICK, { reply: "ack", needsLogin: true, handle: kick }],
  [MsgId.SET_ROLE, { reply: "ack", needsLogin: true, handle: setRole }],
  [MsgId.UPDATE_GROUP, { reply: "ack", needsLogin: true, handle: updateGroup }],
]);

/**
 * The route of `msgid` for a connection at protocol level `version`; `undefined` when there is none,
 * which a v1 connection sending a v2 msgid gets too (so it is answered as any unknown msgid was).
 *
 * @example
 * ```ts
 * import { MsgId } from "../protocol/msg_id.ts";
 *
 * routeFor(MsgId.SYNC, 1); // undefined
 * routeFor(MsgId.SYNC, 2)?.reply; // "ack"
 * ```
 */
export function routeFor(msgid: number, version: ProtocolVersion): Route | undefined {
  return ROUTES.get(msgid) ?? (version === 2 ? V2_ROUTES.get(msgid) : undefined);
}
