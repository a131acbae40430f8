/**
 * One MariaDB and one Redis Cluster (three masters, a replica each) for a whole test file, and two `main.ts`
 * nodes on them for every test ({@linkcode TwoNodeEnv}): what the conversation and social suites need to run
 * across nodes on a Redis Cluster. The services start in a `beforeAll` hook (see `mariadb_fixture.ts` for why);
 * every test gets a database of its own and an emptied cluster, so that ids, seqs and presence start afresh.
 *
 * @module
 */

import { mariaDbPerFile } from "./mariadb_fixture.ts";
import { RedisCluster } from "./redis_cluster.ts";
import { TwoNodeEnv } from "./two_node_env.ts";

/** What {@linkcode twoNodesOnRedisClusterPerFile} returns. */
export interface TwoNodesOnRedisCluster {
  /** Two nodes on a fresh database and the emptied cluster. */
  start(): Promise<TwoNodeEnv>;
  /** The file's Redis Cluster (once the hook has run). */
  cluster(): RedisCluster;
}

/**
 * Registers the hooks (call it once, at the top level of a test file).
 *
 * @example
 * ```ts ignore
 * import { twoNodesOnRedisClusterPerFile } from "./harness/two_nodes_on_redis_cluster.ts";
 *
 * const { start } = twoNodesOnRedisClusterPerFile();
 * Deno.test("a test across two nodes", async () => {
 *   await using env = await start();
 *   const [p1, p2] = env.ports;
 * });
 * ```
 */
export function twoNodesOnRedisClusterPerFile(): TwoNodesOnRedisCluster {
  const mariadb = mariaDbPerFile();
  let started: RedisCluster | undefined;
  let databases = 0;
  Deno.test.beforeAll(async () => {
    started = await RedisCluster.start();
  });
  Deno.test.afterAll(async () => {
    await started?.close();
  });
  const cluster = () => {
    if (!started) throw new Error("the Redis Cluster of this file did not start");
    return started;
  };
  return {
    cluster,
    async start() {
      const [mysqlUrl] = await Promise.all([
        mariadb().createDatabase(`redis_cluster_${++databases}`),
        cluster().flushAll(),
      ]);
      return await TwoNodeEnv.start({
        dirPrefix: "chat-two-nodes-redis-cluster-",
        mysqlUrl,
        redisUrl: cluster().url,
      });
    },
  };
}
