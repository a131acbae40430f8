/**
 * Conversation names (PROTOCOL.md "Conversations and sequence numbers"): `"u:A:B"` for the one-to-one
 * conversation of users A < B, `"g:G"` for group G. Shared by the protocol, the service and the stores, so
 * that every layer spells and checks them one way.
 *
 * @module
 */

/** A parsed conversation name. */
export type Conversation =
  | { kind: "direct"; low: number; high: number }
  | { kind: "group"; groupId: number };

/** Longest valid name: two ids of at most 10 digits each plus `u::`. */
export const MAX_CONV_LENGTH = 23;

const DIRECT = /^u:([1-9][0-9]{0,9}):([1-9][0-9]{0,9})$/;
const GROUP = /^g:([1-9][0-9]{0,9})$/;

/**
 * The one-to-one conversation of two users, in either order.
 *
 * @example
 * ```ts
 * directConv(7, 3); // "u:3:7"
 * ```
 */
export function directConv(a: number, b: number): string {
  return a < b ? `u:${a}:${b}` : `u:${b}:${a}`;
}

/**
 * The conversation of a group.
 *
 * @example
 * ```ts
 * groupConv(12); // "g:12"
 * ```
 */
export function groupConv(groupId: number): string {
  return `g:${groupId}`;
}

/**
 * Parses a conversation name; `null` when it is malformed (wrong shape, ids not positive safe integers,
 * a one-to-one name whose ids are not in increasing order).
 *
 * @example
 * ```ts
 * parseConv("u:3:7"); // { kind: "direct", low: 3, high: 7 }
 * parseConv("u:7:3"); // null
 * ```
 */
export function parseConv(name: unknown): Conversation | null {
  if (typeof name !== "string" || name.length > MAX_CONV_LENGTH) return null;
  const direct = DIRECT.exec(name);
  if (direct) {
    const low = Number(direct[1]);
    const high = Number(direct[2]);
    if (!(low < high) || high > 2 ** 31 - 1) return null;
    return { kind: "direct", low, high };
  }
  const group = GROUP.exec(name);
  if (group) {
    const groupId = Number(group[1]);
    return groupId > 2 ** 31 - 1 ? null : { kind: "group", groupId };
  }
  return null;
}

/**
 * The other participant of a one-to-one conversation, or `null` when `userId` is not one of its two users.
 *
 * @example
 * ```ts
 * peerOf({ kind: "direct", low: 3, high: 7 }, 3); // 7
 * ```
 */
export function peerOf(conv: Conversation, userId: number): number | null {
  if (conv.kind !== "direct") return null;
  if (conv.low === userId) return conv.high;
  if (conv.high === userId) return conv.low;
  return null;
}
