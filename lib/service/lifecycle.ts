/**
 * The end of a login (LOGINOUT, disconnect, shutdown) and presence announcements. Order matters for
 * "no message lost, none duplicated" across nodes: the node stops receiving the user's frames
 * (unsubscribe) before it gives up the claim, so a new login elsewhere never overlaps with this one.
 */
import { presenceFrame } from "../protocol/encode.ts";
import type { ServiceContext } from "./context.ts";
import type { Session } from "./session.ts";

/** Ends the session's login if it has one. Never throws: failures are logged. */
export async function endLogin(context: ServiceContext, session: Session, reason: string): Promise<void> {
  const user = session.user;
  if (!user) return;
  const held = session.unbind();
  context.sessions.remove(user.id, session);
  context.log.info("logout", { user: user.id, conn: session.connection.id, reason });
  if (held.length > 0) {
    await context.delivery.storeOffline(held).catch((error) =>
      context.log.error("offline store failed; messages lost", { user: user.id, count: held.length, error })
    );
  }
  try {
    await context.bus.unsubscribe(user.id);
    await context.bus.releaseUser(user.id);
  } catch (error) {
    // The claim expires with this node's lease if the bus is unreachable now.
    context.log.warn("bus release failed", { user: user.id, error });
  }
  await context.store.setUserState(user.id, false).catch((error) =>
    context.log.warn("state update failed", { user: user.id, error })
  );
  // Awaited: a node shutting down closes its bus right after, and friends elsewhere must still hear of it.
  await announcePresence(context, user.id, false);
}

/**
 * Tells the online users who have `userId` as a friend (v2 connections) that it came or went. Never
 * rejects: a presence frame is not worth failing a request for.
 */
export async function announcePresence(
  context: ServiceContext,
  userId: number,
  online: boolean,
): Promise<void> {
  const frame = presenceFrame(userId, online);
  try {
    const followers = await context.store.listFollowers(userId);
    await Promise.all(followers.map((id) => context.delivery.toUser(id, frame, false)));
  } catch (error) {
    context.log.warn("presence announcement failed", { user: userId, error });
  }
}
