/**
 * The offline-store fence on Redis: `storing:{userId}` counts the offline stores for a user that some node
 * announced and has not ended; a login on any node waits while it exists.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { OfflineStoreFence } from "./bus.ts";
import { evalScript, STORING_BEGIN, STORING_END } from "./redis_scripts.ts";

/** An announced offline store of a node that died stops counting after this long. */
const STORING_TTL_MS = 10_000;
/** A login waits at most this long for other nodes' announced offline stores (a pool's acquire timeout). */
const STORING_WAIT_MS = 6_000;
/** How often a login looks again while stores are announced. */
const STORING_POLL_MS = 10;

/** Options for {@linkcode RedisOfflineFence}. */
export interface RedisOfflineFenceOptions {
  /** The command connection. */
  redis: Redis;
  /** Prefix of the counters: `{keyPrefix}storing:`. */
  storingPrefix: string;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
  /** True once the bus is closing: announcements end and waits stop. */
  closing: () => boolean;
}

/**
 * {@linkcode OfflineStoreFence} over counters in Redis. The owning bus checks that it runs before
 * `beginOfflineStore`; the other two never reject.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { RedisOfflineFence } from "./redis_offline_fence.ts";
 *
 * const redis = new Redis("redis://127.0.0.1:6380");
 * const fence = new RedisOfflineFence({
 *   redis,
 *   storingPrefix: "chat:storing:",
 *   log: new Logger(),
 *   closing: () => false,
 * });
 * await fence.beginOfflineStore([7]);
 * await fence.endOfflineStore([7]);
 * ```
 */
export class RedisOfflineFence implements OfflineStoreFence {
  readonly #options: RedisOfflineFenceOptions;

  /** Nothing is sent before the first call. */
  constructor(options: RedisOfflineFenceOptions) {
    this.#options = options;
  }

  async beginOfflineStore(userIds: number[]): Promise<void> {
    if (userIds.length === 0) return;
    await evalScript(this.#options.redis, STORING_BEGIN, {
      keys: userIds.map((id) => this.#key(id)),
      args: [STORING_TTL_MS],
    });
  }

  async endOfflineStore(userIds: number[]): Promise<void> {
    if (userIds.length === 0 || this.#options.closing()) return;
    await evalScript(this.#options.redis, STORING_END, { keys: userIds.map((id) => this.#key(id)), args: [] })
      .catch((error) =>
        this.#options.log.warn("bus could not end an offline store; it expires", {
          error: describeError(error),
        })
      );
  }

  async offlineStoresSettled(userId: number): Promise<void> {
    const { redis, log, closing } = this.#options;
    const deadline = performance.now() + STORING_WAIT_MS;
    try {
      while (!closing() && await redis.exists(this.#key(userId)) === 1) {
        if (performance.now() > deadline) {
          log.warn("bus gave up waiting for offline stores", { user: userId });
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, STORING_POLL_MS));
      }
    } catch (error) {
      // Redis is down: no other node can deliver to this user now either; the login goes on.
      log.warn("bus could not check offline stores", { user: userId, error: describeError(error) });
    }
  }

  #key(userId: number): string {
    return this.#options.storingPrefix + userId;
  }
}
