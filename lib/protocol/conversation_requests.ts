/**
 * Decoders of the kept-conversation requests (PROTOCOL.md "Conversations and sequence numbers", msgids
 * 16–20): SYNC, HISTORY, READ and TYPING. Every failure is a {@linkcode RequestError} with errno 4 naming
 * the field; whether the user may read the conversation is the service's question.
 *
 * @module
 */
import { type Conversation, parseConv } from "../conversation_name.ts";
import { Errno } from "./errno.ts";
import { RequestError } from "./errors.ts";
import { type Frame, optionalId, optionalInteger, requireInteger } from "./fields.ts";
import type { Identified } from "./requests.ts";

/** SYNC's and HISTORY's page size when the request gives none. */
export const DEFAULT_PAGE = 100;

/** The highest sequence number a request may name. */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** A conversation named by a request: its name as sent and its parsed form. */
export interface NamedConversation extends Identified {
  name: string;
  conv: Conversation;
}

/** SYNC without `conv`: the list of the user's conversations. */
export interface SyncListRequest extends Identified {
  kind: "list";
}

/** SYNC with `conv`: the messages with seq > `after`, oldest first. */
export interface SyncAfterRequest extends NamedConversation {
  kind: "after";
  after: number;
  limit: number;
}

export type SyncRequest = SyncListRequest | SyncAfterRequest;

/** HISTORY: the newest messages with seq < `before` (`undefined`: after the last). */
export interface HistoryRequest extends NamedConversation {
  before: number | undefined;
  limit: number;
}

/** READ: the user's read seq of the conversation moves to `seq` (never backwards). */
export interface ReadRequest extends NamedConversation {
  seq: number;
}

function invalid(message: string): RequestError {
  return new RequestError(Errno.INVALID_REQUEST, `invalid request: ${message}`);
}

/** The required `conv`: a string naming a conversation (`lib/conversation_name.ts`). */
export function requireConv(frame: Frame): NamedConversation {
  const name = frame.conv;
  if (name === undefined || name === null) throw invalid('"conv" is missing');
  if (typeof name !== "string") throw invalid('"conv" must be a string');
  const conv = parseConv(name);
  if (!conv) throw invalid('"conv" must be "u:A:B" with A < B, or "g:G"');
  return { id: optionalId(frame, "id"), name, conv };
}

/** `limit`: 1 to `pageLimit`, {@linkcode DEFAULT_PAGE} (or `pageLimit` if lower) when absent. */
function pageSize(frame: Frame, pageLimit: number): number {
  return optionalInteger(frame, "limit", 1, pageLimit) ?? Math.min(DEFAULT_PAGE, pageLimit);
}

/**
 * SYNC. Without `conv` it lists conversations, and then `after` and `limit` are refused (they would be
 * silently ignored otherwise).
 *
 * @example
 * ```ts
 * syncRequest({ msgid: 16, conv: "u:1:2", after: 5 }, 1000);
 * // { kind: "after", name: "u:1:2", conv: {...}, after: 5, limit: 100 }
 * ```
 */
export function syncRequest(frame: Frame, pageLimit: number): SyncRequest {
  if (frame.conv === undefined || frame.conv === null) {
    for (const field of ["after", "limit"]) {
      if (frame[field] !== undefined && frame[field] !== null) throw invalid(`"${field}" needs "conv"`);
    }
    return { kind: "list", id: optionalId(frame, "id") };
  }
  const named = requireConv(frame);
  const after = optionalInteger(frame, "after", 0, MAX_SEQ) ?? 0;
  return { kind: "after", ...named, after, limit: pageSize(frame, pageLimit) };
}

/** HISTORY. */
export function historyRequest(frame: Frame, pageLimit: number): HistoryRequest {
  const named = requireConv(frame);
  const before = optionalInteger(frame, "before", 1, MAX_SEQ);
  return { ...named, before, limit: pageSize(frame, pageLimit) };
}

/** READ. Whether `seq` is past the conversation's last seq is checked against the store. */
export function readRequest(frame: Frame): ReadRequest {
  const named = requireConv(frame);
  return { ...named, seq: requireInteger(frame, "seq", 0, MAX_SEQ) };
}

/** TYPING. */
export function typingRequest(frame: Frame): NamedConversation {
  return requireConv(frame);
}
