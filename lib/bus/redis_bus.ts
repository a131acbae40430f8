/**
 * The cluster bus on Redis, composed of one part per concern:
 *
 * - `redis_presence.ts`: presence leases (this node's lease, users' owner keys, renewals);
 * - `redis_publisher.ts` and `redis_receiver.ts`: at-least-once delivery of durable frames (sequence
 *   numbers, acks, resends, receiver dedup) over one pub/sub channel per user (`redis_wire.ts`);
 * - `redis_offline_fence.ts`: the offline-store fence;
 * - `redis_scripts.ts`: the Lua scripts; `redis_connection.ts`: opening, watching and closing connections.
 *
 * This file holds the configuration, the life cycle (start, renewals, close) and the wiring.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import { describeError } from "../describe_error.ts";
import { redactUrl } from "../redact_url.ts";
import type { Bus, BusHandler, BusMessage } from "./bus.ts";
import { BusAlreadyStartedError, BusClosedError, BusConnectError, BusNotStartedError } from "./errors.ts";
import { closeConnection, openConnection, watchConnection } from "./redis_connection.ts";
import { RedisOfflineFence } from "./redis_offline_fence.ts";
import { RedisPresence } from "./redis_presence.ts";
import { ReliablePublisher } from "./redis_publisher.ts";
import { Receiver } from "./redis_receiver.ts";

/** Options for {@linkcode RedisBus}. */
export interface RedisBusOptions {
  /** `redis://[user:password@]host:port[/db]`; the password never reaches a log or an error message. */
  url: string;
  /** This node's id: the value of its users' owner keys. Unique per live node; printable ASCII, no spaces. */
  nodeId: string;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
  /** How long this node's claims outlive its last lease renewal, in ms (default 5000). */
  leaseMs?: number;
  /** How often the lease is renewed, in ms (default `leaseMs / 3`). */
  renewMs?: number;
  /** Prefix of every key and channel (default `"chat:"`). */
  keyPrefix?: string;
  /**
   * How long a durable frame waits for the receiving node's ack before `publish` resolves false (default
   * 2000). A frame caught in a Redis outage waits for its resend, then this long again, at most `leaseMs`
   * longer in all.
   */
  ackTimeoutMs?: number;
}

/**
 * Cross-node delivery and presence on Redis.
 *
 * Failure behaviour: while Redis is unreachable, `publish`, `claimUser`, `onlineUsers`, `subscribe`,
 * `beginOfflineStore` and `ping` reject at once (nothing is queued); `releaseUser` and `unsubscribe` never
 * reject: their effect is retried with every lease renewal until Redis confirms it, so a live node never
 * keeps a user it let go.
 *
 * A handler that returns a promise (`BusHandlerResult` allows it) is acknowledged once the promise
 * settles: a node that stores a stray frame offline can say so only then.
 *
 * `start()` rejects with `NodeIdInUseError` when a live process holds this node id, and changes nothing.
 *
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { RedisBus } from "./redis_bus.ts";
 *
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
  /** Commands, scripts and PUBLISH. */
  readonly #cmd: Redis;
  /** SUBSCRIBE / UNSUBSCRIBE and incoming frames. */
  readonly #sub: Redis;
  readonly #presence: RedisPresence;
  readonly #publisher: ReliablePublisher;
  readonly #receiver: Receiver;
  readonly #fence: RedisOfflineFence;

  #started = false;
  #closing: Promise<void> | undefined;
  /** Aborted by close: ends the wait for the node id's lease in start. */
  readonly #closed = new AbortController();
  #renewTimer: ReturnType<typeof setInterval> | undefined;
  #renewing = false;

  /** Validates `options` (a `TypeError` or `RangeError` names the bad value); connects only in `start()`. */
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
    const keyPrefix = options.keyPrefix ?? "chat:";
    const log = options.log;
    this.nodeId = options.nodeId;
    this.#log = log;
    this.#url = redactUrl(options.url);
    this.#leaseMs = leaseMs;
    this.#renewMs = renewMs;
    /** This process: its lease's value and its ack channel (a restarted node never gets its old acks). */
    const token = randomUUID();
    const ackPrefix = `${keyPrefix}ack:`;

    const cmd = this.#cmd = openConnection(options.url, { connectionName: `${this.nodeId}:cmd` });
    const sub = this.#sub = openConnection(options.url, {
      connectionName: `${this.nodeId}:sub`,
      autoResubscribe: true,
    });
    this.#presence = new RedisPresence({ redis: cmd, nodeId: this.nodeId, token, keyPrefix, leaseMs, log });
    // An outage's grace is a lease: a node not back by then has lost its users to presence as well.
    const outageGraceMs = leaseMs;
    this.#publisher = new ReliablePublisher({ cmd, sub, token, ackPrefix, ackTimeoutMs, outageGraceMs, log });
    this.#receiver = new Receiver({ cmd, sub, channelPrefix: `${keyPrefix}user:`, ackPrefix, log });
    this.#fence = new RedisOfflineFence({
      redis: cmd,
      storingPrefix: `${keyPrefix}storing:`,
      log,
      closing: () => this.#closing !== undefined,
    });

    watchConnection(cmd, { name: "command", redactedUrl: this.#url, log });
    watchConnection(sub, { name: "subscriber", redactedUrl: this.#url, log });
    const ackChannel = this.#publisher.ackChannel;
    sub.on("message", (channel: string, payload: string) => {
      if (channel === ackChannel) this.#publisher.onAcks(payload);
      else this.#receiver.onMessage(channel, payload);
    });
    cmd.on("close", () => this.#publisher.connectionLost());
    cmd.on("ready", () => this.#receiver.resendAcks());
    sub.on("close", () => this.#publisher.subscriberLost());
    sub.on("ready", () => {
      // ioredis resubscribes by itself; subscribing here as well tells when Redis has confirmed it.
      if (this.#started && !this.#closing) this.#publisher.subscribeAcks().catch(() => {});
    });
  }

  setHandler(handler: BusHandler): void {
    this.#receiver.setHandler(handler);
  }

  /**
   * Connects both connections, takes this node id's lease (waiting out a lease another process holds, and
   * refusing with `NodeIdInUseError` if that process renews it), drops claims left by an earlier run of this
   * node id, and starts renewing. A bus whose start failed is closed.
   */
  async start(): Promise<void> {
    if (this.#closing) throw new BusClosedError("RedisBus", "start");
    if (this.#started) throw new BusAlreadyStartedError("RedisBus");
    this.#started = true;
    try {
      await Promise.all([this.#cmd.connect(), this.#sub.connect()]);
    } catch (error) {
      // Both connections would keep reconnecting in the background: a bus that failed to start is closed.
      await this.close();
      throw new BusConnectError(this.#url, { cause: error });
    }
    try {
      await this.#publisher.subscribeAcks();
      await this.#presence.acquireNodeLease({ signal: this.#closed.signal });
    } catch (error) {
      await this.close();
      throw error;
    }
    // Closed while waiting for the node id's lease: not started.
    if (this.#closing) throw new BusClosedError("RedisBus", "start");
    const timer = setInterval(() => this.#renew(), this.#renewMs);
    // The lease must not keep a process alive that has nothing else to do.
    Deno.unrefTimer(timer);
    this.#renewTimer = timer;
    this.#log.info("bus connected", { url: this.#url, leaseMs: this.#leaseMs });
  }

  async claimUser(userId: number): Promise<boolean> {
    this.#assertRunning("claimUser");
    return await this.#presence.claimUser(userId);
  }

  /** Never rejects: an unconfirmed release is retried with the lease renewals. */
  async releaseUser(userId: number): Promise<void> {
    // Closing drops every claim of this node at once.
    if (this.#closing) return;
    await this.#presence.releaseUser(userId);
  }

  async onlineUsers(ids: number[]): Promise<Set<number>> {
    this.#assertRunning("onlineUsers");
    return await this.#presence.onlineUsers(ids);
  }

  async subscribe(userId: number): Promise<void> {
    this.#assertRunning("subscribe");
    await this.#receiver.subscribe(userId);
  }

  /** Never rejects: frames that still arrive go to the handler (which stores them) and end the subscription. */
  async unsubscribe(userId: number): Promise<void> {
    if (this.#closing) return this.#receiver.forget(userId);
    await this.#receiver.unsubscribe(userId);
  }

  /**
   * Transient frames: true when some node subscribed the user. Durable frames: true once a receiving node's
   * handler took the frame; false when nobody subscribed or no ack came within `ackTimeoutMs` (after an
   * outage: of the frame's resend, and at most `ackTimeoutMs + leaseMs` after the call).
   */
  async publish(message: BusMessage): Promise<boolean> {
    this.#assertRunning("publish");
    return await this.#publisher.publish(this.#receiver.channel(message.userId), message);
  }

  async beginOfflineStore(userIds: number[]): Promise<void> {
    this.#assertRunning("beginOfflineStore");
    await this.#fence.beginOfflineStore(userIds);
  }

  endOfflineStore(userIds: number[]): Promise<void> {
    return this.#fence.endOfflineStore(userIds);
  }

  offlineStoresSettled(userId: number): Promise<void> {
    return this.#fence.offlineStoresSettled(userId);
  }

  async ping(): Promise<void> {
    this.#assertRunning("ping");
    try {
      await this.#cmd.ping();
    } catch (error) {
      // ioredis's own words ("Stream isn't writeable …") do not say which Redis; /healthz shows this message.
      throw new BusConnectError(this.#url, { cause: error });
    }
  }

  /**
   * Stops receiving frames first, then drops this node's claims and lease (so a user's next login elsewhere
   * never overlaps with a subscription here), then closes both connections. Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      clearInterval(this.#renewTimer);
      await closeConnection(this.#sub);
      this.#publisher.close();
      await this.#presence.releaseNodeLease();
      await closeConnection(this.#cmd);
      this.#receiver.clear();
    })();
    return this.#closing;
  }

  /** Same as {@linkcode RedisBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** One lease renewal, then whatever Redis has not confirmed yet. Never overlaps with itself. */
  async #renew(): Promise<void> {
    if (this.#renewing || this.#closing) return;
    this.#renewing = true;
    try {
      await this.#presence.renew();
      this.#receiver.forgetOldStreams();
      // An ack PUBLISH that timed out on a connection that stayed up has no `ready` to resend it.
      if (this.#cmd.status === "ready") this.#receiver.resendAcks();
      // A failed subscribeAcks after a reconnect would refuse every durable publish until the next one.
      if (this.#sub.status === "ready" && !this.#publisher.acksSubscribed) {
        await this.#publisher.subscribeAcks().catch((error) => {
          this.#log.warn("bus could not subscribe its ack channel; will retry", {
            error: describeError(error),
          });
        });
      }
      await this.#presence.flushReleases();
      await this.#receiver.retryUnsubscribes();
    } catch (error) {
      this.#presence.renewalFailed(error);
    } finally {
      this.#renewing = false;
    }
  }

  #assertRunning(call: string): void {
    if (this.#closing) throw new BusClosedError("RedisBus", call);
    if (!this.#started) throw new BusNotStartedError("RedisBus", call);
  }
}
