/**
 * Client-to-server frames: parsing the envelope (JSON object with an integer `msgid`) and decoding
 * each request's fields. Every failure is a {@linkcode RequestError} with the errno PROTOCOL.md gives.
 */
import { Errno } from "./errno.ts";
import { RequestError } from "./errors.ts";
import { type Frame, optionalCid, optionalId, optionalText, requireId, requireText } from "./fields.ts";
import type { Cid } from "./encode.ts";
import type { Limits } from "./limits.ts";

/** A frame whose envelope is valid. */
export interface Envelope {
  msgid: number;
  frame: Frame;
  /** True when the frame carries `"v": 2` (the connection becomes v2). */
  v2: boolean;
  cid: Cid;
}

/**
 * Parses one frame's text. Throws errno 13 for malformed JSON and errno 4 for a value that is not an
 * object or lacks an integer `msgid`. `partial` receives what could be read (msgid, cid) before a
 * later check failed, so the error can carry `ref` and `cid`.
 */
export function parseEnvelope(
  text: string | null,
  limits: Limits,
  partial: Partial<Envelope> = {},
): Envelope {
  if (text === null) throw new RequestError(Errno.MALFORMED_JSON, "malformed JSON: frame is not valid UTF-8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RequestError(Errno.MALFORMED_JSON, "malformed JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new RequestError(Errno.INVALID_REQUEST, "invalid request: a frame must be a JSON object");
  }
  const frame = value as Frame;
  const msgid = frame.msgid;
  if (typeof msgid !== "number" || !Number.isSafeInteger(msgid)) {
    throw new RequestError(Errno.INVALID_REQUEST, 'invalid request: "msgid" must be an integer');
  }
  partial.msgid = msgid;
  const cid = optionalCid(frame, limits.tag);
  partial.cid = cid;
  return { msgid, frame, v2: frame.v === 2, cid };
}

/** LOGIN with a password, or (v2) with the resume token of the device. */
export type LoginRequest =
  & { id: number; device: string | undefined }
  & ({ password: string; token?: undefined } | { token: string; password?: undefined });

/** The longest `device` name and resume `token` a LOGIN may carry. */
export const MAX_DEVICE_LENGTH = 64;
const MAX_TOKEN_LENGTH = 64;
/** 1–64 printable ASCII characters (space to tilde). */
const PRINTABLE_ASCII = /^[\x20-\x7e]{1,64}$/;

export function loginRequest(frame: Frame, limits: Limits): LoginRequest {
  const id = requireId(frame, "id");
  const device = optionalPrintable(frame, "device", MAX_DEVICE_LENGTH);
  // A frame without `token` is checked as before, so a v1 client's errors read exactly as they did.
  if (frame.token === undefined || frame.token === null) {
    return { id, device, password: requireText(frame, "password", 1, limits.password) };
  }
  return { id, device, token: requireText(frame, "token", 1, MAX_TOKEN_LENGTH) };
}

/** An optional string of 1–`max` printable ASCII characters (`undefined` when absent or null). */
function optionalPrintable(frame: Frame, field: string, max: number): string | undefined {
  const value = frame[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string" || value.length > max || !PRINTABLE_ASCII.test(value)) {
    throw new RequestError(
      Errno.INVALID_REQUEST,
      `invalid request: "${field}" must be 1 to ${max} printable ASCII characters`,
    );
  }
  return value;
}

export interface RegisterRequest {
  name: string;
  password: string;
}

export function registerRequest(frame: Frame, limits: Limits): RegisterRequest {
  return {
    name: requireText(frame, "name", 1, limits.name),
    password: requireText(frame, "password", 1, limits.password),
  };
}

/** Every request after login may carry `id`, which must then be the session's user. */
export interface Identified {
  id: number | undefined;
}

export function logoutRequest(frame: Frame): Identified {
  return { id: optionalId(frame, "id") };
}

export interface OneChatRequest extends Identified {
  toid: number;
  msg: string;
  time: string | undefined;
}

export function oneChatRequest(frame: Frame, limits: Limits): OneChatRequest {
  return {
    id: optionalId(frame, "id"),
    toid: requireId(frame, "toid"),
    msg: requireText(frame, "msg", 1, limits.msg),
    time: optionalText(frame, "time", limits.tag),
  };
}

export interface AddFriendRequest extends Identified {
  friendid: number;
}

export function addFriendRequest(frame: Frame): AddFriendRequest {
  return { id: optionalId(frame, "id"), friendid: requireId(frame, "friendid") };
}

export interface CreateGroupRequest extends Identified {
  groupname: string;
  groupdesc: string;
}

export function createGroupRequest(frame: Frame, limits: Limits): CreateGroupRequest {
  return {
    id: optionalId(frame, "id"),
    groupname: requireText(frame, "groupname", 1, limits.groupname),
    groupdesc: optionalText(frame, "groupdesc", limits.groupdesc) ?? "",
  };
}

export interface AddGroupRequest extends Identified {
  groupid: number;
}

export function addGroupRequest(frame: Frame): AddGroupRequest {
  return { id: optionalId(frame, "id"), groupid: requireId(frame, "groupid") };
}

export interface GroupChatRequest extends Identified {
  groupid: number;
  msg: string;
  time: string | undefined;
}

export function groupChatRequest(frame: Frame, limits: Limits): GroupChatRequest {
  return {
    id: optionalId(frame, "id"),
    groupid: requireId(frame, "groupid"),
    msg: requireText(frame, "msg", 1, limits.msg),
    time: optionalText(frame, "time", limits.tag),
  };
}

/** The longest client message id (`cmid`) of ONE_CHAT / GROUP_CHAT. */
export const MAX_CMID_LENGTH = 64;

/**
 * The optional `cmid` of a v2 ONE_CHAT / GROUP_CHAT (PROTOCOL.md "Idempotent send"): 1–64 printable ASCII
 * characters. Read for v2 connections only: a v1 frame's extra fields were always ignored.
 */
export function chatCmid(frame: Frame): string | undefined {
  return optionalPrintable(frame, "cmid", MAX_CMID_LENGTH);
}
