/**
 * The Redis bus's connections: how they are opened (fail fast, never queue), watched (one log line per
 * outage) and closed (without hanging on a server that is gone).
 *
 * @module
 */
import { type Cluster, Redis, type RedisOptions } from "ioredis";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";

/** A command that Redis does not answer within this time rejects (a hung connection, a partition). */
const COMMAND_TIMEOUT_MS = 2000;
const CONNECT_TIMEOUT_MS = 2000;
/** How long {@linkcode closeConnection} waits for the client's `end`. */
const END_TIMEOUT_MS = 2000;
/** Reconnect back-off: 100 ms more per attempt, at most this. */
export const MAX_RECONNECT_DELAY_MS = 1000;

/** One connection to one server or to one node of a cluster. */
export type RedisClient = Redis | Cluster;

/** What every bus connection shares, to one server or to a cluster's nodes. */
export const CONNECTION_DEFAULTS = {
  lazyConnect: true,
  enableOfflineQueue: false,
  // 0: commands in flight when the connection drops reject right then, and ioredis never sends them
  // again by itself: a late claim or PUBLISH would surprise callers that were told it failed.
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: CONNECT_TIMEOUT_MS,
} as const satisfies RedisOptions;

/** Options for {@linkcode openConnection}. */
export interface ConnectionOptions {
  /** Shown in Redis's CLIENT LIST. */
  connectionName: string;
  /** For the subscriber connection: ioredis subscribes again by itself after a reconnect. */
  autoResubscribe?: boolean;
}

/**
 * A lazy ioredis connection to `url` that fails fast: nothing waits for a connection that may never come
 * back, so callers hear of an outage at once, and nothing is sent twice behind the bus's back.
 *
 * @example
 * ```ts
 * import { openConnection } from "./redis_connection.ts";
 *
 * const redis = openConnection("redis://127.0.0.1:6380", { connectionName: "n1:cmd" });
 * await redis.connect();
 * ```
 */
export function openConnection(url: string, options: ConnectionOptions): Redis {
  const common: RedisOptions = {
    ...CONNECTION_DEFAULTS,
    retryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
  };
  return new Redis(url, { ...common, ...options });
}

/**
 * Logs the start and the end of each outage of `redis`, not every reconnect attempt. `redactedUrl` is
 * what the log shows: never the URL with its password.
 *
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { openConnection, watchConnection } from "./redis_connection.ts";
 *
 * const redis = openConnection("redis://127.0.0.1:6380", { connectionName: "n1:cmd" });
 * watchConnection(redis, { name: "command", redactedUrl: "redis://127.0.0.1:6380", log: new Logger() });
 * ```
 */
export function watchConnection(
  redis: RedisClient,
  { name, redactedUrl, log }: { name: string; redactedUrl: string; log: Logger },
): void {
  let down = false;
  redis.on("error", (error: Error) => {
    if (down) return;
    down = true;
    log.warn("bus connection error", { conn: name, url: redactedUrl, error: describeError(error) });
  });
  redis.on("reconnecting", () => {
    if (down) return;
    down = true;
    log.warn("bus connection lost", { conn: name, url: redactedUrl });
  });
  redis.on("ready", () => {
    if (!down) return;
    down = false;
    log.info("bus reconnected", { conn: name });
  });
}

/**
 * `quit()` when connected (pending replies arrive first), else `disconnect()`; resolves on `end`. While
 * reconnecting there is no socket, and ioredis never emits `end` from there: stopping the retries is all.
 * A cluster client whose every node is gone may not emit `end` either (its pool has nothing left to drain):
 * `disconnect()` has stopped its retries, and close stops waiting after {@linkcode END_TIMEOUT_MS}.
 *
 * @example
 * ```ts
 * import { closeConnection, openConnection } from "./redis_connection.ts";
 *
 * await closeConnection(openConnection("redis://127.0.0.1:6380", { connectionName: "n1:cmd" }));
 * ```
 */
export async function closeConnection(redis: RedisClient): Promise<void> {
  if (redis.status === "end") return;
  if (redis.status === "reconnecting") return redis.disconnect();
  const ended = new Promise<void>((resolve) => redis.once("end", () => resolve()));
  if (redis.status === "ready") {
    await redis.quit().catch(() => redis.disconnect());
  } else {
    redis.disconnect();
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<void>((resolve) => timer = setTimeout(resolve, END_TIMEOUT_MS));
  await Promise.race([ended, timedOut]);
  clearTimeout(timer);
}
