/** Errno values (PROTOCOL.md "Errno values"). */
export const Errno = {
  OK: 0,
  /** LOGIN: wrong id or password · REG / CREATE_GROUP: the name is taken. */
  REJECTED: 1,
  ALREADY_LOGGED_IN: 2,
  INVALID_REQUEST: 4,
  NOT_LOGGED_IN: 5,
  NO_SUCH_USER: 6,
  NO_SUCH_GROUP: 7,
  NOT_A_MEMBER: 8,
  RATE_LIMITED: 10,
  BUSY: 11,
  FRAME_TOO_LARGE: 12,
  MALFORMED_JSON: 13,
  UNKNOWN_MSGID: 14,
  /** Friends and groups (PROTOCOL.md "New errno values"): the user's role in the group does not allow it. */
  NOT_PERMITTED: 15,
  /** The other user blocks this one. */
  BLOCKED: 16,
  /** FRIEND_REPLY without a pending request from that user. */
  NO_REQUEST: 17,
} as const;

/** One of the values of {@linkcode Errno}. */
export type ErrnoValue = typeof Errno[keyof typeof Errno];

/** What each errno means, in a few words (PROTOCOL.md "Errno values"), for people reading a client or a log. */
export const ERRNO_MEANINGS: Readonly<Record<ErrnoValue, string>> = {
  0: "success",
  1: "rejected",
  2: "already logged in",
  4: "invalid request",
  5: "not logged in",
  6: "no such user",
  7: "no such group",
  8: "not a member",
  10: "rate limited",
  11: "server busy",
  12: "frame too large",
  13: "malformed JSON",
  14: "unknown msgid",
  15: "not permitted",
  16: "blocked",
  17: "no pending request",
};

/**
 * The meaning of `errno` from {@linkcode ERRNO_MEANINGS}; `"unknown errno"` for a value this side does not
 * know (a newer server may send one).
 *
 * @example
 * ```ts
 * errnoMeaning(Errno.NO_SUCH_USER); // "no such user"
 * errnoMeaning(99); // "unknown errno"
 * ```
 */
export function errnoMeaning(errno: number): string {
  return Object.hasOwn(ERRNO_MEANINGS, errno) ? ERRNO_MEANINGS[errno as ErrnoValue] : "unknown errno";
}
