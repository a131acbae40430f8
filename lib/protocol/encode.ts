/**
 * Server-to-client frames. Every function returns the frame's JSON text without the trailing `\n`
 * (offline storage keeps exactly this text); {@linkcode line} adds the terminator for the wire.
 */
import { Errno, type ErrnoValue } from "./errno.ts";
import { MsgId } from "./msg_id.ts";

/** Protocol level of a connection. */
export type ProtocolVersion = 1 | 2;

/** A correlation id echoed back to v2 clients. */
export type Cid = string | number | undefined;

/** The frame text followed by the wire terminator. */
export function line(frame: string): string {
  return frame + "\n";
}

/** `YYYY-MM-DD HH:MM:SS` in the server's local time: the C++ client's format. */
export function localTime(date = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** An ERROR frame. `ref` and `cid` are included when known. */
export function errorFrame(errno: ErrnoValue, errmsg: string, ref?: number, cid?: Cid): string {
  return JSON.stringify({ msgid: MsgId.ERROR, errno, errmsg, ref, cid });
}

/** A v2 ACK of request `ref`, with result fields on success or `errmsg` on failure. */
export function ackFrame(
  ref: number,
  cid: Cid,
  errno: ErrnoValue,
  errmsgOrFields?: string | Record<string, unknown>,
): string {
  if (typeof errmsgOrFields === "string") {
    return JSON.stringify({ msgid: MsgId.ACK, ref, cid, errno, errmsg: errmsgOrFields });
  }
  // Written out rather than spread into a new object: one ACK per chat message makes this a hot path.
  let frame = `{"msgid":${MsgId.ACK},"ref":${ref}`;
  if (cid !== undefined) frame += `,"cid":${JSON.stringify(cid)}`;
  frame += `,"errno":${errno}`;
  for (const key in errmsgOrFields) {
    const value = errmsgOrFields[key];
    if (value !== undefined) frame += `,${JSON.stringify(key)}:${JSON.stringify(value)}`;
  }
  return frame + "}";
}

/** A failed LOGIN_ACK or REG_ACK (both levels use the reply's own msgid for these two requests). */
export function rejectionFrame(msgid: number, errno: ErrnoValue, errmsg: string, cid: Cid): string {
  return JSON.stringify({ msgid, errno, errmsg, cid });
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

/** A forwarded ONE_CHAT frame. */
export interface OneChat {
  id: number;
  name: string;
  toid: number;
  msg: string;
  time: string;
  mid: string;
  ts: number;
}

/** A forwarded GROUP_CHAT frame. */
export interface GroupChat {
  id: number;
  name: string;
  groupid: number;
  msg: string;
  time: string;
  mid: string;
  ts: number;
}

export function oneChatFrame(chat: OneChat): string {
  return JSON.stringify({
    msgid: MsgId.ONE_CHAT,
    id: chat.id,
    name: chat.name,
    toid: chat.toid,
    msg: chat.msg,
    time: chat.time,
    mid: chat.mid,
    ts: chat.ts,
  });
}

export function groupChatFrame(chat: GroupChat): string {
  return JSON.stringify({
    msgid: MsgId.GROUP_CHAT,
    id: chat.id,
    name: chat.name,
    groupid: chat.groupid,
    msg: chat.msg,
    time: chat.time,
    mid: chat.mid,
    ts: chat.ts,
  });
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
  users: (PresenceEntry & { role: "creator" | "normal" })[];
}

/** The contents of a successful LOGIN_ACK. `offline` holds stored frame texts, oldest first. */
export interface LoginAck {
  id: number;
  name: string;
  offline: string[];
  friends: PresenceEntry[];
  groups: LoginGroup[];
  cid?: Cid;
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
