/**
 * BLOCK (PROTOCOL.md "Friends and blocking"): one way, idempotent. Turning it on ends the friendship and
 * pending requests between the two (the store, in one transaction) and tells the blocked user's devices
 * that the blocker went offline: from then on neither sees the other's presence. Chat, requests and
 * typing are refused where they are handled (`chat_handlers.ts`, `friend_handlers.ts`,
 * `conversation_handlers.ts`).
 *
 * @module
 */
import { presenceFrame } from "../protocol/encode.ts";
import type { Envelope } from "../protocol/requests.ts";
import { blockRequest } from "../protocol/social_requests.ts";
import type { ServiceContext } from "./context.ts";
import { checkOtherUser } from "./friend_handlers.ts";
import { sessionUser } from "./identity.ts";
import type { Session } from "./session.ts";

/** BLOCK: ACK `{userid, on}`. */
export async function block(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<Record<string, unknown>> {
  const request = blockRequest(envelope.frame);
  const user = sessionUser(session, request);
  await checkOtherUser(context, user, request.userid, "userid");
  await context.store.setBlock(user.id, request.userid, request.on);
  if (request.on) void context.delivery.toUser(request.userid, presenceFrame(user.id, false));
  return { userid: request.userid, on: request.on };
}
