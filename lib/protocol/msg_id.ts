/** Message ids (PROTOCOL.md "Message ids"); 1–10 are exactly the C++ server's `EnMsgType` values. */
export const MsgId = {
  LOGIN: 1,
  LOGIN_ACK: 2,
  LOGINOUT: 3,
  REG: 4,
  REG_ACK: 5,
  ONE_CHAT: 6,
  ADD_FRIEND: 7,
  CREATE_GROUP: 8,
  ADD_GROUP: 9,
  GROUP_CHAT: 10,
  ACK: 11,
  ERROR: 12,
  PING: 13,
  PONG: 14,
  PRESENCE: 15,
  // v2 extensions: kept conversations (PROTOCOL.md "Conversations and sequence numbers").
  SYNC: 16,
  HISTORY: 17,
  READ: 18,
  RECEIPT: 19,
  TYPING: 20,
  // v2 extensions: friends by request, blocking and group roles (PROTOCOL.md "Friends and blocking", "Groups").
  FRIEND_REQUEST: 21,
  FRIEND_REPLY: 22,
  REMOVE_FRIEND: 23,
  BLOCK: 24,
  LEAVE_GROUP: 25,
  KICK: 26,
  SET_ROLE: 27,
  UPDATE_GROUP: 28,
  GROUP_EVENT: 29,
} as const;

/** What {@linkcode msgName} answers for an id that is not in {@linkcode MsgId}. */
export const UNKNOWN_MSG_NAME = "UNKNOWN";

const NAMES = new Map<number, string>(Object.entries(MsgId).map(([name, id]) => [id, name]));

/**
 * The name of a message id as {@linkcode MsgId} spells it, or {@linkcode UNKNOWN_MSG_NAME}: a bounded set
 * of answers, so it is safe as a metrics label for whatever a client sends.
 *
 * @example
 * ```ts
 * msgName(MsgId.ONE_CHAT); // "ONE_CHAT"
 * msgName(99); // "UNKNOWN"
 * ```
 */
export function msgName(id: number): string {
  return NAMES.get(id) ?? UNKNOWN_MSG_NAME;
}
