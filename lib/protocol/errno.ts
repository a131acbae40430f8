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
} as const;

/** One of the values of {@linkcode Errno}. */
export type ErrnoValue = typeof Errno[keyof typeof Errno];
