/**
 * The publishing side of the Redis bus: one PUBLISH per frame on the command connection, so frames from
 * this node to one user keep their order. The PUBLISHes asked for in one turn of the event loop (a committed
 * batch of chat messages fans out at once) go in one script run ({@linkcode PUBLISH_ALL}): one command, one
 * socket write and one reply for all of them instead of one each, which is most of what a publish costs this
 * process and Redis. Best effort (see `Broker` in `bus.ts`): a PUBLISH that fails
 * (Redis down, a command timeout) is counted and logged, never retried and never thrown to the caller;
 * the frame is in the store already, and the other nodes' devices fetch it at their next sync.
 *
 * @module
 */
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { BusCounters, BusMessage } from "./bus.ts";
import type { RedisClient } from "./redis_connection.ts";
import { PUBLISH_ALL } from "./redis_scripts.ts";
import { userChannel } from "./redis_wire.ts";

/**
 * Frames one script run publishes at most. Redis serves no other client while a script runs, so a turn that
 * fans out to thousands of users (a large group) is several runs, between which other commands get a turn.
 */
export const FRAMES_PER_SCRIPT = 500;
/** A failing Redis is logged at most this often: an outage would otherwise log every message. */
const FAILURE_LOG_EVERY_MS = 10_000;

/** Options for {@linkcode Publisher}. */
export interface PublisherOptions {
  /** The command connection. */
  cmd: RedisClient;
  /** This process's token, which starts every payload (`redis_wire.ts`). */
  token: string;
  /** Prefix of every channel. */
  keyPrefix: string;
  /** The bus's counters: `published` and `publishFailures` are this class's. */
  counters: BusCounters;
  /**
   * On a Redis Cluster: SPUBLISH (sharded pub/sub, delivered within the shard that owns the channel's
   * slot) instead of PUBLISH, which a cluster broadcasts to every node.
   */
  sharded?: boolean;
  /** Where failures go. */
  log: Logger;
}

/**
 * Publishes frames for the other nodes.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { Publisher } from "./redis_publisher.ts";
 *
 * const publisher = new Publisher({
 *   cmd: new Redis("redis://127.0.0.1:6380"),
 *   token: crypto.randomUUID(),
 *   keyPrefix: "chat:",
 *   counters: { published: 0, publishFailures: 0, received: 0 },
 *   log: new Logger(),
 * });
 * await publisher.publish({ userId: 7, frame: '{"msgid":6}' });
 * ```
 */
export class Publisher {
  readonly #options: PublisherOptions;
  #failureLoggedAt = -Infinity;
  /** Frames asked for in this turn, sent together once its microtasks ran. */
  #queue: { message: BusMessage; done: () => void }[] = [];

  /** Nothing is sent before the first call. */
  constructor(options: PublisherOptions) {
    this.#options = options;
  }

  /** Resolves once Redis took the frame, or the failure was counted; never rejects. */
  publish(message: BusMessage): Promise<void> {
    return new Promise((done) => {
      this.#queue.push({ message, done });
      if (this.#queue.length === 1) queueMicrotask(() => this.#send());
    });
  }

  /**
   * Sends what was queued in one script ({@linkcode PUBLISH_ALL}), which publishes the frames in order; a
   * failure of the script is a failure of each of its frames.
   *
   * EVAL with the script's text every time, never EVALSHA: after a Redis restart (script cache empty) an
   * EVALSHA fails with NOSCRIPT, and while its fallback EVAL is on its way the next turn's EVALSHA can
   * succeed (another node loaded the script meanwhile), publishing a later message first. The text is
   * some 70 bytes per turn.
   */
  async #send(): Promise<void> {
    const queued = this.#queue;
    this.#queue = [];
    if (this.#options.sharded) return await this.#sendSharded(queued);
    const { cmd, token, keyPrefix } = this.#options;
    // All runs are sent before any reply is awaited: one connection keeps them, and so the frames, in order.
    const runs: Promise<unknown>[] = [];
    for (let start = 0; start < queued.length; start += FRAMES_PER_SCRIPT) {
      const slice = queued.slice(start, start + FRAMES_PER_SCRIPT);
      const channels = slice.map(({ message }) => userChannel(keyPrefix, message.userId));
      const payloads = slice.map(({ message }) => token + message.frame);
      runs.push(cmd.call("EVAL", [PUBLISH_ALL.lua, channels.length, ...channels, ...payloads]));
    }
    const results = await Promise.allSettled(runs);
    queued.forEach(({ message, done }, i) => {
      const result = results[Math.floor(i / FRAMES_PER_SCRIPT)];
      if (result.status === "rejected") this.#failed(message, result.reason);
      else this.#options.counters.published++;
      done();
    });
  }

  /**
   * One SPUBLISH per frame: a cluster's pipeline must stay on one node, and the frames of one turn are
   * for users on every shard. One user's frames go to one node over one connection, so they keep their
   * order.
   */
  async #sendSharded(queued: { message: BusMessage; done: () => void }[]): Promise<void> {
    const { cmd, token, keyPrefix } = this.#options;
    const results = await Promise.allSettled(
      queued.map(({ message }) =>
        cmd.spublish(userChannel(keyPrefix, message.userId), token + message.frame)
      ),
    );
    for (let i = 0; i < queued.length; i++) {
      const result = results[i];
      if (result.status === "rejected") this.#failed(queued[i].message, result.reason);
      else this.#options.counters.published++;
      queued[i].done();
    }
  }

  #failed(message: BusMessage, error: unknown): void {
    const { counters, log } = this.#options;
    counters.publishFailures++;
    const now = performance.now();
    if (now - this.#failureLoggedAt < FAILURE_LOG_EVERY_MS) return;
    this.#failureLoggedAt = now;
    log.warn("bus publish failed; other nodes' devices get the frame at their next sync", {
      user: message.userId,
      failures: counters.publishFailures,
      error: describeError(error),
    });
  }
}
