/**
 * The end of a login (LOGINOUT, disconnect, shutdown) and presence announcements. The device's cursors are
 * saved first (what it was handed is not handed again), then the node stops receiving the user's frames
 * when this was the user's last session here, then it gives up the device's claim; the user goes offline
 * when that was their last device anywhere.
 */
import { presenceFrame } from "../protocol/encode.ts";
import type { ServiceContext } from "./context.ts";
import type { Session, UndeliveredFrame } from "./session.ts";

/**
 * Ends the session's login if it has one. `unsent`: the chat frames its closed connection never wrote
 * (they stay past the saved cursor). Never throws: failures are logged.
 */
export async function endLogin(
  context: ServiceContext,
  session: Session,
  reason: string,
  unsent: UndeliveredFrame[] = [],
): Promise<void> {
  const user = session.user;
  if (!user) return;
  const device = session.device;
  // A device that is still connected gets what it was missing first, so its cursor can move past it.
  if (!session.connection.isClosed && session.cursors.holes().length > 0) await context.gaps.fillAll(session);
  if (session.user !== user) return;
  // Saved while the session is still bound (the saver reads its user and device).
  const saved = context.cursors.finish(session, unsent);
  context.gaps.forget(session);
  session.unbind();
  context.sessions.remove(user.id, session);
  context.log.info("logout", { user: user.id, device, conn: session.connection.id, reason });
  await saved;
  if (session.subscribed) {
    session.subscribed = false;
    await context.subscriptions.release(user.id);
  }
  // Never rejects: a claim the bus cannot release now expires with this node's lease.
  const { lastDevice } = await context.bus.releaseDevice(user.id, device);
  if (!lastDevice) return;
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
    await context.delivery.toUsers(followers, frame);
  } catch (error) {
    context.log.warn("presence announcement failed", { user: userId, error });
  }
}
