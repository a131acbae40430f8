/**
 * What the client knows about the logged-in user, read defensively from server frames: a field that
 * is missing or of the wrong type becomes a neutral value instead of a crash.
 */
import { MsgId } from "../protocol/msg_id.ts";
import type { GroupEvent as ServerGroupEvent, GroupEventKind } from "../protocol/social_frames.ts";
import type { Frame } from "./connection.ts";

/** Online state as the server reports it; `unknown` until it does. */
export type Presence = "online" | "offline" | "unknown";

/** A friend in the local copy. `name` is empty until the server tells it. */
export interface Friend {
  id: number;
  name: string;
  state: Presence;
}

/** A group member. */
export interface Member {
  id: number;
  name: string;
  state: Presence;
  role: string;
}

/** A group in the local copy; `groupname` is empty for a group joined in this session. */
export interface Group {
  id: number;
  groupname: string;
  groupdesc: string;
  users: Member[];
}

/** A friend request waiting for this user's answer (LOGIN_ACK `requests`, or a FRIEND_REQUEST push). */
export interface FriendRequest {
  id: number;
  name: string;
  note: string;
}

/** A FRIEND_REPLY push: user `id` answered this user's friend request. */
export interface FriendReply {
  id: number;
  name: string;
  accept: boolean;
}

/**
 * A GROUP_EVENT as the client reads it: the server's frame (`lib/protocol/social_frames.ts`), with any role a
 * newer server may send.
 */
export type GroupEvent = Omit<ServerGroupEvent, "role"> & { role?: string };

/** A chat message, one-to-one (`toid`) or to a group (`groupid`). */
export interface ChatMessage {
  id: number;
  name: string;
  toid?: number;
  groupid?: number;
  msg: string;
  time: string;
  /** The conversation and the message's number in it (v2 servers that keep conversations). */
  conv?: string;
  seq?: number;
}

/** The successful LOGIN_ACK. */
export interface LoginSummary {
  id: number;
  name: string;
  friends: Friend[];
  groups: Group[];
  offline: ChatMessage[];
  /** Friend requests waiting for an answer, oldest first (v2; empty from a server without them). */
  requests: FriendRequest[];
  /** The users this user blocks, by id (v2; empty from a server without blocking). */
  blocked: number[];
  /** The resume token of this user and device (v2 servers that issue them). */
  token?: string;
}

/** One conversation in a SYNC list (PROTOCOL.md, msgid 16 without `conv`). */
export interface ConvSummary {
  conv: string;
  lastseq: number;
  readseq: number;
  /** One-to-one conversations: the other side's read seq. */
  peerread?: number;
  unread: number;
}

/** A page of SYNC `{conv, after}` or HISTORY: chat messages in ascending `seq`, and whether more follow. */
export interface MessagePage {
  messages: ChatMessage[];
  more: boolean;
}

/** A RECEIPT: user `id` has read `conv` up to `seq`. */
export interface Receipt {
  conv: string;
  id: number;
  seq: number;
}

type Fields = Record<string, unknown>;

function int(value: unknown): number {
  return Number.isSafeInteger(value) ? value as number : 0;
}

function str(value: unknown): string {
  return typeof value === "string" ? value : "";
}

function presence(value: unknown): Presence {
  return value === "online" || value === "offline" ? value : "unknown";
}

/** v2 lists hold objects; a v1-style list holds JSON strings. Both are accepted. */
function objects(value: unknown): Fields[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) => {
    if (typeof item === "string") {
      try {
        item = JSON.parse(item);
      } catch {
        return [];
      }
    }
    return typeof item === "object" && item !== null ? [item as Fields] : [];
  });
}

/** A chat message from a ONE_CHAT or GROUP_CHAT frame; `undefined` for any other frame. */
export function readChat(frame: Fields): ChatMessage | undefined {
  if (frame.msgid !== MsgId.ONE_CHAT && frame.msgid !== MsgId.GROUP_CHAT) return undefined;
  const message: ChatMessage = {
    id: int(frame.id),
    name: str(frame.name),
    msg: str(frame.msg),
    time: str(frame.time),
  };
  if (frame.msgid === MsgId.GROUP_CHAT) message.groupid = int(frame.groupid);
  else message.toid = int(frame.toid);
  const where = readPlace(frame);
  if (where) Object.assign(message, where);
  return message;
}

/** `conv` and `seq` when both are usable: a conversation name and a positive integer. */
export function readPlace(frame: Fields): { conv: string; seq: number } | undefined {
  const seq = int(frame.seq);
  return typeof frame.conv === "string" && frame.conv !== "" && seq > 0
    ? { conv: frame.conv, seq }
    : undefined;
}

/** The user, friends, groups and offline messages of a successful LOGIN_ACK. */
export function readLoginAck(frame: Frame): LoginSummary {
  return {
    id: int(frame.id),
    name: str(frame.name),
    friends: objects(frame.friends).map((f) => ({
      id: int(f.id),
      name: str(f.name),
      state: presence(f.state),
    })),
    groups: objects(frame.groups).map((g) => readGroup(g, g.id)),
    offline: objects(frame.offlinemsg).flatMap((m) => readChat(m) ?? []),
    requests: objects(frame.requests).flatMap((r) => readFriendRequest(r) ?? []),
    blocked: Array.isArray(frame.blocked) ? frame.blocked.map(int).filter((id) => id > 0) : [],
    ...(typeof frame.token === "string" && frame.token !== "" ? { token: frame.token } : {}),
  };
}

/** The conversations of a SYNC list reply; entries without a usable `conv` are left out. */
export function readConvList(frame: Frame): ConvSummary[] {
  return objects(frame.convs).flatMap((c) => {
    if (typeof c.conv !== "string" || c.conv === "") return [];
    const summary: ConvSummary = {
      conv: c.conv,
      lastseq: int(c.lastseq),
      readseq: int(c.readseq),
      unread: int(c.unread),
    };
    if (c.peerread !== undefined) summary.peerread = int(c.peerread);
    return [summary];
  });
}

/** The messages of a SYNC `{conv}` or HISTORY reply. */
export function readMessagePage(frame: Frame): MessagePage {
  return {
    messages: objects(frame.messages).flatMap((m) => readChat(m) ?? []),
    more: frame.more === true,
  };
}

/** A RECEIPT frame; `undefined` when it is not a usable one. */
export function readReceipt(frame: Fields): Receipt | undefined {
  const place = readPlace(frame);
  const id = int(frame.id);
  return place && id > 0 ? { conv: place.conv, id, seq: place.seq } : undefined;
}

/** A TYPING frame's conversation and user; `undefined` when it is not a usable one. */
export function readTyping(frame: Fields): { conv: string; id: number } | undefined {
  const id = int(frame.id);
  return typeof frame.conv === "string" && frame.conv !== "" && id > 0 ? { conv: frame.conv, id } : undefined;
}

/** A PRESENCE frame's user and state; `undefined` when it is not a usable PRESENCE. */
export function readPresence(frame: Fields): { id: number; state: Presence } | undefined {
  const id = int(frame.id);
  const state = presence(frame.state);
  return id > 0 && state !== "unknown" ? { id, state } : undefined;
}

/**
 * A group's `groupname`, `groupdesc` and `users` as LOGIN_ACK lists them (the id in `id`) and the v2
 * ADD_GROUP ACK carries them (the id in `groupid`).
 */
export function readGroup(fields: Fields, id: unknown): Group {
  return {
    id: int(id),
    groupname: str(fields.groupname),
    groupdesc: str(fields.groupdesc),
    users: objects(fields.users).map((u) => ({
      id: int(u.id),
      name: str(u.name),
      state: presence(u.state),
      role: str(u.role),
    })),
  };
}

/** A friend request (a LOGIN_ACK entry or a FRIEND_REQUEST push); `undefined` without a usable id. */
export function readFriendRequest(fields: Fields): FriendRequest | undefined {
  const id = int(fields.id);
  return id > 0 ? { id, name: str(fields.name), note: str(fields.note) } : undefined;
}

/** A FRIEND_REPLY push; `undefined` when it is not a usable one. */
export function readFriendReply(frame: Fields): FriendReply | undefined {
  const id = int(frame.id);
  return id > 0 && typeof frame.accept === "boolean"
    ? { id, name: str(frame.name), accept: frame.accept }
    : undefined;
}

const GROUP_EVENTS: ReadonlySet<string> = new Set<GroupEventKind>([
  "joined",
  "left",
  "kicked",
  "role",
  "updated",
]);

/** A GROUP_EVENT; `undefined` for an unknown event or one without a usable group, user and actor. */
export function readGroupEvent(frame: Fields): GroupEvent | undefined {
  const groupid = int(frame.groupid);
  const userid = int(frame.userid);
  const by = int(frame.by);
  if (groupid <= 0 || userid <= 0 || by <= 0 || typeof frame.event !== "string") return undefined;
  if (!GROUP_EVENTS.has(frame.event)) return undefined;
  const event: GroupEvent = { groupid, event: frame.event as GroupEventKind, userid, by };
  for (const key of ["role", "groupname", "groupdesc", "name"] as const) {
    if (typeof frame[key] === "string") event[key] = frame[key];
  }
  return event;
}
