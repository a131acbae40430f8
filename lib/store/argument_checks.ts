/**
 * The checks every store makes on a caller's ids and limits before it touches the database. A value that fails
 * is a caller's bug, not an unavailable store: it throws RangeError naming what the value was.
 *
 * @module
 */

import { parseConv } from "../conversation_name.ts";

/**
 * `value` when it is a safe integer; otherwise a RangeError naming `what` it was. A fractional or unsafe id
 * would otherwise reach the database and silently match nothing.
 *
 * @example
 * ```ts
 * const userId = safeId(42, "user id"); // 42
 * ```
 */
export function safeId(value: number, what: string): number {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`${what} must be a safe integer, got ${String(value)}`);
  }
  return value;
}

/**
 * `ids` checked with {@linkcode safeId}, each once, in first-seen order.
 *
 * @example
 * ```ts
 * const ids = uniqueIds([3, 1, 3], "user id"); // [3, 1]
 * ```
 */
export function uniqueIds(ids: readonly number[], what: string): number[] {
  return [...new Set(ids.map((id) => safeId(id, what)))];
}

/**
 * `limit` when it is a non-negative integer; otherwise a RangeError. A negative LIMIT means "no limit" to
 * SQLite, and a caller's bound must never silently disappear.
 *
 * @example
 * ```ts
 * const limit = rowLimit(100); // 100
 * ```
 */
export function rowLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative integer, got ${String(limit)}`);
  }
  return limit;
}

/**
 * `seq` when it is a non-negative safe integer (a seq, or a bound on seqs); otherwise a RangeError naming
 * `what` it was.
 *
 * @example
 * ```ts
 * const after = seqNumber(0, "after"); // 0
 * ```
 */
export function seqNumber(seq: number, what: string): number {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new RangeError(`${what} must be a non-negative integer, got ${String(seq)}`);
  }
  return seq;
}

/**
 * `conv` when it is a well-formed conversation name (`lib/conversation_name.ts`); otherwise a RangeError. A
 * misspelt name would otherwise read as an empty conversation, or store messages nobody can reach.
 *
 * @example
 * ```ts
 * const conv = convName("u:3:7"); // "u:3:7"
 * ```
 */
export function convName(conv: string): string {
  if (parseConv(conv) === null) throw new RangeError(`not a conversation name: ${JSON.stringify(conv)}`);
  return conv;
}

/**
 * `device` when it is a non-empty string (the service checks the protocol's finer rules); otherwise a
 * RangeError.
 *
 * @example
 * ```ts
 * const device = deviceName("phone"); // "phone"
 * ```
 */
export function deviceName(device: string): string {
  if (typeof device !== "string" || device.length === 0) {
    throw new RangeError(`device must be a non-empty string, got ${JSON.stringify(device)}`);
  }
  return device;
}

/**
 * `text` when it is a string; otherwise a TypeError naming `what` it was (a frame, a mid, a token hash).
 *
 * @example
 * ```ts
 * const mid = text("m1", "mid"); // "m1"
 * ```
 */
export function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw new TypeError(`${what} must be a string, got ${typeof value}`);
  return value;
}
