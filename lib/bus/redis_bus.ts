/**
 * The cluster bus on Redis: one pub/sub channel per user for delivery, and leases for presence.
 *
 * Presence keys (prefix `chat:` by default):
 * - `node:{nodeId}`: this node's lease, set with a TTL of `leaseMs` and renewed every `renewMs`. A node
 *   that dies (kill -9) stops renewing, and everything it claimed is dead once the key expires.
 * - `owner:{userId}`: the id of the node holding the user. It counts only while that node's lease lives,
 *   so it needs no TTL of its own.
 * - `users:{nodeId}`: the users this node claimed, so that a restarted node with the same id (or a closing
 *   one) can drop exactly its own claims without scanning the keyspace.
 * - `storing:{userId}`: how many offline stores for the user some node has announced and not ended (see
 *   `beginOfflineStore`); it expires `STORING_TTL_MS` after the last announcement, in case a node dies.
 *
 * The scripts read a node's lease key from a value (the owner), so they need one Redis server (or every key
 * in one slot); Redis Cluster would need hash tags in the prefix.
 *
 * Delivery: frames travel on `user:{userId}`. Pub/sub alone is at-most-once: PUBLISH counts a subscriber
 * whose process was just killed, and the frames in its socket are gone. So a durable frame is `true` only
 * once the receiving node's handler took it: the receiver answers on the publisher's `ack:{token}` channel,
 * and a frame not acknowledged within `ackTimeoutMs` is `false` (the caller stores it offline). The cost is a
 * second hop of latency and one ack PUBLISH per batch of frames.
 *
 * When one of the publisher's connections drops, the frames still waiting for an ack may or may not have
 * arrived (Redis restarted between the frame and its ack, say). They are published again, in order, once
 * both connections are back, until acknowledged or timed out; the receiver recognises a frame it took
 * already and only acknowledges it again. It can, because one publisher's frames reach one receiver in
 * order and an outage loses a suffix of them: per publisher "stream" (its token and a number bumped on every
 * reconnect) the receiver keeps the highest sequence number it took. What is left is a frame whose
 * receiving node died between taking it and acknowledging it: delivered, then stored offline as well, which
 * is a duplicate and never a loss.
 *
 * Payloads on the wire, the frame always last and as is (no re-encoding):
 * - transient: `t{frame}`
 * - durable: `d{publisher token, 36 characters}{stream number}:{sequence number} {frame}`
 * - ack, on `ack:{publisher token}`: `{sequence number},{sequence number},…`; a sequence number prefixed
 *   with `-` declines the frame (the handler returned false: this node no longer holds the user), and the
 *   publisher's `publish` resolves false at once.
 *
 * @module
 */
import { createHash, randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.ts";
import type { Bus, BusHandler, BusMessage } from "./bus.ts";

/** Options for {@linkcode RedisBus}. */
export interface RedisBusOptions {
  /** `redis://[user:password@]host:port[/db]`; the password never reaches a log or an error message. */
  url: string;
  /** This node's id: the value of its users' owner keys. Unique per live node; printable ASCII, no spaces. */
  nodeId: string;
  log: Logger;
  /** How long this node's claims outlive its last lease renewal, in ms (default 5000). */
  leaseMs?: number;
  /** How often the lease is renewed, in ms (default `leaseMs / 3`). */
  renewMs?: number;
  /** Prefix of every key and channel (default `"chat:"`). */
  keyPrefix?: string;
  /** How long a durable frame waits for the receiving node's ack before `publish` resolves false (default 2000). */
  ackTimeoutMs?: number;
}

/** A command that Redis does not answer within this time rejects (a hung connection, a partition). */
const COMMAND_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 2000;
/** Reconnect back-off: 100 ms more per attempt, at most this. */
const MAX_RECONNECT_DELAY_MS = 1000;

/** An announced offline store of a node that died stops counting after this long. */
const STORING_TTL_MS = 10_000;
/** A login waits at most this long for other nodes' announced offline stores (a pool's acquire timeout). */
const STORING_WAIT_MS = 6_000;
/** How often a login looks again while stores are announced. */
const STORING_POLL_MS = 10;

/** First character of a payload on the wire. */
const DURABLE = "d";
const TRANSIENT = "t";
const DURABLE_CODE = DURABLE.charCodeAt(0);
/** Prefix of a sequence number in an ack payload that declines the frame. */
const NACK = "-";
/** The length of a `randomUUID()`: the publisher's token in a durable payload. */
const TOKEN_LENGTH = 36;
/** How long a receiver remembers the last frame it took from a publisher's stream (far above ack timeouts). */
const STREAM_MEMORY_MS = 60_000;

class LuaScript {
  readonly sha: string;
  constructor(readonly lua: string) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }
}

/**
 * KEYS[1] owner key, KEYS[2] this node's user set; ARGV[1] node id, ARGV[2] node lease key prefix,
 * ARGV[3] user id. 1 when claimed; 0 when this node or another live one holds the user.
 */
const CLAIM = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return 0 end
if owner and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`);

/**
 * Claims again what this node holds after its lease lapsed (Redis restarted, or a partition outlived the
 * lease). KEYS[1] this node's user set; ARGV[1] node id, ARGV[2] node lease key prefix, ARGV[3] owner key
 * prefix, ARGV[4..] user ids. Returns the ids that a live node claimed meanwhile.
 */
const REASSERT = new LuaScript(`
local conflicts = {}
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  local owner = redis.call('GET', key)
  if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then
    conflicts[#conflicts + 1] = ARGV[i]
  else
    redis.call('SET', key, ARGV[1])
    redis.call('SADD', KEYS[1], ARGV[i])
  end
end
return conflicts`);

/** KEYS[1] this node's user set; ARGV[1] node id, ARGV[2] owner key prefix, ARGV[3..] user ids. */
const RELEASE = new LuaScript(`
for i = 3, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
  redis.call('SREM', KEYS[1], ARGV[i])
end
return 0`);

/**
 * Drops every claim in this node's user set, then sets a new lease (start: ARGV[3] token, ARGV[4] ms) or
 * deletes it (close: no ARGV[3]). KEYS[1] this node's user set, KEYS[2] its lease; ARGV[1] node id,
 * ARGV[2] owner key prefix. Returns the number of claims dropped.
 */
const RELEASE_ALL = new LuaScript(`
local released = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
redis.call('DEL', KEYS[1])
if ARGV[3] then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) else redis.call('DEL', KEYS[2]) end
return released`);

/**
 * KEYS[1] this node's lease; ARGV[1] this process's token, ARGV[2] lease ms. 1: renewed; 0: it had expired
 * (claims must be re-asserted); 2: another process renews a lease with this node id.
 */
const RENEW = new LuaScript(`
local current = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if current == ARGV[1] then return 1 end
if current then return 2 end
return 0`);

/** KEYS storing counters; ARGV[1] their TTL in ms. */
const STORING_BEGIN = new LuaScript(`
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('PEXPIRE', key, ARGV[1])
end
return 0`);

/** KEYS storing counters: one fewer each; a counter at zero is deleted. */
const STORING_END = new LuaScript(`
for _, key in ipairs(KEYS) do
  if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0`);

/** KEYS owner keys; ARGV[1] node lease key prefix. 1 per key whose owner node is alive, else 0. */
const ONLINE = new LuaScript(`
local alive = {}
local result = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  local up = 0
  if owner then
    if alive[owner] == nil then alive[owner] = redis.call('EXISTS', ARGV[1] .. owner) end
    up = alive[owner]
  end
  result[i] = up
end
return result`);

/**
 * Cross-node delivery and presence on Redis.
 *
 * Failure behaviour: while Redis is unreachable, `publish`, `claimUser`, `onlineUsers`, `subscribe` and
 * `ping` reject at once (nothing is queued); `releaseUser` and `unsubscribe` never reject: their effect is
 * retried with every lease renewal until Redis confirms it, so a live node never keeps a user it let go.
 *
 * A handler that returns a promise (the bus's `onMessage` is typed `void`, which such a function satisfies)
 * is acknowledged once the promise resolves: a node that stores a stray frame offline can say so only then.
 *
 * @example
 * ```ts
 * await using bus = new RedisBus({ url: "redis://127.0.0.1:6380", nodeId: "n1", log: new Logger() });
 * bus.setHandler({ onMessage: (message) => console.log(message.userId, message.frame) });
 * await bus.start();
 * if (await bus.claimUser(7)) await bus.subscribe(7);
 * await bus.publish({ userId: 7, frame: '{"msgid":6}', durable: true }); // true
 * ```
 */
export class RedisBus implements Bus {
  readonly nodeId: string;
  readonly #log: Logger;
  readonly #url: string;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  readonly #channelPrefix: string;
  readonly #ownerPrefix: string;
  readonly #leasePrefix: string;
  readonly #leaseKey: string;
  readonly #usersKey: string;
  readonly #storingPrefix: string;
  /**
   * This process: the lease's value (tells its renewals from another process's with the same node id), and
   * where receivers send acks (a restarted node never gets acks meant for its previous run).
   */
  readonly #token = randomUUID();
  readonly #ackTimeoutMs: number;
  readonly #ackPrefix: string;
  readonly #ackChannel: string;
  /** Commands, scripts and PUBLISH. */
  readonly #cmd: Redis;
  /** SUBSCRIBE / UNSUBSCRIBE and incoming frames. */
  readonly #sub: Redis;

  #handler: BusHandler | undefined;
  #started = false;
  #closing: Promise<void> | undefined;
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #renewing = false;
  #lastRenewal = 0;
  #lapseWarned = false;
  #duplicateWarned = false;
  /** The lease had expired; set until the claims are re-asserted. */
  #reassertDue = false;

  /** Users this node claimed and has not released: re-asserted when the lease lapsed. */
  readonly #claimed = new Set<number>();
  /** Releases Redis has not confirmed (or claims whose outcome is unknown): retried on every renewal. */
  readonly #pendingReleases = new Set<number>();
  /** Users whose frames this node wants. */
  readonly #subscribed = new Set<number>();
  /** Unsubscriptions Redis has not confirmed: retried on every renewal and when a stray frame arrives. */
  readonly #pendingUnsubscribes = new Set<number>();

  /** Durable frames published and not acknowledged yet, by sequence number; deadlines in insertion order. */
  readonly #awaitingAcks = new Map<number, AckWaiter>();
  #sequence = 0;
  /** Bumped whenever a connection drops: frames published after it are a new stream for the receivers. */
  #stream = 0;
  /** Whether Redis confirmed the subscription to this node's ack channel on the current connection. */
  #ackSubscribed = false;
  /** Some waiters must be published again (their connection dropped before the ack came). */
  #resendDue = false;
  #resending = false;
  #ackTimer: ReturnType<typeof setInterval> | undefined;
  /** Acks to send, by publisher token; sent together once the frames of one read are handled. */
  readonly #outgoingAcks = new Map<string, string[]>();
  #ackFlushQueued = false;
  /** Receiver side: per publisher stream, the highest sequence number taken (to recognise resent frames). */
  readonly #takenUpTo = new Map<string, { sequence: number; at: number }>();

  constructor(options: RedisBusOptions) {
    const leaseMs = options.leaseMs ?? 5000;
    const renewMs = options.renewMs ?? Math.floor(leaseMs / 3);
    const ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    // Redis accepts these in connection names (CLIENT SETNAME), where the node id shows in CLIENT LIST.
    if (!/^[!-~]+$/.test(options.nodeId)) {
      throw new TypeError(
        `RedisBus: nodeId must be printable ASCII without spaces, got ${JSON.stringify(options.nodeId)}`,
      );
    }
    if (!Number.isInteger(leaseMs) || leaseMs < 100) {
      throw new RangeError(`RedisBus: leaseMs must be an integer >= 100, got ${leaseMs}`);
    }
    if (!Number.isInteger(renewMs) || renewMs < 10 || renewMs >= leaseMs) {
      throw new RangeError(`RedisBus: renewMs must be an integer in [10, leaseMs), got ${renewMs}`);
    }
    if (!Number.isInteger(ackTimeoutMs) || ackTimeoutMs < 10) {
      throw new RangeError(`RedisBus: ackTimeoutMs must be an integer >= 10, got ${ackTimeoutMs}`);
    }
    const prefix = options.keyPrefix ?? "chat:";
    this.nodeId = options.nodeId;
    this.#log = options.log;
    this.#url = redactUrl(options.url);
    this.#leaseMs = leaseMs;
    this.#renewMs = renewMs;
    this.#channelPrefix = `${prefix}user:`;
    this.#ownerPrefix = `${prefix}owner:`;
    this.#leasePrefix = `${prefix}node:`;
    this.#leaseKey = `${this.#leasePrefix}${this.nodeId}`;
    this.#usersKey = `${prefix}users:${this.nodeId}`;
    this.#storingPrefix = `${prefix}storing:`;
    this.#ackTimeoutMs = ackTimeoutMs;
    this.#ackPrefix = `${prefix}ack:`;
    this.#ackChannel = this.#ackPrefix + this.#token;

    const common: RedisOptions = {
      lazyConnect: true,
      // Nothing waits for a connection that may never come back: callers fall back (store offline) at once.
      enableOfflineQueue: false,
      // 0: commands in flight when the connection drops reject right then, and ioredis never sends them
      // again by itself: the bus decides (durable frames are resent with their sequence numbers).
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    };
    this.#cmd = new Redis(options.url, { ...common, connectionName: `${this.nodeId}:cmd` });
    this.#sub = new Redis(options.url, {
      ...common,
      connectionName: `${this.nodeId}:sub`,
      autoResubscribe: true,
    });
    this.#watch(this.#cmd, "command");
    this.#watch(this.#sub, "subscriber");
    this.#sub.on("message", this.#onMessage);
    this.#cmd.on("close", () => this.#connectionLost());
    this.#sub.on("close", () => {
      this.#ackSubscribed = false;
      this.#connectionLost();
    });
    this.#sub.on("ready", () => {
      // ioredis resubscribes by itself; subscribing here as well tells when Redis has confirmed it.
      if (this.#started && !this.#closing) this.#subscribeAcks().catch(() => {});
    });
  }

  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  /** Connects both connections, drops claims left by an earlier run of this node id, starts the lease. */
  async start(): Promise<void> {
    if (this.#closing) throw new Error("RedisBus is closed");
    if (this.#started) throw new Error("RedisBus.start() was already called");
    this.#started = true;
    try {
      await Promise.all([this.#cmd.connect(), this.#sub.connect()]);
    } catch (error) {
      // Both connections would keep reconnecting in the background: a bus that failed to start is closed.
      await this.close();
      throw new Error(`RedisBus: cannot connect to ${this.#url}`, { cause: error });
    }
    await this.#subscribeAcks();
    const released = await this.#eval(RELEASE_ALL, [this.#usersKey, this.#leaseKey], [
      this.nodeId,
      this.#ownerPrefix,
      this.#token,
      this.#leaseMs,
    ]);
    if (this.#closing) return;
    this.#lastRenewal = Date.now();
    if (Number(released) > 0) this.#log.info("bus dropped claims of an earlier run", { count: released });
    const timer = setInterval(() => this.#renew(), this.#renewMs);
    // The lease must not keep a process alive that has nothing else to do.
    Deno.unrefTimer(timer);
    this.#renewTimer = timer;
    this.#log.info("bus connected", { url: this.#url, leaseMs: this.#leaseMs });
  }

  async claimUser(userId: number): Promise<boolean> {
    this.#assertRunning();
    // An unconfirmed release of this user would make the claim look like a duplicate login.
    if (this.#pendingReleases.has(userId)) await this.#flushReleases();
    try {
      const claimed = await this.#eval(CLAIM, [this.#ownerKey(userId), this.#usersKey], [
        this.nodeId,
        this.#leasePrefix,
        userId,
      ]) === 1;
      if (claimed) {
        this.#claimed.add(userId);
        this.#pendingReleases.delete(userId);
      }
      return claimed;
    } catch (error) {
      // The script may have run before the reply was lost: a claim nobody uses must not block the user.
      if (!this.#claimed.has(userId)) this.#pendingReleases.add(userId);
      throw error;
    }
  }

  /** Never rejects: an unconfirmed release is retried with the lease renewals. */
  async releaseUser(userId: number): Promise<void> {
    if (!this.#claimed.delete(userId) && !this.#pendingReleases.has(userId)) return;
    this.#pendingReleases.add(userId);
    if (this.#closing) return;
    await this.#flushReleases().catch((error) =>
      this.#log.warn("bus release failed; will retry", { user: userId, error: describe(error) })
    );
  }

  async onlineUsers(ids: number[]): Promise<Set<number>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Set();
    this.#assertRunning();
    const alive = await this.#eval(ONLINE, unique.map((id) => this.#ownerKey(id)), [
      this.#leasePrefix,
    ]) as number[];
    return new Set(unique.filter((_, index) => alive[index] === 1));
  }

  async subscribe(userId: number): Promise<void> {
    this.#assertRunning();
    this.#subscribed.add(userId);
    this.#pendingUnsubscribes.delete(userId);
    try {
      await this.#sub.subscribe(this.#channel(userId));
    } catch (error) {
      // Not subscribed as far as the caller knows: frames that still come (the reply was lost) end it.
      this.#subscribed.delete(userId);
      throw error;
    }
  }

  /** Never rejects: frames that still arrive go to the handler (which stores them) and end the subscription. */
  async unsubscribe(userId: number): Promise<void> {
    this.#subscribed.delete(userId);
    if (this.#closing) return;
    await this.#dropSubscription(userId);
  }

  /**
   * Transient frames: true when some node subscribed the user. Durable frames: true once a receiving node's
   * handler took the frame; false when nobody subscribed or no ack came within `ackTimeoutMs`.
   */
  async publish(message: BusMessage): Promise<boolean> {
    this.#assertRunning();
    const channel = this.#channel(message.userId);
    if (!message.durable) return await this.#cmd.publish(channel, TRANSIENT + message.frame) > 0;
    // Not sent at all (the caller stores offline) rather than sent without a way to hear the ack.
    if (!this.#ackSubscribed || this.#cmd.status !== "ready") {
      throw new Error(`RedisBus: not connected (${this.#cmd.status}/${this.#sub.status})`);
    }
    const sequence = ++this.#sequence;
    const payload = `${DURABLE}${this.#token}${this.#stream}:${sequence} ${message.frame}`;
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const waiter: AckWaiter = {
      resolve,
      deadline: performance.now() + this.#ackTimeoutMs,
      channel,
      payload,
      declines: 0,
    };
    // Registered first: the ack comes on the other connection and may overtake the PUBLISH reply.
    this.#awaitingAcks.set(sequence, waiter);
    this.#armAckTimer();
    try {
      waiter.receivers = await this.#cmd.publish(channel, payload);
      this.#settleIfAllDeclined(sequence, waiter);
    } catch {
      // Sent, but the connection dropped or hung: it may have arrived. Resent once connected again.
      this.#markForResend(waiter);
    }
    return await promise;
  }

  async beginOfflineStore(userIds: number[]): Promise<void> {
    this.#assertRunning();
    if (userIds.length === 0) return;
    await this.#eval(STORING_BEGIN, userIds.map((id) => this.#storingPrefix + id), [STORING_TTL_MS]);
  }

  async endOfflineStore(userIds: number[]): Promise<void> {
    if (userIds.length === 0 || this.#closing) return;
    await this.#eval(STORING_END, userIds.map((id) => this.#storingPrefix + id), []).catch((error) =>
      this.#log.warn("bus could not end an offline store; it expires", { error: describe(error) })
    );
  }

  async offlineStoresSettled(userId: number): Promise<void> {
    const deadline = performance.now() + STORING_WAIT_MS;
    try {
      while (!this.#closing && await this.#cmd.exists(this.#storingPrefix + userId) === 1) {
        if (performance.now() > deadline) {
          this.#log.warn("bus gave up waiting for offline stores", { user: userId });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, STORING_POLL_MS));
      }
    } catch (error) {
      // Redis is down: no other node can deliver to this user now either; the login goes on.
      this.#log.warn("bus could not check offline stores", { user: userId, error: describe(error) });
    }
  }

  async ping(): Promise<void> {
    this.#assertRunning();
    await this.#cmd.ping();
  }

  /**
   * Stops receiving frames first, then drops this node's claims and lease (so a user's next login elsewhere
   * never overlaps with a subscription here), then closes both connections. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#renewTimer);
      await closeConnection(this.#sub);
      this.#expireAcks(Infinity);
      clearInterval(this.#ackTimer);
      const unreleased = this.#claimed.size + this.#pendingReleases.size;
      try {
        if (this.#cmd.status === "ready") {
          await this.#eval(RELEASE_ALL, [this.#usersKey, this.#leaseKey], [this.nodeId, this.#ownerPrefix]);
        } else if (unreleased > 0) {
          throw new Error(`not connected (${this.#cmd.status})`);
        }
      } catch (error) {
        this.#log.warn("bus could not release its claims; they expire with the lease", {
          count: unreleased,
          error: describe(error),
        });
      }
      await closeConnection(this.#cmd);
      this.#claimed.clear();
      this.#pendingReleases.clear();
      this.#subscribed.clear();
      this.#pendingUnsubscribes.clear();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** The hot path: no JSON; a few slices for the header and one for the frame. */
  readonly #onMessage = (channel: string, payload: string): void => {
    if (channel === this.#ackChannel) return this.#onAcks(payload);
    const userId = Number(channel.slice(this.#channelPrefix.length));
    if (!this.#subscribed.has(userId) && !this.#pendingUnsubscribes.has(userId)) {
      // A subscription that outlived its unsubscribe (say, re-established by a reconnect): end it.
      void this.#dropSubscription(userId);
    }
    // Handled even when stray: the publisher counted this node as a receiver, so the handler must store it.
    if (payload.charCodeAt(0) !== DURABLE_CODE) {
      this.#handle({ userId, frame: payload.slice(1), durable: false });
      return;
    }
    const colon = payload.indexOf(":", 1 + TOKEN_LENGTH);
    const space = payload.indexOf(" ", colon);
    const origin = payload.slice(1, 1 + TOKEN_LENGTH);
    const stream = payload.slice(1, colon);
    const sequenceText = payload.slice(colon + 1, space);
    const sequence = Number(sequenceText);
    const taken = this.#takenUpTo.get(stream);
    if (taken && sequence <= taken.sequence) {
      // Resent after the publisher lost its connection, but taken already: only the ack was missing.
      this.#queueAck(origin, sequenceText);
      return;
    }
    const handled = this.#handle({ userId, frame: payload.slice(space + 1), durable: true });
    if (handled === false) {
      // Declined: the publisher need not wait out its ack timeout to store the frame itself.
      this.#queueAck(origin, NACK + sequenceText);
      return;
    }
    if (taken) {
      taken.sequence = sequence;
      taken.at = Date.now();
    } else {
      this.#takenUpTo.set(stream, { sequence, at: Date.now() });
    }
    if (handled === true) this.#queueAck(origin, sequenceText);
    else {
      handled.then(
        (taken) => this.#queueAck(origin, taken === false ? NACK + sequenceText : sequenceText),
        (error) => this.#log.error("bus handler failed", { user: userId, error: describe(error) }),
      );
    }
  };

  /**
   * Runs the handler: true when it took the frame, a promise when it will have, false when it declined
   * the frame or failed (no ack: the publisher stores it offline).
   */
  #handle(message: BusMessage): boolean | Promise<unknown> {
    if (!this.#handler) return false;
    try {
      const done = this.#handler.onMessage(message);
      if (done === false) return false;
      return done instanceof Promise ? done : true;
    } catch (error) {
      // Thrown inside ioredis's reply parser it would break the subscriber connection for every user.
      this.#log.error("bus handler failed", { user: message.userId, error: describe(error) });
      return false;
    }
  }

  #queueAck(origin: string, sequence: string): void {
    const pending = this.#outgoingAcks.get(origin);
    if (pending) pending.push(sequence);
    else this.#outgoingAcks.set(origin, [sequence]);
    if (this.#ackFlushQueued) return;
    this.#ackFlushQueued = true;
    // ioredis emits every message of one read synchronously: one ack PUBLISH per publisher per read.
    queueMicrotask(() => {
      this.#ackFlushQueued = false;
      for (const [token, sequences] of this.#outgoingAcks) {
        // A lost ack is safe: the publisher times out and stores the frame offline (a duplicate, not a loss).
        this.#cmd.publish(this.#ackPrefix + token, sequences.join(",")).catch(() => {});
      }
      this.#outgoingAcks.clear();
    });
  }

  #onAcks(payload: string): void {
    for (const text of payload.split(",")) {
      const declined = text.startsWith(NACK);
      const sequence = Number(declined ? text.slice(NACK.length) : text);
      const waiter = this.#awaitingAcks.get(sequence);
      if (!waiter) continue; // timed out already, or a second receiver's ack
      if (declined) {
        waiter.declines++;
        this.#settleIfAllDeclined(sequence, waiter);
      } else {
        this.#awaitingAcks.delete(sequence);
        waiter.resolve(true);
      }
    }
  }

  /**
   * False once every receiver declined (or there was none). A stray subscription on a node the user just
   * left declines while the node the user logged in on takes the frame: one decline is not enough.
   */
  #settleIfAllDeclined(sequence: number, waiter: AckWaiter): void {
    if (waiter.receivers === undefined || waiter.declines < waiter.receivers) return;
    if (this.#awaitingAcks.get(sequence) !== waiter) return;
    this.#awaitingAcks.delete(sequence);
    waiter.resolve(false);
  }

  async #subscribeAcks(): Promise<void> {
    await this.#sub.subscribe(this.#ackChannel);
    this.#ackSubscribed = true;
  }

  /** Frames waiting for an ack across a dropped connection may or may not have arrived: resend them. */
  #connectionLost(): void {
    this.#stream++;
    for (const waiter of this.#awaitingAcks.values()) waiter.resend = true;
    if (this.#awaitingAcks.size > 0) this.#resendDue = true;
  }

  #markForResend(waiter: AckWaiter): void {
    waiter.resend = true;
    this.#resendDue = true;
  }

  /** One timer for all waiters, running only while there are some. */
  #armAckTimer(): void {
    if (this.#ackTimer !== undefined) return;
    const timer = setInterval(() => {
      this.#expireAcks(performance.now());
      if (this.#resendDue) void this.#resend();
    }, Math.min(100, this.#ackTimeoutMs));
    Deno.unrefTimer(timer);
    this.#ackTimer = timer;
  }

  /** Resolves false every wait whose deadline is before `now`; stops the timer when none is left. */
  #expireAcks(now: number): void {
    let expired = 0;
    for (const [sequence, waiter] of this.#awaitingAcks) {
      if (waiter.deadline > now) break; // one timeout for all: deadlines grow in insertion order
      this.#awaitingAcks.delete(sequence);
      waiter.resolve(false);
      expired++;
    }
    if (expired > 0) {
      this.#log.warn("bus frames not acknowledged; the senders store them offline", { count: expired });
    }
    if (this.#awaitingAcks.size === 0) {
      clearInterval(this.#ackTimer);
      this.#ackTimer = undefined;
      this.#resendDue = false;
    }
  }

  /**
   * Publishes the marked waiters again, oldest first and one at a time, stopping at the first that nobody
   * receives yet (its node may not have resubscribed): a later frame must not reach a receiver before an
   * earlier one, or the receiver would take the earlier one for a resend it has seen.
   */
  async #resend(): Promise<void> {
    if (this.#resending || !this.#ackSubscribed || this.#cmd.status !== "ready") return;
    this.#resending = true;
    try {
      for (const [sequence, waiter] of [...this.#awaitingAcks]) {
        // Acknowledged or expired (the caller stored it offline) meanwhile: not again.
        if (!waiter.resend || !this.#awaitingAcks.has(sequence)) continue;
        const receivers = await this.#cmd.publish(waiter.channel, waiter.payload);
        if (receivers === 0) return;
        waiter.resend = false;
        waiter.receivers = receivers;
        waiter.declines = 0;
      }
      this.#resendDue = false;
    } catch {
      // Dropped again: the next connection resends.
    } finally {
      this.#resending = false;
    }
  }

  async #dropSubscription(userId: number): Promise<void> {
    this.#pendingUnsubscribes.add(userId);
    try {
      await this.#sub.unsubscribe(this.#channel(userId));
      // A new subscribe() after this one was sent later on the same connection, so it wins either way.
      this.#pendingUnsubscribes.delete(userId);
    } catch (error) {
      if (this.#subscribed.has(userId)) this.#pendingUnsubscribes.delete(userId);
      else this.#log.debug("bus unsubscribe failed; will retry", { user: userId, error: describe(error) });
    }
  }

  async #flushReleases(): Promise<void> {
    const ids = [...this.#pendingReleases].filter((id) => !this.#claimed.has(id));
    if (ids.length === 0) return;
    await this.#eval(RELEASE, [this.#usersKey], [this.nodeId, this.#ownerPrefix, ...ids]);
    for (const id of ids) this.#pendingReleases.delete(id);
  }

  /** One lease renewal, then whatever Redis has not confirmed yet. Never overlaps with itself. */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#closing) return;
    this.#renewing = true;
    try {
      const state = await this.#eval(RENEW, [this.#leaseKey], [this.#token, this.#leaseMs]);
      this.#lastRenewal = Date.now();
      this.#lapseWarned = false;
      if (state === 0) this.#reassertDue = true;
      if (state === 2 && !this.#duplicateWarned) {
        this.#duplicateWarned = true;
        this.#log.warn("bus lease renewed by another process: two live nodes share this node id");
      }
      if (this.#reassertDue) {
        await this.#reassert();
        this.#reassertDue = false;
      }
      this.#forgetOldStreams();
      if (this.#pendingReleases.size > 0) await this.#flushReleases();
      if (this.#pendingUnsubscribes.size > 0 && this.#sub.status === "ready") {
        await Promise.all([...this.#pendingUnsubscribes].map((id) => this.#dropSubscription(id)));
      }
    } catch (error) {
      const late = Date.now() - this.#lastRenewal;
      if (late > this.#leaseMs && !this.#lapseWarned) {
        this.#lapseWarned = true;
        this.#log.warn("bus lease lapsed: this node's users look offline and may log in elsewhere", {
          lateMs: late,
          error: describe(error),
        });
      }
    } finally {
      this.#renewing = false;
    }
  }

  /** Resends come within a publisher's ack timeout: a stream quiet for a minute will not see one. */
  #forgetOldStreams(): void {
    const before = Date.now() - STREAM_MEMORY_MS;
    for (const [stream, taken] of this.#takenUpTo) if (taken.at < before) this.#takenUpTo.delete(stream);
  }

  /** The lease had expired (Redis restarted empty, or a partition outlived it): claim our users again. */
  async #reassert(): Promise<void> {
    const ids = [...this.#claimed];
    const conflicts = ids.length === 0 ? [] : await this.#eval(REASSERT, [this.#usersKey], [
      this.nodeId,
      this.#leasePrefix,
      this.#ownerPrefix,
      ...ids,
    ]) as string[];
    this.#log.warn("bus lease had expired; claims re-asserted", {
      count: ids.length,
      conflicts: conflicts.length,
    });
    if (conflicts.length > 0) {
      // Another node logged these users in meanwhile; both sessions receive their frames until one ends.
      this.#log.warn("bus users claimed elsewhere while the lease was lost", {
        users: conflicts.map(Number),
      });
    }
  }

  /** EVALSHA, falling back to EVAL once when Redis does not know the script (first use, or restarted). */
  async #eval(script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await this.#cmd.call("EVALSHA", [script.sha, keys.length, ...keys, ...args]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await this.#cmd.call("EVAL", [script.lua, keys.length, ...keys, ...args]);
    }
  }

  /** Logs the start and the end of each outage, not every reconnect attempt. */
  #watch(redis: Redis, name: string): void {
    let down = false;
    redis.on("error", (error: Error) => {
      if (down) return;
      down = true;
      this.#log.warn("bus connection error", { conn: name, url: this.#url, error: describe(error) });
    });
    redis.on("reconnecting", () => {
      if (down) return;
      down = true;
      this.#log.warn("bus connection lost", { conn: name, url: this.#url });
    });
    redis.on("ready", () => {
      if (!down) return;
      down = false;
      this.#log.info("bus reconnected", { conn: name });
    });
  }

  #assertRunning(): void {
    if (this.#closing) throw new Error("RedisBus is closed");
    if (!this.#started) throw new Error("RedisBus.start() was not called");
  }

  #channel(userId: number): string {
    return this.#channelPrefix + userId;
  }

  #ownerKey(userId: number): string {
    return this.#ownerPrefix + userId;
  }
}

interface AckWaiter {
  resolve(received: boolean): void;
  /** `performance.now()` after which the frame counts as not received. */
  deadline: number;
  channel: string;
  payload: string;
  /** Its connection dropped before the ack came: to be published again. */
  resend?: boolean;
  /** Nodes that received it (PUBLISH's reply; unknown until that reply, which an ack may overtake). */
  receivers?: number;
  /** Nodes that declined it: once all receivers did, nobody took it. */
  declines: number;
}

/**
 * `quit()` when connected (pending replies arrive first), else `disconnect()`; resolves on `end`. While
 * reconnecting there is no socket, and ioredis never emits `end` from there: stopping the retries is all.
 */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "reconnecting") return redis.disconnect();
  const ended = new Promise<void>((resolve) => redis.once("end", () => resolve()));
  if (redis.status === "ready") {
    await redis.quit().catch(() => redis.disconnect());
  } else {
    redis.disconnect();
  }
  await ended;
}

/** The URL without its credentials: `redis://***@host:port/db`. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = "***";
      parsed.password = "";
    }
    return parsed.href;
  } catch {
    return url.replace(/\/\/[^/@]*@/, "//***@");
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
