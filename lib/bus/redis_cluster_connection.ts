/**
 * The Redis bus's connections to a Redis Cluster: ioredis's cluster client, with the same fail-fast
 * behaviour as one server's connections (`redis_connection.ts`). The subscriber client keeps one sharded
 * subscriber connection per master (SSUBSCRIBE goes to the shard that owns the channel's slot), and
 * subscribes again by itself when slots move or a replica takes over.
 *
 * @module
 */
import { Cluster, type ClusterOptions } from "ioredis";
import { CONNECTION_DEFAULTS, MAX_RECONNECT_DELAY_MS } from "./redis_connection.ts";
import { parseClusterUrl } from "./redis_cluster_url.ts";

/**
 * How often the subscriber client reads the slot map: for at most this long after a reshard, the frames of
 * the moved slots miss live delivery (they are stored, and fetched at the next sync).
 */
const SLOTS_REFRESH_MS = 1000;

/** Options for {@linkcode openClusterConnection}. */
export interface ClusterConnectionOptions {
  /** Shown in Redis's CLIENT LIST. */
  connectionName: string;
  /** For the subscriber client: one sharded subscriber connection per master, for SSUBSCRIBE. */
  shardedSubscribers?: boolean;
}

/**
 * A lazy cluster client for `url` (`redis-cluster://…`, see `redis_cluster_url.ts`) that fails fast.
 *
 * @example
 * ```ts
 * import { openClusterConnection } from "./redis_cluster_connection.ts";
 *
 * const cluster = openClusterConnection("redis-cluster://127.0.0.1:7000,127.0.0.1:7001", {
 *   connectionName: "n1:cmd",
 * });
 * await cluster.connect();
 * ```
 */
export function openClusterConnection(url: string, options: ClusterConnectionOptions): Cluster {
  const { nodes, username, password } = parseClusterUrl(url);
  const clusterOptions: ClusterOptions = {
    lazyConnect: true,
    enableOfflineQueue: false,
    shardedSubscribers: options.shardedSubscribers ?? false,
    // When a slot moves to another master (a reshard), Redis drops the sharded subscriptions of its
    // channels with no reply the client would notice: only a fresh slot map does, after which the
    // subscriber group subscribes again on the new owner. Commands learn of a move from MOVED replies.
    slotsRefreshInterval: options.shardedSubscribers ? SLOTS_REFRESH_MS : undefined,
    // No enableAutoPipelining: it picks a command's slot from its first argument, which for EVALSHA is the
    // script's SHA, not a key, and fails the batch with "All keys in the pipeline should belong to…".
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, MAX_RECONNECT_DELAY_MS),
    redisOptions: { ...CONNECTION_DEFAULTS, connectionName: options.connectionName, username, password },
  };
  return new Cluster(nodes, clusterOptions);
}
