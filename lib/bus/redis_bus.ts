/**
 * The cluster bus on Redis, composed of one part per concern:
 *
 * - `redis_presence.ts`: presence leases (one entry per device, this node's lease, renewals);
 * - `redis_publisher.ts` and `redis_receiver.ts`: best-effort delivery over one pub/sub channel per user
 *   (`redis_wire.ts`), sharded pub/sub (SPUBLISH / SSUBSCRIBE) on a Redis Cluster;
 * - `redis_scripts.ts`: the Lua scripts; `redis_connection.ts`: opening, watching and closing connections;
 *   `redis_cluster_connection.ts` and `redis_cluster_url.ts`: the same for a Redis Cluster
 *   (`redis-cluster://h1:p1,h2:p2`).
 *
 * This file holds the configuration, the life cycle (start, renewals, close) and the wiring.
 *
 * @module
 */
import { randomUUID } from "node:crypto";
import { Cluster } from "ioredis";
import type { Logger } from "../log.ts";
import { redactUrl } from "../redact_url.ts";
import type { Bus, BusCounters, BusHandler, BusMessage, DeviceClaim } from "./bus.ts";
import { BusAlreadyStartedError, BusClosedError, BusConnectError, BusNotStartedError } from "./errors.ts";
import { openClusterConnection } from "./redis_cluster_connection.ts";
import { watchCluster } from "./redis_cluster_watch.ts";
import { isClusterUrl, redactClusterUrl } from "./redis_cluster_url.ts";
import { closeConnection, openConnection, type RedisClient, watchConnection } from "./redis_connection.ts";
import { RedisPresence } from "./redis_presence.ts";
import { Publisher } from "./redis_publisher.ts";
import { Receiver } from "./redis_receiver.ts";

/** Options for {@linkcode RedisBus}. */
export interface RedisBusOptions {
  /**
   * `redis://[user:password@]host:port[/db]` for one server, or
   * `redis-cluster://[user:password@]host:port,host:port…` for a Redis Cluster (any of its nodes as seeds;
   * delivery then uses sharded pub/sub). The password never reaches a log or an error message.
   */
  url: string;
  /** This node's id: shown in its device entries and connection names. Unique per live node; printable ASCII, no spaces. */
  nodeId: string;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
  /** How long this node's claims outlive its last lease renewal, in ms (default 5000). */
  leaseMs?: number;
  /** How often the lease is renewed, in ms (default `leaseMs / 3`). */
  renewMs?: number;
  /** Prefix of every key and channel (default `"chat:"`). */
  keyPrefix?: string;
}

/**
 * Cross-node delivery and presence on Redis.
 *
 * Failure behaviour: while Redis is unreachable, `claimDevice`, `onlineUsers`, `subscribe` and `ping`
 * reject at once (nothing is queued); `publish` counts the failure and resolves; `releaseDevice` and
 * `unsubscribe` never reject: their effect is retried with every lease renewal until Redis confirms it,
 * so a live node never keeps a device it let go.
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
 * if ((await bus.claimDevice(7, "phone", 5)).claimed) await bus.subscribe(7);
 * await bus.publish({ userId: 7, frame: '{"msgid":6}' });
 * ```
 */
export class RedisBus implements Bus {
  readonly nodeId: string;
  readonly counters: BusCounters = { published: 0, publishFailures: 0, received: 0 };
  readonly #log: Logger;
  readonly #url: string;
  readonly #leaseMs: number;
  readonly #renewMs: number;
  /** Commands, scripts and PUBLISH (SPUBLISH on a cluster). */
  readonly #cmd: RedisClient;
  /** SUBSCRIBE / UNSUBSCRIBE (SSUBSCRIBE / SUNSUBSCRIBE on a cluster) and incoming frames. */
  readonly #sub: RedisClient;
  readonly #presence: RedisPresence;
  readonly #publisher: Publisher;
  readonly #receiver: Receiver;

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
    const keyPrefix = options.keyPrefix ?? "chat:";
    const log = options.log;
    this.nodeId = options.nodeId;
    this.#log = log;
    const cluster = isClusterUrl(options.url);
    this.#url = cluster ? redactClusterUrl(options.url) : redactUrl(options.url);
    this.#leaseMs = leaseMs;
    this.#renewMs = renewMs;
    /** This process: the owner of its device entries, and the mark of its own publishes. */
    const token = randomUUID();

    const cmd = this.#cmd = cluster
      ? openClusterConnection(options.url, { connectionName: `${this.nodeId}:cmd` })
      : openConnection(options.url, { connectionName: `${this.nodeId}:cmd` });
    const sub = this.#sub = cluster
      ? openClusterConnection(options.url, { connectionName: `${this.nodeId}:sub`, shardedSubscribers: true })
      : openConnection(options.url, { connectionName: `${this.nodeId}:sub`, autoResubscribe: true });
    const counters = this.counters;
    this.#presence = new RedisPresence({
      redis: cmd,
      nodeId: this.nodeId,
      token,
      keyPrefix,
      leaseMs,
      renewMs,
      log,
    });
    this.#publisher = new Publisher({ cmd, token, keyPrefix, counters, log, sharded: cluster });
    this.#receiver = new Receiver({ sub, token, keyPrefix, counters, log, sharded: cluster });

    // A cluster client stays up while one master is down: its watcher names the node and the recovery.
    for (const [client, name] of [[cmd, "command"], [sub, "subscriber"]] as const) {
      if (client instanceof Cluster) watchCluster(client, { name, redactedUrl: this.#url, log });
      else watchConnection(client, { name, redactedUrl: this.#url, log });
    }
    sub.on(cluster ? "smessage" : "message", this.#receiver.onMessage);
  }

  setHandler(handler: BusHandler): void {
    this.#receiver.setHandler(handler);
  }

  /**
   * Connects both connections, takes this node id's lease (waiting out a lease another process holds, and
   * refusing with `NodeIdInUseError` if that process renews it), and starts renewing. A bus whose start
   * failed is closed.
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

  async claimDevice(userId: number, device: string, maxDevices: number): Promise<DeviceClaim> {
    this.#assertRunning("claimDevice");
    return await this.#presence.claimDevice(userId, device, maxDevices);
  }

  /** Never rejects: an unconfirmed release is retried with the lease renewals. */
  async releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }> {
    // Closing drops every claim of this node at once.
    if (this.#closing || !this.#started) return { lastDevice: false };
    return await this.#presence.releaseDevice(userId, device);
  }

  async onlineUsers(ids: number[]): Promise<Set<number>> {
    this.#assertRunning("onlineUsers");
    return await this.#presence.onlineUsers(ids);
  }

  async subscribe(userId: number): Promise<void> {
    this.#assertRunning("subscribe");
    await this.#receiver.subscribe(userId);
  }

  /** Never rejects: frames that still arrive are dropped, and end the subscription. */
  async unsubscribe(userId: number): Promise<void> {
    if (this.#closing || !this.#started) return;
    await this.#receiver.unsubscribe(userId);
  }

  /** Best effort: a failure (Redis unreachable) is counted in `counters.publishFailures` and logged. */
  async publish(message: BusMessage): Promise<void> {
    this.#assertRunning("publish");
    await this.#publisher.publish(message);
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
   * Stops receiving frames first, then releases this node's devices and lease, then closes both
   * connections. Idempotent; never rejects.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed.abort();
      clearInterval(this.#renewTimer);
      await closeConnection(this.#sub);
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
