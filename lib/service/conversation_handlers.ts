/**
 * SYNC, HISTORY, READ and TYPING (PROTOCOL.md "Conversations and sequence numbers"): reading kept
 * conversations, moving read marks, and the typing relay. v2 only (see `routes.ts`).
 *
 * @module
 */
import { peerOf } from "../conversation_name.ts";
import { pageFields, receiptFrame, typingFrame } from "../protocol/conversation_frames.ts";
import {
  historyRequest,
  readRequest,
  syncRequest,
  typingRequest,
} from "../protocol/conversation_requests.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Envelope } from "../protocol/requests.ts";
import type { StoredMessage } from "../store/store.ts";
import { readableConversation } from "./conversation_access.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import type { Session } from "./session.ts";

/** Typing is relayed in groups of at most this many members: in larger ones it is noise, and a flood. */
export const TYPING_GROUP_LIMIT = 100;

/**
 * SYNC: without `conv`, every conversation of the user with its unread count; with `conv`, the messages
 * after `after`, oldest first.
 */
export async function sync(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = syncRequest(envelope.frame, context.pageLimit);
  const user = sessionUser(session, request);
  if (request.kind === "list") return { convs: await context.store.listConversations(user.id) };
  const access = await readableConversation(context, user.id, request);
  // One more than asked tells whether there is more.
  const rows = await context.store.messagesAfter(access.name, request.after, request.limit + 1, access.upTo);
  const page = rows.slice(0, request.limit);
  const fit = oldestThatFit(page, context.offlineBatchBytes);
  return pageFields(page.slice(0, fit).map(frameOf), rows.length > fit);
}

/** HISTORY: the newest messages before `before`, oldest first, so a client pages backwards to the start. */
export async function history(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = historyRequest(envelope.frame, context.pageLimit);
  const user = sessionUser(session, request);
  const access = await readableConversation(context, user.id, request);
  const before = request.before ?? Number.MAX_SAFE_INTEGER;
  const rows = await context.store.messagesBefore(access.name, before, request.limit + 1, access.upTo);
  const page = rows.slice(Math.max(0, rows.length - request.limit));
  const fit = newestThatFit(page, context.offlineBatchBytes);
  return pageFields(page.slice(page.length - fit).map(frameOf), rows.length > fit);
}

/**
 * READ: the user's read seq becomes max(old, seq); a seq past what the user may read is errno 4. When it
 * moved to `seq`, RECEIPT goes to the peer's devices (one-to-one) and the user's other devices.
 */
export async function read(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = readRequest(envelope.frame);
  const user = sessionUser(session, request);
  const access = await readableConversation(context, user.id, request);
  const lastSeq = Math.min(await context.store.lastSeq(access.name), access.upTo ?? Infinity);
  if (request.seq > lastSeq) {
    throw new RequestError(
      Errno.INVALID_REQUEST,
      `invalid request: "seq" ${request.seq} is past the last seq ${lastSeq} of ${access.name}`,
    );
  }
  const readseq = await context.store.markRead(user.id, access.name, request.seq);
  // A READ behind the read seq changes nothing and tells nobody.
  if (readseq === request.seq && readseq > 0) {
    const receipt = receiptFrame({ conv: access.name, id: user.id, seq: readseq });
    await Promise.all([
      access.peer === undefined ? undefined : context.delivery.toUser(access.peer, receipt),
      context.delivery.toUser(user.id, receipt, session),
    ]);
  }
  return { conv: access.name, readseq };
}

/**
 * TYPING: relayed to the peer's devices or the group's other members, never stored and never answered.
 * One the server refuses (malformed, not the user's conversation, a peer who blocks the user, a large group,
 * the store down) is dropped: a lost typing notice costs nothing, an error reply to one would be noise.
 */
export async function typing(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<undefined> {
  try {
    await relayTyping(context, session, envelope);
  } catch (error) {
    context.log.debug("typing dropped", { conn: session.connection.id, error });
  }
  return undefined;
}

async function relayTyping(context: ServiceContext, session: Session, envelope: Envelope): Promise<void> {
  if (!session.user) return;
  const request = typingRequest(envelope.frame);
  const user = sessionUser(session, request);
  const frame = typingFrame({ conv: request.name, id: user.id });
  if (request.conv.kind === "direct") {
    const peer = peerOf(request.conv, user.id);
    // A peer who blocks the user is not told (PROTOCOL.md "Friends and blocking").
    if (peer !== null && !await context.store.isBlocked(peer, user.id)) {
      await context.delivery.toUser(peer, frame);
    }
    return;
  }
  const members = await context.store.listGroupMemberIds(request.conv.groupId);
  if (!members.includes(user.id) || members.length > TYPING_GROUP_LIMIT) return;
  await context.delivery.toUsers(members.filter((id) => id !== user.id), frame);
}

function frameOf(message: StoredMessage): string {
  return message.frame;
}

// A page is one ACK frame, queued whole on the connection, and a connection whose queue passes its
// outbound limit (`--max-outbound-bytes`, see lib/net/outbound.ts and Connection.send) is cut off as a slow
// reader. So a page also stops at `offlineBatchBytes` characters of frames, the budget the login's offline
// hand-over uses (the server sets it to a quarter of the outbound limit, at most 1 MiB); `more` then says
// there is more. A page holds at least one message (a frame is far below any budget: at most a 4096
// character `msg`), so paging always moves on.

/** How many of the oldest frames of `page` fit in `budget` characters (at least one). */
function oldestThatFit(page: readonly StoredMessage[], budget: number): number {
  let size = 0;
  for (let i = 0; i < page.length; i++) {
    size += page[i].frame.length + 1;
    if (size > budget && i > 0) return i;
  }
  return page.length;
}

/** How many of the newest frames of `page` fit in `budget` characters (at least one). */
function newestThatFit(page: readonly StoredMessage[], budget: number): number {
  let size = 0;
  for (let i = page.length - 1; i >= 0; i--) {
    size += page[i].frame.length + 1;
    if (size > budget && i < page.length - 1) return page.length - 1 - i;
  }
  return page.length;
}
