/**
 * What the client knows about the logged-in user, read defensively from server frames: a field that
 * is missing or of the wrong type becomes a neutral value instead of a crash.
 */
import { MsgId } from "../protocol/msg_id.ts";
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

/** A chat message, one-to-one (`toid`) or to a group (`groupid`). */
export interface ChatMessage {
  id: number;
  name: string;
  toid?: number;
  groupid?: number;
  msg: string;
  time: string;
}

/** The successful LOGIN_ACK. */
export interface LoginSummary {
  id: number;
  name: string;
  friends: Friend[];
  groups: Group[];
  offline: ChatMessage[];
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
  return message;
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
    groups: objects(frame.groups).map((g) => ({
      id: int(g.id),
      groupname: str(g.groupname),
      groupdesc: str(g.groupdesc),
      users: objects(g.users).map((u) => ({
        id: int(u.id),
        name: str(u.name),
        state: presence(u.state),
        role: str(u.role),
      })),
    })),
    offline: objects(frame.offlinemsg).flatMap((m) => readChat(m) ?? []),
  };
}

/** A PRESENCE frame's user and state; `undefined` when it is not a usable PRESENCE. */
export function readPresence(frame: Fields): { id: number; state: Presence } | undefined {
  const id = int(frame.id);
  const state = presence(frame.state);
  return id > 0 && state !== "unknown" ? { id, state } : undefined;
}
