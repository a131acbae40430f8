/**
 * The service layer's face to the network: turns frames into handler calls and replies, and ends a
 * login when its connection goes away.
 */
import type { Bus } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import { LogThrottle } from "../log_throttle.ts";
import type { ConnectionHandler } from "../net/connection.ts";
import { ackFrame, errorFrame, type Failure, frameMsgid, line, rejectionFrame } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { RequestError } from "../protocol/errors.ts";
import { DEFAULT_LIMITS, type Limits } from "../protocol/limits.ts";
import { MsgId, msgName } from "../protocol/msg_id.ts";
import { type Envelope, parseEnvelope } from "../protocol/requests.ts";
import { StoreUnavailableError } from "../store/errors.ts";
import type { Store } from "../store/store.ts";
import { type Counter, Registry } from "../ops/metrics.ts";
import { takeToken, TokenBucket } from "./token_bucket.ts";
import { ConcurrencyLimit } from "./concurrency_limit.ts";
import { TimeShare } from "./time_share.ts";
import { NetworkTurns, openLoopback } from "./network_turns.ts";
import type { ServiceContext } from "./context.ts";
import { CursorSaver } from "./cursor_saver.ts";
import { Delivery } from "./delivery.ts";
import { GapFiller } from "./gap_filler.ts";
import { endLogin } from "./lifecycle.ts";
import { MessageWriter } from "./message_writer.ts";
import { routeFor } from "./routes.ts";
import { Session, type UndeliveredFrame } from "./session.ts";
import type { SessionConnection } from "./session_connection.ts";
import { SessionRegistry } from "./session_registry.ts";
import { UserSubscriptions } from "./user_subscriptions.ts";

/** Options for {@linkcode ChatService}. */
export interface ChatServiceOptions {
  store: Store;
  bus: Bus;
  log: Logger;
  limits?: Limits;
  offlineBatch?: number;
  /** Characters of offline frames per batch at login; keep it below the connection's outbound limit. */
  offlineBatchBytes?: number;
  /** Requests per second per connection, bursts of twice that; faster senders are slowed (default 20,000). */
  rateLimit?: number;
  /** Open connections accepted; more are refused with errno 11 (default 20,000). */
  maxConnections?: number;
  /** Seconds a v2 connection may stay silent (default 90). */
  idleTimeout?: number;
  /** Live devices per user across all nodes (default 5). */
  maxDevices?: number;
  /** Days a resume token is valid (default 30). */
  tokenDays?: number;
  /** Resume tokens kept per user (default 20). */
  maxTokensPerUser?: number;
  /** The largest SYNC/HISTORY page (default 1000). */
  pageLimit?: number;
  /** Where the service's counters are registered (a private registry when absent). */
  registry?: Registry;
  /** New connections are refused with errno 11 while this bound is reached (`--max-memory`). */
  memoryBound?: MemoryBoundReading;
  /**
   * Token logins handled at once (`--login-concurrency`, default 8); 0: no limit. The rest wait, and start one
   * per turn of the event loop, after the network I/O that is ready, so that a reconnect storm cannot starve chat
   * delivery.
   */
  tokenLoginConcurrency?: number;
  /**
   * The share of real time token logins may be in flight while more wait (`--login-share`, percent / 100,
   * default 1: no bound): once it is spent the next waits for it to refill, so that chat keeps the rest.
   * Only with a `tokenLoginConcurrency`.
   */
  tokenLoginShare?: number;
}

/** What the service reads of the memory bound (a `MemoryBound` of lib/ops). */
export interface MemoryBoundReading {
  readonly reached: boolean;
  readonly rss: number;
  readonly maxBytes: number;
}

/** Why a new connection was refused: the label of `chat_connections_refused_total`. */
type Refusal = "max_connections" | "max_memory";

/** The service's counters. */
interface ServiceCounters {
  requests: Counter;
  framesOut: Counter;
  errors: Counter;
  rateLimited: Counter;
  refused: Counter;
}

/**
 * Requests per second per connection. Above what a person or a well-behaved bot sends, and above one
 * connection's closed-loop rate on a small machine (about 9,000/s here), so the limit only slows floods.
 */
const DEFAULT_RATE_LIMIT = 20_000;

/**
 * Token logins handled at once. A token login is a hash and a few store reads and writes (on the embedded store
 * all of it on the event loop): 8 at a time keep a turn of the loop short for the chat waiting behind them. In
 * the `restart` bench (10,000 devices at once, README) they came back faster with it than without (about 1,830
 * against 1,590 per second) and chat kept more of its rate during the storm.
 */
const DEFAULT_TOKEN_LOGIN_CONCURRENCY = 8;
/**
 * The share of real time waiting token logins may take: no bound unless the operator sets one. Measured with
 * the `tokens` storm of issue 12 (README, "A share of time for token logins"): at 20% about 1,000-1,200
 * logins/s with the chat p99 during the storm 1.4-1.9x the idle one (without a bound: 4,000-5,000/s at
 * 2.7-4.3x), and half the reconnects per second after a restart. Not the default: it is a throttle (the node
 * idles while logins wait), a slower machine would fall below 1,000 logins/s, and on MySQL a login's waits
 * for the database are charged to the share too, which was not measured.
 */
const DEFAULT_TOKEN_LOGIN_SHARE = 1;

/** Known user ids kept in memory; past this the cache starts over (a bound, not a tuning knob). */
const USER_CACHE_LIMIT = 1_000_000;

/**
 * @example
 * ```ts
 * import { LocalBus } from "../bus/local_bus.ts";
 * import { Logger } from "../log.ts";
 * import { TcpServer } from "../net/tcp_server.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const service = new ChatService({ store, bus: new LocalBus("n1"), log: new Logger() });
 * await using server = TcpServer.listen({ hostname: "127.0.0.1", port: 0 }, service);
 * ```
 */
export class ChatService implements ConnectionHandler<UndeliveredFrame> {
  readonly context: ServiceContext;
  readonly #closing = new Set<Promise<void>>();
  readonly #knownUsers = new Set<number>();
  readonly #open = new Set<Session>();
  readonly #counters: ServiceCounters;
  readonly #rateLimit: number;
  readonly #maxConnections: number;
  readonly #idleTimeoutMs: number;
  readonly #memoryBound: MemoryBoundReading | undefined;
  /** Admission of token logins; undefined: no limit. */
  readonly #tokenLogins: ConcurrencyLimit | undefined;
  /**
   * The turns of the event loop that waiting token logins start in, one per turn: on the embedded store a login
   * runs to its end without real I/O, so logins started together would run back to back while chat waits.
   */
  readonly #loginTurns: NetworkTurns;
  /** One log line per interval per reason, however many connections are refused. */
  readonly #refusalLogs: Record<Refusal, LogThrottle>;
  /** Every session's `onSend`: one function for all (a closure per session would stay with each connection). */
  readonly #countFrameOut = (frame: string): void => this.#counters.framesOut.inc(msgName(frameMsgid(frame)));

  constructor(options: ChatServiceOptions) {
    this.#rateLimit = options.rateLimit ?? DEFAULT_RATE_LIMIT;
    this.#maxConnections = options.maxConnections ?? 20_000;
    this.#idleTimeoutMs = (options.idleTimeout ?? 90) * 1000;
    this.#memoryBound = options.memoryBound;
    const tokenLoginConcurrency = options.tokenLoginConcurrency ?? DEFAULT_TOKEN_LOGIN_CONCURRENCY;
    const tokenLoginShare = options.tokenLoginShare ?? DEFAULT_TOKEN_LOGIN_SHARE;
    const turnsFellBack =
      "token logins now start by timers: the loopback connection that marks a turn failed";
    this.#loginTurns = new NetworkTurns(openLoopback, (error) => options.log.warn(turnsFellBack, { error }));
    this.#tokenLogins = tokenLoginConcurrency > 0
      ? new ConcurrencyLimit(tokenLoginConcurrency, {
        handOff: "one per turn",
        nextTurn: (callback) => this.#loginTurns.schedule(callback),
        share: tokenLoginShare < 1 ? new TimeShare(tokenLoginShare) : undefined,
      })
      : undefined;
    this.#refusalLogs = {
      max_connections: new LogThrottle(options.log, {
        level: "warn",
        event: "connections refused: too many connections",
      }),
      max_memory: new LogThrottle(options.log, {
        level: "warn",
        event: "connections refused: memory limit reached",
      }),
    };
    const registry = options.registry ?? new Registry();
    this.#counters = {
      requests: registry.counter("chat_requests_total", "Frames received, by message name", "msg"),
      framesOut: registry.counter("chat_frames_out_total", "Frames sent, by message name", "msg"),
      errors: registry.counter("chat_errors_total", "Requests answered with an error, by errno", "errno"),
      rateLimited: registry.counter(
        "chat_rate_limited_total",
        "Frames held back by the per-connection rate limit",
      ),
      refused: registry.counter(
        "chat_connections_refused_total",
        "New connections refused with errno 11, by reason (max_connections, max_memory)",
        "reason",
      ),
    };
    const maxDevices = options.maxDevices ?? 5;
    // The bus's device claims enforce the limit across nodes; this one only bounds a node's own map.
    const sessions = new SessionRegistry<Session>({ maxPerUser: maxDevices });
    const delivery = new Delivery({ sessions, bus: options.bus });
    const cursors = new CursorSaver(options.store, options.log);
    const gaps = new GapFiller(options.store, options.log);
    const midPrefix = `${Date.now().toString(36)}.${options.bus.nodeId}.`;
    let midCounter = 0;
    this.context = {
      store: options.store,
      bus: options.bus,
      delivery,
      cursors,
      gaps,
      subscriptions: new UserSubscriptions(options.bus),
      sessions,
      limits: options.limits ?? DEFAULT_LIMITS,
      log: options.log,
      offlineBatch: options.offlineBatch ?? 1000,
      offlineBatchBytes: options.offlineBatchBytes ?? 1024 * 1024,
      messages: new MessageWriter(options.store, options.log),
      maxDevices,
      tokenDays: options.tokenDays ?? 30,
      maxTokensPerUser: options.maxTokensPerUser ?? 20,
      pageLimit: options.pageLimit ?? 1000,
      nextMessageId: () => midPrefix + (midCounter++).toString(36),
      userExists: (id) => this.#userExists(id),
    };
    options.bus.setHandler({ onMessage: (message) => delivery.onBusMessage(message) });
    registry.gauge("chat_connections", "Open client connections", () => this.#open.size);
    registry.gauge("chat_logged_in_users", "Users logged in on this node", () => sessions.userCount);
    const deliveryCounter = (name: string, help: string, key: keyof Delivery["counters"]) =>
      registry.gauge(name, help, () => delivery.counters[key], "counter");
    deliveryCounter("chat_delivered_live_total", "Frames written to a local connection", "live");
    deliveryCounter(
      "chat_offline_delivered_total",
      "Offline messages handed over at login",
      "offlineDelivered",
    );
    const busCounter = (name: string, help: string, key: keyof Bus["counters"]) =>
      registry.gauge(name, help, () => options.bus.counters[key], "counter");
    busCounter("chat_bus_published_total", "Frames published to other nodes", "published");
    busCounter("chat_bus_errors_total", "Publishes that failed (bus unreachable)", "publishFailures");
    busCounter("chat_bus_received_total", "Frames received from other nodes", "received");
    const cursorCounter = (name: string, help: string, key: keyof CursorSaver["counters"]) =>
      registry.gauge(name, help, () => cursors.counters[key], "counter");
    cursorCounter("chat_cursor_saves_total", "Batches of delivery cursors saved", "saves");
    cursorCounter("chat_cursors_saved_total", "Delivery cursors saved", "cursors");
    cursorCounter("chat_cursor_save_failures_total", "Batches of delivery cursors that failed", "failures");
    const gapCounter = (name: string, help: string, key: keyof GapFiller["counters"]) =>
      registry.gauge(name, help, () => gaps.counters[key], "counter");
    gapCounter("chat_gap_fills_total", "Holes in live delivery read from the store", "fills");
    gapCounter("chat_gap_filled_total", "Messages handed from the store into holes", "filled");
    gapCounter("chat_gap_fill_failures_total", "Hole fills that failed", "failures");
    const writerCounter = (name: string, help: string, key: keyof MessageWriter["counters"]) =>
      registry.gauge(name, help, () => this.context.messages.counters[key], "counter");
    writerCounter("chat_messages_stored_total", "Chat messages stored", "stored");
    writerCounter("chat_message_commits_total", "Transactions that stored chat messages", "commits");
  }

  onOpen(connection: SessionConnection): void {
    const session = sessionOf(connection, this.#countFrameOut);
    session.bucket = new TokenBucket(this.#rateLimit, 2 * this.#rateLimit);
    this.#open.add(session);
    this.context.log.debug("connect", { conn: connection.id, remote: connection.remote });
    const refusal = this.#refusal();
    if (refusal) {
      this.#counters.refused.inc(refusal.reason);
      this.#refusalLogs[refusal.reason].note({ remote: connection.remote, ...refusal.fields });
      session.reply(errorFrame({ errno: Errno.BUSY, errmsg: refusal.errmsg }));
      connection.closeAfterFlush();
    }
  }

  /** Why a connection opened now must be refused, or undefined; open sessions are never affected. */
  #refusal(): { reason: Refusal; errmsg: string; fields: Record<string, unknown> } | undefined {
    if (this.#open.size > this.#maxConnections) {
      return {
        reason: "max_connections",
        errmsg: "server busy: too many connections; try again later",
        fields: { connections: this.#open.size - 1, max_connections: this.#maxConnections },
      };
    }
    const memory = this.#memoryBound;
    if (memory?.reached) {
      return {
        reason: "max_memory",
        errmsg: "server busy: memory limit reached; try again later",
        fields: { rss_mib: mib(memory.rss), max_memory_mib: mib(memory.maxBytes) },
      };
    }
    return undefined;
  }

  /** Closes v2 connections silent for longer than the idle timeout (v2 clients PING); returns how many. */
  closeIdle(now = performance.now()): number {
    let closed = 0;
    for (const session of this.#open) {
      if (session.version === 2 && now - session.connection.lastReadAt > this.#idleTimeoutMs) {
        this.context.log.info("idle timeout", { conn: session.connection.id, user: session.user?.id });
        session.connection.close();
        closed++;
      }
    }
    return closed;
  }

  onFrame(connection: SessionConnection, text: string | null): Promise<void> {
    return this.#dispatch(sessionOf(connection), text);
  }

  onFrameTooLarge(connection: SessionConnection, size: number): void {
    this.context.log.warn("frame too large", { conn: connection.id, remote: connection.remote, size });
    const errmsg = `frame too large: more than ${size - 1} bytes`;
    connection.send(line(errorFrame({ errno: Errno.FRAME_TOO_LARGE, errmsg })));
  }

  onClose(connection: SessionConnection, unsent: UndeliveredFrame[]): void {
    const session = sessionOf(connection);
    this.#open.delete(session);
    this.context.log.debug("disconnect", { conn: connection.id, user: session.user?.id });
    const done = this.#afterClose(session, unsent).finally(() => this.#closing.delete(done));
    this.#closing.add(done);
  }

  /**
   * Ends every login on this node (graceful shutdown), waits for disconnect handling to finish and saves
   * the last delivery cursors.
   */
  async endAllLogins(): Promise<void> {
    const sessions = this.context.sessions.all();
    await Promise.all(sessions.map((session) => endLogin(this.context, session, "shutdown")));
    await Promise.all(this.#closing);
    await this.context.cursors.flush();
    for (const log of Object.values(this.#refusalLogs)) log.stop();
    this.#loginTurns.close();
    this.context.cursors.stop();
    this.context.gaps.stop();
  }

  /** The chat frames the connection never wrote stay past the device's saved cursor. */
  async #afterClose(session: Session, unsent: UndeliveredFrame[]): Promise<void> {
    await endLogin(this.context, session, "disconnect", unsent);
  }

  async #userExists(id: number): Promise<boolean> {
    if (this.#knownUsers.has(id)) return true;
    const exists = (await this.context.store.existingUsers([id])).has(id);
    if (exists) {
      if (this.#knownUsers.size >= USER_CACHE_LIMIT) this.#knownUsers.clear();
      this.#knownUsers.add(id);
    }
    return exists;
  }

  async #dispatch(session: Session, text: string | null): Promise<void> {
    // Shape, never refuse: an empty bucket delays this frame, and with it the reading of the next one.
    if (session.bucket && !session.bucket.take()) {
      this.#counters.rateLimited.inc();
      await takeToken(session.bucket);
    }
    const partial: Partial<Envelope> = {};
    let envelope: Envelope;
    try {
      envelope = parseEnvelope(text, this.context.limits, partial);
    } catch (error) {
      this.#replyError(session, error, partial);
      return;
    }
    if (envelope.v2) session.version = 2;
    this.#counters.requests.inc(msgName(envelope.msgid));
    const handler = routeFor(envelope.msgid, session.version);
    if (!handler) {
      this.#replyError(
        session,
        new RequestError(Errno.UNKNOWN_MSGID, `unknown msgid: ${envelope.msgid}`),
        envelope,
      );
      return;
    }
    try {
      if (handler.needsLogin && !session.user) throw new RequestError(Errno.NOT_LOGGED_IN, "not logged in");
      if (handler.reply === "own") {
        const handle = async () => await handler.handle(this.context, session, envelope);
        const admitted = this.#tokenLogins && isTokenLogin(envelope);
        const frame = await (admitted ? this.#tokenLogins!.run(handle) : handle());
        if (frame !== undefined) session.reply(frame);
      } else {
        const fields = await handler.handle(this.context, session, envelope);
        if (session.version === 2) {
          session.reply(ackFrame(envelope.msgid, { cid: envelope.cid, fields }));
        }
      }
    } catch (error) {
      const { errno, errmsg } = this.#describe(error, session);
      const cid = envelope.cid;
      if (handler.reply === "own") session.reply(rejectionFrame(handler.replyMsgid, { errno, errmsg, cid }));
      else if (session.version === 2) session.reply(ackFrame(envelope.msgid, { errno, errmsg, cid }));
      // A v1 client (the C++ one) gets what the original's ERROR would have: no cid.
      else session.reply(errorFrame({ errno, errmsg, ref: envelope.msgid }));
    }
  }

  #replyError(session: Session, error: unknown, partial: Partial<Envelope>): void {
    session.reply(errorFrame({ ...this.#describe(error, session), ref: partial.msgid, cid: partial.cid }));
  }

  #describe(error: unknown, session: Session): Failure {
    const failure = this.#classify(error, session);
    this.#counters.errors.inc(failure.errno);
    return failure;
  }

  #classify(error: unknown, session: Session): Failure {
    if (error instanceof RequestError) return { errno: error.errno, errmsg: error.message };
    if (error instanceof StoreUnavailableError) {
      this.context.log.warn("store unavailable", { conn: session.connection.id, error });
      return { errno: Errno.BUSY, errmsg: "server busy: the database is unavailable; try again" };
    }
    this.context.log.error("request failed", {
      conn: session.connection.id,
      error: error instanceof Error ? error.stack : String(error),
    });
    return { errno: Errno.BUSY, errmsg: "server busy: the request failed; try again" };
  }
}

function isTokenLogin(envelope: Envelope): boolean {
  return envelope.msgid === MsgId.LOGIN && envelope.frame.token !== undefined;
}

function mib(bytes: number): number {
  return Math.round(bytes / (1024 * 1024));
}

function sessionOf(connection: SessionConnection, onSend?: (frame: string) => void): Session {
  if (connection.context instanceof Session) return connection.context;
  const session = new Session(connection, onSend);
  connection.context = session;
  return session;
}
