/** REG, LOGIN and LOGINOUT. */
import { loginAckFrame, type LoginGroup, type PresenceEntry, registeredFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Envelope } from "../protocol/requests.ts";
import { loginRequest, logoutRequest, registerRequest } from "../protocol/requests.ts";
import { NameTakenError } from "../store/errors.ts";
import type { GroupRecord, OfflineMessage, UserSummary } from "../store/store.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import { announcePresence, endLogin } from "./lifecycle.ts";
import { hashPassword, UNKNOWN_USER_HASH, verifyPassword } from "./password.ts";
import type { Session } from "./session.ts";

/** Failed logins one connection may make before it is refused with errno 10. */
export const MAX_FAILED_LOGINS = 5;

/** REG: creates the user (errno 1 when the name is taken) and answers REG_ACK with the new id. */
export async function register(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<string> {
  const request = registerRequest(envelope.frame, context.limits);
  const hash = await hashPassword(request.password);
  try {
    const id = await context.store.createUser(request.name, hash);
    context.log.info("register", { user: id, conn: session.connection.id });
    return registeredFrame(id, envelope.cid);
  } catch (error) {
    if (error instanceof NameTakenError) throw new RequestError(Errno.REJECTED, "this name is already taken");
    throw error;
  }
}

/**
 * LOGIN: checks the password (a failure is errno 1, logged at warn without the password), claims the user on
 * the bus (errno 2 when a live session holds it), then answers LOGIN_ACK and hands over offline messages.
 */
export async function login(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<string | undefined> {
  const request = loginRequest(envelope.frame, context.limits);
  if (session.user) throw new RequestError(Errno.ALREADY_LOGGED_IN, "this connection is already logged in");
  if (session.failedLogins >= MAX_FAILED_LOGINS) {
    // Logged once per connection: refusals cost no hash, so a client could otherwise flood the log with them.
    if (session.failedLogins === MAX_FAILED_LOGINS) {
      session.failedLogins++;
      context.log.warn("login refused: too many failed logins", {
        user: request.id,
        remote: session.connection.remote,
        conn: session.connection.id,
      });
    }
    throw new RequestError(Errno.RATE_LIMITED, "too many failed logins on this connection");
  }
  const record = await context.store.findUser(request.id);
  // An unknown id costs a hash too, so timing does not tell which ids exist.
  const matches = await verifyPassword(request.password, record?.passwordHash ?? UNKNOWN_USER_HASH);
  if (!record || !matches) {
    session.failedLogins++;
    // Who tried which id from where, for spotting guessing; the password stays out of every log.
    context.log.warn("login failed", {
      user: request.id,
      remote: session.connection.remote,
      conn: session.connection.id,
      failures: session.failedLogins,
    });
    throw new RequestError(Errno.REJECTED, "wrong id or password");
  }
  if (session.connection.isClosed) return undefined;
  if (!context.sessions.hasRoom(record.id) || !await context.bus.claimUser(record.id)) {
    throw new RequestError(Errno.ALREADY_LOGGED_IN, "this user is already logged in");
  }
  const user = { id: record.id, name: record.name };
  if (session.connection.isClosed) {
    await context.bus.releaseUser(user.id);
    return undefined;
  }
  // Registered before it is bound: should the registry refuse, no bound session is left to end the claim.
  context.sessions.add(user.id, session);
  session.bind(user);
  try {
    return await completeLogin(context, session, envelope);
  } catch (error) {
    await endLogin(context, session, "login failed");
    throw error;
  }
}

/**
 * From the claim to live delivery. Live frames for the user are held by the session meanwhile, so the
 * client sees LOGIN_ACK first, then older offline messages, then live ones, each exactly once.
 */
async function completeLogin(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<undefined> {
  const user = session.user!;
  const stillBound = () => session.user === user;
  await context.bus.subscribe(user.id);
  if (!stillBound()) {
    // Disconnected meanwhile: endLogin already ran, and may have run before the subscription existed.
    await context.bus.unsubscribe(user.id).catch(() => {});
    return undefined;
  }
  // Frames this node was still storing offline when the session was bound belong before the live ones.
  await context.delivery.offlineStored(user.id);
  const [friends, groups, firstRows] = await Promise.all([
    context.store.listFriends(user.id),
    context.store.listUserGroups(user.id),
    context.store.readOffline(user.id, context.offlineBatch),
  ]);
  const online = await context.bus.onlineUsers([
    ...friends.map((friend) => friend.id),
    ...groups.flatMap((group) => group.members.map((member) => member.id)),
  ]);
  if (!stillBound()) return undefined;
  let rows = firstRows;
  let batch = withinBudget(rows, context.offlineBatchBytes);
  session.reply(loginAckFrame(session.version, {
    id: user.id,
    name: user.name,
    offline: batch.map((message) => message.frame),
    friends: withState(friends, online),
    groups: loginGroups(groups, online),
    cid: envelope.cid,
  }));
  let handedOver = 0;
  // Offline rows are deleted only once their frames reached the socket; the rest follow in batches
  // small enough for the connection's outbound limit.
  while (batch.length > 0) {
    if (!await session.connection.flushed() || !stillBound()) return undefined;
    await context.store.deleteOffline(user.id, batch.map((message) => message.id));
    handedOver += batch.length;
    context.delivery.counters.offlineDelivered += batch.length;
    if (batch.length === rows.length && rows.length < context.offlineBatch) break;
    rows = await context.store.readOffline(user.id, context.offlineBatch);
    batch = withinBudget(rows, context.offlineBatchBytes);
    for (const message of batch) session.reply(message.frame);
  }
  if (!stillBound()) return undefined;
  session.release();
  context.log.info("login", {
    user: user.id,
    conn: session.connection.id,
    v: session.version,
    offline: handedOver,
  });
  context.store.setUserState(user.id, true).catch((error) =>
    context.log.warn("state update failed", { user: user.id, error })
  );
  // Not awaited: the login is complete, and its reply must not wait for friends' notifications.
  void announcePresence(context, user.id, true);
  return undefined;
}

/** The oldest messages whose frames fit in `budget` characters (at least one, so a batch always moves). */
function withinBudget(rows: OfflineMessage[], budget: number): OfflineMessage[] {
  let used = 0;
  for (let i = 0; i < rows.length; i++) {
    used += rows[i].frame.length;
    if (used > budget && i > 0) return rows.slice(0, i);
  }
  return rows;
}

function withState(users: UserSummary[], online: Set<number>): PresenceEntry[] {
  return users.map((user) => ({
    id: user.id,
    name: user.name,
    state: online.has(user.id) ? "online" : "offline",
  }));
}

function loginGroups(groups: GroupRecord[], online: Set<number>): LoginGroup[] {
  return groups.map((group) => ({
    id: group.id,
    groupname: group.name,
    groupdesc: group.desc,
    users: group.members.map((member) => ({
      id: member.id,
      name: member.name,
      state: online.has(member.id) ? "online" : "offline",
      role: member.role,
    })),
  }));
}

/** LOGINOUT: ends the session's login; a frame `id` other than the session's user is errno 5. */
export async function logout(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<undefined> {
  sessionUser(session, logoutRequest(envelope.frame));
  await endLogin(context, session, "loginout");
  return undefined;
}
