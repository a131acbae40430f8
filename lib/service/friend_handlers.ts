/**
 * FRIEND_REQUEST, FRIEND_REPLY and REMOVE_FRIEND (PROTOCOL.md "Friends and blocking"): friendship both
 * ways, by request. The store decides each in one transaction; the pushes (FRIEND_REQUEST to the target,
 * FRIEND_REPLY to the requester, PRESENCE both ways on accept) are live frames, best effort.
 *
 * @module
 */
import { presenceFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Envelope } from "../protocol/requests.ts";
import { friendReplyFrame, friendRequestFrame } from "../protocol/social_frames.ts";
import {
  friendReplyRequest,
  friendRequestRequest,
  removeFriendRequest,
} from "../protocol/social_requests.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import type { Session, SessionUser } from "./session.ts";

/**
 * FRIEND_REQUEST: ACK `{friendid, status}`. A new request is pushed to the target's devices; one that
 * crosses the target's own request accepts it.
 */
export async function friendRequest(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = friendRequestRequest(envelope.frame);
  const user = sessionUser(session, request);
  const target = request.friendid;
  await checkOtherUser(context, user, target, "friendid");
  const status = await context.store.requestFriend(user.id, target, request.note);
  switch (status) {
    case "blocked":
      throw blockedBy(target);
    case "blocking":
      throw blocking(target);
    case "sent":
      void context.delivery.toUser(
        target,
        friendRequestFrame({ id: user.id, name: user.name, note: request.note }),
      );
      break;
    case "accepted":
      // The target asked first: this request is the answer to theirs.
      await befriended(context, user, target);
      break;
  }
  return { friendid: target, status };
}

/**
 * FRIEND_REPLY: answers the pending request of `id` (errno 17 when there is none: of two answers at once,
 * the store lets exactly one find it). ACK `{id, accept}`; the requester's devices are told.
 */
export async function friendReply(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = friendReplyRequest(envelope.frame);
  // `id` names the requester here: the identity is the session's, with nothing to check it against.
  const user = sessionUser(session, { id: undefined });
  const { requester, accept } = request;
  if (!await context.store.answerFriendRequest(user.id, requester, accept)) {
    throw new RequestError(
      Errno.NO_REQUEST,
      `nothing to answer: no pending friend request from user ${requester}`,
    );
  }
  if (accept) await befriended(context, user, requester);
  else void context.delivery.toUser(requester, friendReplyFrame({ id: user.id, name: user.name, accept }));
  return { id: requester, accept };
}

/** REMOVE_FRIEND: the friendship ends both ways; not a friend is a no-op. Nobody is told. */
export async function removeFriend(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = removeFriendRequest(envelope.frame);
  const user = sessionUser(session, request);
  await checkOtherUser(context, user, request.friendid, "friendid");
  await context.store.removeFriend(user.id, request.friendid);
  return { friendid: request.friendid };
}

/**
 * Another user a request names: not the user themself (errno 4), and existing (errno 6). Shared by the
 * friend requests and BLOCK.
 */
export async function checkOtherUser(
  context: ServiceContext,
  user: SessionUser,
  other: number,
  field: string,
): Promise<void> {
  if (other === user.id) {
    throw new RequestError(Errno.INVALID_REQUEST, `invalid request: "${field}" must not be your own id`);
  }
  if (!await context.userExists(other)) throw new RequestError(Errno.NO_SUCH_USER, `no such user: ${other}`);
}

/** Errno 16: `other` blocks the user. */
export function blockedBy(other: number): RequestError {
  return new RequestError(Errno.BLOCKED, `blocked: user ${other} has blocked you`);
}

/** Errno 4: the user blocks `other`, and must lift it before asking anything of them. */
export function blocking(other: number): RequestError {
  return new RequestError(
    Errno.INVALID_REQUEST,
    `invalid request: you blocked user ${other}; unblock them first`,
  );
}

/**
 * `answerer` accepted `requester`'s request (by FRIEND_REPLY, or by a crossing FRIEND_REQUEST): the
 * requester's devices get FRIEND_REPLY and the answerer's PRESENCE `online`; the answerer's devices get
 * the requester's PRESENCE as it really is. Best effort: never rejects.
 */
async function befriended(context: ServiceContext, answerer: SessionUser, requester: number): Promise<void> {
  const reply = friendReplyFrame({ id: answerer.id, name: answerer.name, accept: true });
  void context.delivery.toUser(requester, reply);
  void context.delivery.toUser(requester, presenceFrame(answerer.id, true));
  try {
    const online = await context.bus.onlineUsers([requester]);
    void context.delivery.toUser(answerer.id, presenceFrame(requester, online.has(requester)));
  } catch (error) {
    // The bus down: the answerer sees the requester's state at its next login.
    context.log.warn("presence of a new friend unknown", { user: answerer.id, friend: requester, error });
  }
}
