/**
 * The receiving side of the Redis bus: subscriptions to users' channels, and incoming frames handed to the
 * node's handler, except this node's own publishes (it delivered those to its sessions itself).
 *
 * @module
 */
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { BusCounters, BusHandler } from "./bus.ts";
import type { RedisClient } from "./redis_connection.ts";
import { TOKEN_LENGTH, userChannel } from "./redis_wire.ts";

/** As the connections' command timeout (`redis_connection.ts`). */
const REPLY_TIMEOUT_MS = 2000;

/** Options for {@linkcode Receiver}. */
export interface ReceiverOptions {
  /** The subscriber connection: SUBSCRIBE / UNSUBSCRIBE. */
  sub: RedisClient;
  /** This process's token: payloads that start with it are this node's own. */
  token: string;
  /** Prefix of every channel. */
  keyPrefix: string;
  /** The bus's counters: `received` is this class's. */
  counters: BusCounters;
  /** On a Redis Cluster: SSUBSCRIBE / SUNSUBSCRIBE (sharded pub/sub, see `Publisher`). */
  sharded?: boolean;
  /** Where failed handlers and unsubscribes go. */
  log: Logger;
  /** How long a SUBSCRIBE or UNSUBSCRIBE may wait for its reply (default 2000 ms, the commands' timeout). */
  replyTimeoutMs?: number;
}

/**
 * Subscriptions and incoming frames of one node. The owning bus routes the subscriber connection's
 * messages to {@linkcode Receiver.onMessage}, and calls `retryUnsubscribes` with every lease renewal.
 *
 * Failure behaviour: `subscribe` rejects while Redis is unreachable; `unsubscribe` never rejects: it is
 * retried until Redis confirms it, and frames that still arrive for the user are dropped.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { Receiver } from "./redis_receiver.ts";
 *
 * const sub = new Redis("redis://127.0.0.1:6380");
 * const receiver = new Receiver({
 *   sub,
 *   token: crypto.randomUUID(),
 *   keyPrefix: "chat:",
 *   counters: { published: 0, publishFailures: 0, received: 0 },
 *   log: new Logger(),
 * });
 * receiver.setHandler({ onMessage: (message) => console.log(message.frame) });
 * sub.on("message", receiver.onMessage);
 * await receiver.subscribe(7);
 * ```
 */
export class Receiver {
  readonly #sub: RedisClient;
  readonly #token: string;
  readonly #keyPrefix: string;
  readonly #counters: BusCounters;
  readonly #log: Logger;
  readonly #sharded: boolean;
  readonly #replyTimeoutMs: number;
  #handler: BusHandler | undefined;

  /** The users whose frames this node wants, by channel. */
  readonly #subscribed = new Map<string, number>();
  /** Channels whose unsubscription Redis has not confirmed: retried on every renewal. */
  readonly #pendingUnsubscribes = new Set<string>();

  /** Nothing is sent before the first call. */
  constructor(options: ReceiverOptions) {
    this.#sub = options.sub;
    this.#token = options.token;
    this.#keyPrefix = options.keyPrefix;
    this.#counters = options.counters;
    this.#log = options.log;
    this.#sharded = options.sharded ?? false;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
  }

  /** Where incoming frames go; without one they are dropped. */
  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  /** Starts receiving `userId`'s frames; rejects (and forgets the subscription) when Redis did not confirm it. */
  async subscribe(userId: number): Promise<void> {
    const channel = userChannel(this.#keyPrefix, userId);
    this.#subscribed.set(channel, userId);
    this.#pendingUnsubscribes.delete(channel);
    try {
      await this.#confirmed(this.#sharded ? this.#sub.ssubscribe(channel) : this.#sub.subscribe(channel));
    } catch (error) {
      // Not subscribed as far as the caller knows: frames that still come (the reply was lost) end it.
      this.#subscribed.delete(channel);
      throw error;
    }
  }

  /** Forgets the subscription at once; Redis is told now, or with a later retry. Never rejects. */
  async unsubscribe(userId: number): Promise<void> {
    const channel = userChannel(this.#keyPrefix, userId);
    this.#subscribed.delete(channel);
    await this.#dropSubscription(channel);
  }

  /** Tells Redis again about unsubscriptions it has not confirmed. Never rejects. */
  async retryUnsubscribes(): Promise<void> {
    if (this.#pendingUnsubscribes.size === 0 || this.#sub.status !== "ready") return;
    await Promise.all([...this.#pendingUnsubscribes].map((channel) => this.#dropSubscription(channel)));
  }

  /** Drops every subscription from memory (the connection is closed). */
  clear(): void {
    this.#subscribed.clear();
    this.#pendingUnsubscribes.clear();
  }

  /** The hot path: one comparison and one slice per frame. */
  readonly onMessage = (channel: string, payload: string): void => {
    if (payload.startsWith(this.#token)) return;
    const userId = this.#subscribed.get(channel);
    if (userId === undefined) {
      // A subscription that outlived its unsubscribe (say, re-established by a reconnect): end it.
      if (!this.#pendingUnsubscribes.has(channel)) void this.#dropSubscription(channel);
      return;
    }
    if (!this.#handler) return;
    this.#counters.received++;
    try {
      this.#handler.onMessage({ userId, frame: payload.slice(TOKEN_LENGTH) });
    } catch (error) {
      // Thrown inside ioredis's reply parser it would break the subscriber connection for every user.
      this.#log.error("bus handler failed", { user: userId, error: describeError(error) });
    }
  };

  /**
   * `reply`, or a rejection after {@linkcode ReceiverOptions.replyTimeoutMs}. ioredis's sharded subscriber
   * connections (one per master, made by its cluster client) have no command timeout and queue commands
   * while they are down: seen during a reshard, an SUNSUBSCRIBE never settled, the logout that awaited it
   * never released the device, and the user stayed logged in for good.
   */
  async #confirmed<T>(reply: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no reply from Redis within ${this.#replyTimeoutMs} ms`)),
        this.#replyTimeoutMs,
      );
    });
    try {
      return await Promise.race([reply, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #dropSubscription(channel: string): Promise<void> {
    this.#pendingUnsubscribes.add(channel);
    try {
      await this.#confirmed(this.#sharded ? this.#sub.sunsubscribe(channel) : this.#sub.unsubscribe(channel));
      // A new subscribe() after this one was sent later on the same connection, so it wins either way.
      this.#pendingUnsubscribes.delete(channel);
    } catch (error) {
      if (this.#subscribed.has(channel)) this.#pendingUnsubscribes.delete(channel);
      else this.#log.debug("bus unsubscribe failed; will retry", { channel, error: describeError(error) });
    }
  }
}
