/**
 * The log lines of a Redis Cluster client's outages. One server's connection is up or down
 * (`watchConnection` in `redis_connection.ts`); a cluster client stays "ready" while one master is dead,
 * and its own `error` events ("Connection is closed.") name no node. So this watcher says which node became
 * unreachable, once, and when every slot has a reachable master again (the replica took over, or the node
 * came back), with how long that took. Losing every node at once is logged like one server's outage.
 *
 * @module
 */
import type { Cluster } from "ioredis";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";

/** Options for {@linkcode watchCluster}. */
export interface WatchClusterOptions {
  /** Which of the bus's clients this is ("command", "subscriber"). */
  name: string;
  /** The cluster's URL for the log, password redacted. */
  redactedUrl: string;
  log: Logger;
  /** The clock (tests). */
  now?: () => number;
}

/**
 * Logs the start and the end of each outage of `cluster` (see the module's documentation), not every
 * reconnect attempt.
 *
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { openClusterConnection } from "./redis_cluster_connection.ts";
 * import { watchCluster } from "./redis_cluster_watch.ts";
 *
 * const url = "redis-cluster://127.0.0.1:7000,127.0.0.1:7001";
 * const cluster = openClusterConnection(url, { connectionName: "n1:cmd" });
 * watchCluster(cluster, { name: "command", redactedUrl: url, log: new Logger() });
 * ```
 */
export function watchCluster(cluster: Cluster, options: WatchClusterOptions): void {
  const { name, redactedUrl, log } = options;
  const now = options.now ?? Date.now;
  /** Masters of the slot map that failed, with when they were first seen failing. */
  const unreachable = new Map<string, number>();
  /**
   * Masters lost in an outage that is over, with when it ended: for a while a node that has not yet heard of
   * the failover may still hand out a slot map naming them, and their errors then are no new outage.
   */
  const replaced = new Map<string, number>();
  let allLost = false;

  const onNodeError = (error: Error, node: string) => {
    // A node that serves no slot (a replica, or a dead master the slot map no longer lists) costs nothing:
    // the cluster client keeps trying it in the background.
    if (unreachable.has(node) || !slotMasters(cluster).has(node)) return;
    if (now() - (replaced.get(node) ?? -Infinity) < STALE_MAP_MS) return;
    replaced.delete(node);
    unreachable.set(node, now());
    log.warn("bus cluster master unreachable; its slots wait for a failover or its return", {
      conn: name,
      node,
      url: redactedUrl,
      error: describeError(error),
    });
  };
  // "node error": the command client's connections and its slot refreshes; "nodeError": the sharded
  // subscribers (one per master).
  cluster.on("node error", onNodeError);
  cluster.on("nodeError", onNodeError);

  cluster.on("refresh", () => {
    if (unreachable.size === 0) return;
    const masters = slotMasters(cluster);
    if (!servesEverySlot(cluster) || [...unreachable.keys()].some((node) => masters.has(node))) return;
    log.info("bus cluster recovered: every slot has a reachable master", {
      conn: name,
      lost: [...unreachable.keys()].join(","),
      masters: [...masters].sort().join(","),
      downMs: now() - Math.min(...unreachable.values()),
    });
    for (const node of unreachable.keys()) replaced.set(node, now());
    unreachable.clear();
  });

  // The whole cluster: every node lost, then connected again (as one server's connection).
  cluster.on("error", (error: Error) => {
    // While "ready", an error is one node's (logged above by name).
    if (cluster.status === "ready" || allLost) return;
    allLost = true;
    log.warn("bus connection error", { conn: name, url: redactedUrl, error: describeError(error) });
  });
  cluster.on("reconnecting", () => {
    if (allLost) return;
    allLost = true;
    log.warn("bus connection lost", { conn: name, url: redactedUrl });
  });
  cluster.on("ready", () => {
    if (!allLost) return;
    allLost = false;
    unreachable.clear();
    log.info("bus reconnected", { conn: name });
  });
}

/** How long after a recovery a stale slot map may still name a lost master (a few node timeouts). */
const STALE_MAP_MS = 60_000;

/** The masters of the client's slot map (the first node listed for each slot). */
function slotMasters(cluster: Cluster): Set<string> {
  const masters = new Set<string>();
  for (const nodes of cluster.slots) if (nodes?.[0]) masters.add(nodes[0]);
  return masters;
}

/** Redis Cluster has 16384 slots; the client's map lists a master for each while the cluster is whole. */
const SLOTS = 16384;

function servesEverySlot(cluster: Cluster): boolean {
  for (let slot = 0; slot < SLOTS; slot++) if (!cluster.slots[slot]?.[0]) return false;
  return true;
}
