/**
 * The msgid → handler table. Adding a message type means a decoder in `protocol/requests.ts`, a
 * handler here, and nothing in `net`.
 */
import { pongFrame } from "../protocol/encode.ts";
import { MsgId } from "../protocol/msg_id.ts";
import type { Envelope } from "../protocol/requests.ts";
import { login, logout, register } from "./account_handlers.ts";
import { groupChat, oneChat } from "./chat_handlers.ts";
import type { ServiceContext } from "./context.ts";
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
