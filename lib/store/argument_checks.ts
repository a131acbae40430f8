/**
 * The checks every store makes on a caller's ids and limits before it touches the database. A value that fails
 * is a caller's bug, not an unavailable store: it throws RangeError naming what the value was.
 *
 * @module
 */

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
