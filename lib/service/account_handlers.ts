/** REG, LOGIN and LOGINOUT. */
import { loginAckFrame, registeredFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import type { Envelope, LoginRequest } from "../protocol/requests.ts";
import { loginRequest, logoutRequest, registerRequest } from "../protocol/requests.ts";
import { NameTakenError } from "../store/errors.ts";
import type { CursorUpdate, UserRecord } from "../store/store.ts";
import type { ServiceContext } from "./context.ts";
import { sessionUser } from "./identity.ts";
import { announcePresence, endLogin } from "./lifecycle.ts";
import { PresenceView } from "./presence_view.ts";
import { hashPassword, UNKNOWN_USER_HASH, verifyPassword } from "./password.ts";
import { OfflineHandover } from "./offline_handover.ts";
import { issueToken, tokenValid } from "./resume_token.ts";
import { DEFAULT_DEVICE, type Session } from "./session.ts";

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
 * LOGIN: checks the password or the device's resume token (a failure is errno 1, logged at warn without
 * either), claims the device on the bus (errno 2 when a live session holds it, or when the user has
 * `maxDevices` live devices), then answers LOGIN_ACK and hands over what the device missed.
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
  const device = request.device ?? DEFAULT_DEVICE;
  const record = await authenticate(context, request, device);
  if (!record) {
    session.failedLogins++;
    // Who tried which id from where, for spotting guessing; the password and token stay out of every log.
    context.log.warn("login failed", {
      user: request.id,
      device,
      by: request.token === undefined ? "password" : "token",
      remote: session.connection.remote,
      conn: session.connection.id,
      failures: session.failedLogins,
    });
    const errmsg = request.token === undefined ? "wrong id or password" : "unknown, expired or revoked token";
    throw new RequestError(Errno.REJECTED, errmsg);
  }
  if (session.connection.isClosed) return undefined;
  const user = { id: record.id, name: record.name };
  const claim = await viaBus(context, () => context.bus.claimDevice(user.id, device, context.maxDevices));
  if (!claim.claimed) throw new RequestError(Errno.ALREADY_LOGGED_IN, refusal(claim.reason, device, context));
  if (session.connection.isClosed || !context.sessions.hasRoom(user.id)) {
    await context.bus.releaseDevice(user.id, device);
    if (session.connection.isClosed) return undefined;
    throw new RequestError(Errno.ALREADY_LOGGED_IN, refusal("full", device, context));
  }
  // Registered before it is bound: should the registry refuse, no bound session is left to end the claim.
  context.sessions.add(user.id, session);
  session.bind(user, device);
  session.token = request.token;
  try {
    return await completeLogin(context, session, envelope, claim.firstDevice);
  } catch (error) {
    await endLogin(context, session, "login failed");
    throw error;
  }
}

/**
 * A login step that needs the bus (device claims, the user's subscription, presence): while the bus is
 * unreachable (Redis down) the login is errno 11, logged as a warning, not as a failed request.
 */
async function viaBus<T>(context: ServiceContext, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (error) {
    context.log.warn("login refused: the bus is unreachable", { error });
    throw new RequestError(Errno.BUSY, "server busy: the message bus is unavailable; try again");
  }
}

/** Why a claim was refused, as errno 2's message. */
function refusal(reason: "taken" | "full", device: string, context: ServiceContext): string {
  if (reason === "full") return `this user already has ${context.maxDevices} devices logged in`;
  // The original's words for the one-session rule, which v1 and plain v2 clients keep.
  return device === DEFAULT_DEVICE ? "this user is already logged in" : "this device is already logged in";
}

/** The user when the password, or the device's token, is right; `null` otherwise. */
async function authenticate(
  context: ServiceContext,
  request: LoginRequest,
  device: string,
): Promise<UserRecord | null> {
  if (request.token !== undefined) {
    // No scrypt: this is what makes reconnecting after a node restart cheap.
    const valid = await tokenValid(context.store, request.id, device, request.token);
    return valid ? await context.store.findUser(request.id) : null;
  }
  const record = await context.store.findUser(request.id);
  // An unknown id costs a hash too, so timing does not tell which ids exist.
  const matches = await verifyPassword(request.password, record?.passwordHash ?? UNKNOWN_USER_HASH);
  return record && matches ? record : null;
}

/**
 * From the claim to live delivery. Live frames for the user are held by the session meanwhile, so the
 * client sees LOGIN_ACK first, then what it missed, then live frames; a live frame that the hand-over
 * already sent (same conversation, seq not past it) is dropped, so each message comes once.
 */
async function completeLogin(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
  firstDevice: boolean,
): Promise<undefined> {
  const user = session.user!;
  const device = session.device;
  const stillBound = () => session.user === user;
  await context.store.registerDevice(user.id, device);
  // Subscribed before the cursors are read: a message stored after the read is published after this.
  session.subscribed = true;
  await viaBus(context, () => context.subscriptions.acquire(user.id));
  if (!stillBound()) return undefined;
  const v2 = session.version === 2;
  const [friends, groups, cursors, blocks, requests] = await Promise.all([
    context.store.listFriends(user.id),
    context.store.listUserGroups(user.id),
    context.store.deviceCursors(user.id, device),
    context.store.listBlocks(user.id),
    v2 ? context.store.listFriendRequests(user.id) : [],
  ]);
  const online = await viaBus(context, () =>
    context.bus.onlineUsers([
      ...friends.map((friend) => friend.id),
      ...groups.flatMap((group) => group.members.map((member) => member.id)),
    ]));
  // Across a block, either way, neither sees the other online.
  const view = new PresenceView(online, [...blocks.blocking, ...blocks.blockedBy]);
  const handover = new OfflineHandover(context.store, user.id, cursors, {
    rows: context.offlineBatch,
    chars: context.offlineBatchBytes,
  });
  let page = await handover.next();
  if (session.version === 2 && session.token === undefined) {
    session.token = await issueToken(
      context.store,
      user.id,
      device,
      context.tokenDays,
      context.maxTokensPerUser,
    );
  }
  if (!stillBound()) return undefined;
  session.reply(loginAckFrame(session.version, {
    id: user.id,
    name: user.name,
    offline: page.frames,
    friends: view.users(friends),
    groups: groups.map((group) => view.group(group)),
    cid: envelope.cid,
    token: v2 ? session.token : undefined,
    requests: v2 ? requests : undefined,
    blocked: v2 ? blocks.blocking : undefined,
  }));
  let handedOver = 0;
  // Rows are deleted and cursors move only once the frames reached the socket; the rest follow in pages
  // small enough for the connection's outbound limit.
  while (page.frames.length > 0) {
    if (!await session.connection.flushed() || !stillBound()) return undefined;
    await handover.handed(page);
    context.cursors.add(cursorUpdates(user.id, device, page.cursors));
    handedOver += page.frames.length;
    context.delivery.counters.offlineDelivered += page.frames.length;
    if (!page.more) break;
    page = await handover.next();
    if (!stillBound()) return undefined;
    for (const frame of page.frames) session.sendOffline(frame);
  }
  // Everything from others up to the conversation's last seq at the read was handed now; the user's own
  // messages are not for the device. Held live frames the hand-over sent already are dropped by release.
  for (const [conv, { cursor, lastSeq }] of cursors) session.cursors.start(conv, lastSeq, cursor);
  for (const [conv, seq] of handover.cursors) session.cursors.start(conv, seq);
  session.onHole = context.gaps.report;
  session.onMoved = context.cursors.watch;
  session.release();
  context.cursors.watch(session);
  context.log.info("login", {
    user: user.id,
    device,
    conn: session.connection.id,
    v: session.version,
    offline: handedOver,
  });
  if (firstDevice) {
    context.store.setUserState(user.id, true).catch((error) =>
      context.log.warn("state update failed", { user: user.id, error })
    );
    // Not awaited: the login is complete, and its reply must not wait for friends' notifications.
    void announcePresence(context, user.id, true);
  }
  return undefined;
}

function cursorUpdates(userId: number, device: string, cursors: Map<string, number>): CursorUpdate[] {
  return [...cursors].map(([conv, seq]) => ({ userId, device, conv, seq }));
}

/**
 * LOGINOUT: ends the session's login and revokes the device's resume token; a frame `id` other than the
 * session's user is errno 5.
 */
export async function logout(
  context: ServiceContext,
  session: Session,
  envelope: Envelope,
): Promise<undefined> {
  const user = sessionUser(session, logoutRequest(envelope.frame));
  const device = session.device;
  await endLogin(context, session, "loginout");
  // After the login ended: a failure (errno 11) leaves the token valid until it expires, never the session.
  await context.store.revokeDeviceToken(user.id, device);
  return undefined;
}
