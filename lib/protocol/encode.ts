/**
 * Server-to-client frames. Every function returns the frame's JSON text without the trailing `\n`
 * (offline storage keeps exactly this text); {@linkcode line} adds the terminator for the wire.
 */
import { Errno, type ErrnoValue } from "./errno.ts";
import { MsgId } from "./msg_id.ts";
import type { MemberRole } from "./social_frames.ts";

/** Protocol level of a connection. */
export type ProtocolVersion = 1 | 2;

/** A correlation id echoed back to v2 clients. */
export type Cid = string | number | undefined;

/** How every frame built here begins: what {@linkcode frameMsgid} relies on. */
const MSGID_PREFIX = '{"msgid":';

/**
 * The msgid of a frame built by this module (or stored from one), read without parsing JSON: every
 * builder writes `msgid` first. 0 for text that does not start so.
 *
 * @example
 * ```ts
 * frameMsgid(pongFrame(undefined)); // 14
 * ```
 */
export function frameMsgid(frame: string): number {
  if (!frame.startsWith(MSGID_PREFIX)) return 0;
  let n = 0;
  for (let i = MSGID_PREFIX.length; i < frame.length; i++) {
    const digit = frame.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
  }
  return n;
}

/** The frame text followed by the wire terminator. */
export function line(frame: string): string {
  return frame + "\n";
}

/**
 * `YYYY-MM-DD HH:MM:SS` in this process's local time: the `time` field of chat frames, in the C++ client's
 * format. The client stamps what it sends with it; the server, a chat that came without one.
 *
 * @example
 * ```ts
 * localTime(new Date(2026, 0, 2, 3, 4, 5)); // "2026-01-02 03:04:05"
 * ```
 */
export function localTime(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** Why a request failed, as its reply says it: the errno, the message the client sees, and its `cid`. */
export interface Failure {
  errno: ErrnoValue;
  errmsg: string;
  cid?: Cid;
}

/** Options for {@linkcode errorFrame}: the failure and, when known, the msgid it answers (`ref`). */
export interface ErrorFrameOptions extends Failure {
  ref?: number;
}

/**
 * An ERROR frame. `ref` and `cid` are included when known.
 *
 * @example
 * ```ts
 * errorFrame({ errno: 14, errmsg: "unknown msgid: 99", ref: 99 });
 * // '{"msgid":12,"errno":14,"errmsg":"unknown msgid: 99","ref":99}'
 * ```
 */
export function errorFrame(options: ErrorFrameOptions): string {
  return JSON.stringify({
    msgid: MsgId.ERROR,
    errno: options.errno,
    errmsg: options.errmsg,
    ref: options.ref,
    cid: options.cid,
  });
}

/**
 * JSON text that is already encoded (stored chat frames): an ACK field holding it is spliced in as it is,
 * never parsed and re-serialised.
 *
 * @example
 * ```ts
 * ackFrame(16, { fields: { messages: new JsonText('[{"msgid":6}]') } });
 * // '{"msgid":11,"ref":16,"errno":0,"messages":[{"msgid":6}]}'
 * ```
 */
export class JsonText {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }

  /** A JSON array of the given encoded values. */
  static array(texts: readonly string[]): JsonText {
    return new JsonText(`[${texts.join(",")}]`);
  }
}

/**
 * A successful ACK: its `cid` and the handler's result fields (`undefined` values are left out; a
 * {@linkcode JsonText} value is spliced in as it is).
 */
export interface AckSuccess {
  cid?: Cid;
  fields?: Record<string, unknown>;
}

/**
 * A v2 ACK of request `ref`: errno 0 with result fields, or a {@linkcode Failure}.
 *
 * @example
 * ```ts
 * ackFrame(6, { cid: 1, fields: { mid: "a.n1.0", ts: 1 } });
 * // '{"msgid":11,"ref":6,"cid":1,"errno":0,"mid":"a.n1.0","ts":1}'
 * ackFrame(6, { cid: 1, errno: 6, errmsg: "no such user: 9" });
 * ```
 */
export function ackFrame(ref: number, outcome: AckSuccess | Failure): string {
  if ("errmsg" in outcome) {
    return JSON.stringify({
      msgid: MsgId.ACK,
      ref,
      cid: outcome.cid,
      errno: outcome.errno,
      errmsg: outcome.errmsg,
    });
  }
  // Written out rather than spread into a new object: one ACK per chat message makes this a hot path.
  let frame = `{"msgid":${MsgId.ACK},"ref":${ref}`;
  if (outcome.cid !== undefined) frame += `,"cid":${JSON.stringify(outcome.cid)}`;
  frame += `,"errno":${Errno.OK}`;
  const fields = outcome.fields;
  for (const key in fields) {
    const value = fields[key];
    if (value === undefined) continue;
    frame += `,${JSON.stringify(key)}:${value instanceof JsonText ? value.text : JSON.stringify(value)}`;
  }
  return frame + "}";
}

/**
 * A failed LOGIN_ACK or REG_ACK: `msgid` is the reply's own (both levels answer these two requests so).
 *
 * @example
 * ```ts
 * import { MsgId } from "./msg_id.ts";
 *
 * rejectionFrame(MsgId.LOGIN_ACK, { errno: 1, errmsg: "wrong id or password", cid: "c1" });
 * ```
 */
export function rejectionFrame(msgid: number, failure: Failure): string {
  return JSON.stringify({ msgid, errno: failure.errno, errmsg: failure.errmsg, cid: failure.cid });
}

/** REG_ACK on success. */
export function registeredFrame(id: number, cid: Cid): string {
  return JSON.stringify({ msgid: MsgId.REG_ACK, errno: Errno.OK, id, cid });
}

/** PONG. */
export function pongFrame(cid: Cid): string {
  return JSON.stringify({ msgid: MsgId.PONG, cid, ts: Date.now() });
}

/** PRESENCE of `id`. */
export function presenceFrame(id: number, online: boolean): string {
  return JSON.stringify({ msgid: MsgId.PRESENCE, id, state: online ? "online" : "offline" });
}

/** Where a stored chat message sits: its conversation and its number in it (PROTOCOL.md v2). */
export interface ConvSeq {
  conv: string;
  seq: number;
}

/** A forwarded ONE_CHAT frame. */
export interface OneChat extends ConvSeq {
  id: number;
  name: string;
  toid: number;
  msg: string;
  time: string;
  mid: string;
  ts: number;
}

/** A forwarded GROUP_CHAT frame. */
export interface GroupChat extends ConvSeq {
  id: number;
  name: string;
  groupid: number;
  msg: string;
  time: string;
  mid: string;
  ts: number;
}

/**
 * A forwarded ONE_CHAT frame. `conv` and `seq` come right after `msgid`, always in this order: that is
 * what {@linkcode frameConvSeq} reads without parsing.
 *
 * @example
 * ```ts
 * oneChatFrame({ conv: "u:1:2", seq: 3, id: 1, name: "a", toid: 2, msg: "hi", time: "t", mid: "m", ts: 1 });
 * // '{"msgid":6,"conv":"u:1:2","seq":3,"id":1,"name":"a","toid":2,"msg":"hi","time":"t","mid":"m","ts":1}'
 * ```
 */
export function oneChatFrame(chat: OneChat): string {
  return JSON.stringify({
    msgid: MsgId.ONE_CHAT,
    conv: chat.conv,
    seq: chat.seq,
    id: chat.id,
    name: chat.name,
    toid: chat.toid,
    msg: chat.msg,
    time: chat.time,
    mid: chat.mid,
    ts: chat.ts,
  });
}

/** A forwarded GROUP_CHAT frame, `conv` and `seq` first as in {@linkcode oneChatFrame}. */
export function groupChatFrame(chat: GroupChat): string {
  return JSON.stringify({
    msgid: MsgId.GROUP_CHAT,
    conv: chat.conv,
    seq: chat.seq,
    id: chat.id,
    name: chat.name,
    groupid: chat.groupid,
    msg: chat.msg,
    time: chat.time,
    mid: chat.mid,
    ts: chat.ts,
  });
}

const CONV_PREFIX = ',"conv":"';
const SEQ_PREFIX = '","seq":';

/**
 * The `conv` and `seq` of a chat frame built by {@linkcode oneChatFrame} or {@linkcode groupChatFrame}
 * (or stored from one), read without parsing JSON: the hot path of live delivery uses it to move a
 * device's cursor. `undefined` for any other frame (presence, receipts, offline frames of the first
 * release, which had neither).
 *
 * @example
 * ```ts
 * frameConvSeq('{"msgid":6,"conv":"u:1:2","seq":3,"id":1}'); // { conv: "u:1:2", seq: 3 }
 * frameConvSeq('{"msgid":15,"id":1}'); // undefined
 * ```
 */
export function frameConvSeq(frame: string): ConvSeq | undefined {
  const msgid = frameMsgid(frame);
  if (msgid !== MsgId.ONE_CHAT && msgid !== MsgId.GROUP_CHAT) return undefined;
  // `conv` follows the msgid's one or two digits directly.
  const comma = frame.indexOf(CONV_PREFIX, MSGID_PREFIX.length);
  if (comma < 0 || comma > MSGID_PREFIX.length + 2) return undefined;
  const nameStart = comma + CONV_PREFIX.length;
  const nameEnd = frame.indexOf(SEQ_PREFIX, nameStart);
  if (nameEnd < 0) return undefined;
  let seq = 0;
  let i = nameEnd + SEQ_PREFIX.length;
  for (; i < frame.length; i++) {
    const digit = frame.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  if (i === nameEnd + SEQ_PREFIX.length) return undefined;
  return { conv: frame.slice(nameStart, nameEnd), seq };
}

/** What LOGIN_ACK reports about a friend or a group member. */
export interface PresenceEntry {
  id: number;
  name: string;
  state: "online" | "offline";
}

/** A group in LOGIN_ACK. */
export interface LoginGroup {
  id: number;
  groupname: string;
  groupdesc: string;
  users: (PresenceEntry & { role: MemberRole })[];
}

/** A pending friend request in a v2 LOGIN_ACK (`requests`). */
export interface PendingRequest {
  id: number;
  name: string;
  note: string;
}

/** The contents of a successful LOGIN_ACK. `offline` holds stored frame texts, oldest first. */
export interface LoginAck {
  id: number;
  name: string;
  offline: string[];
  friends: PresenceEntry[];
  groups: LoginGroup[];
  cid?: Cid;
  /** v2: the device's resume token (PROTOCOL.md "Devices and resume tokens"); never sent to v1. */
  token?: string;
  /** v2: friend requests waiting for this user's answer, oldest first; never sent to v1. */
  requests?: PendingRequest[];
  /** v2: the ids of the users this user blocks, ascending; never sent to v1. */
  blocked?: number[];
}

/**
 * A successful LOGIN_ACK. v1 (the C++ client) wants every list element, and every group's users, as
 * a JSON string, and omits empty lists; v2 has the objects themselves and always has the lists.
 * Stored offline frames are spliced in as they are, never re-parsed.
 */
export function loginAckFrame(version: ProtocolVersion, ack: LoginAck): string {
  const head = JSON.stringify({
    msgid: MsgId.LOGIN_ACK,
    errno: Errno.OK,
    id: ack.id,
    name: ack.name,
    cid: ack.cid,
  });
  const parts: string[] = [];
  if (version === 2) {
    parts.push(`"offlinemsg":[${ack.offline.join(",")}]`);
    parts.push(`"friends":${JSON.stringify(ack.friends)}`);
    parts.push(`"groups":${JSON.stringify(ack.groups)}`);
    if (ack.token !== undefined) parts.push(`"token":${JSON.stringify(ack.token)}`);
    parts.push(`"requests":${JSON.stringify(ack.requests ?? [])}`);
    parts.push(`"blocked":${JSON.stringify(ack.blocked ?? [])}`);
  } else {
    if (ack.offline.length > 0) parts.push(`"offlinemsg":${JSON.stringify(ack.offline)}`);
    if (ack.friends.length > 0) {
      parts.push(`"friends":${JSON.stringify(ack.friends.map((friend) => JSON.stringify(friend)))}`);
    }
    if (ack.groups.length > 0) {
      const groups = ack.groups.map((group) =>
        JSON.stringify({ ...group, users: group.users.map((user) => JSON.stringify(user)) })
      );
      parts.push(`"groups":${JSON.stringify(groups)}`);
    }
  }
  if (parts.length === 0) return head;
  return `${head.slice(0, -1)},${parts.join(",")}}`;
}
