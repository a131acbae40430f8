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
} as const;

/** One of the values of {@linkcode MsgId}. */
export type MsgIdValue = typeof MsgId[keyof typeof MsgId];
