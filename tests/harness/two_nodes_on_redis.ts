/**
 * One MariaDB for a whole test file, and for every test a Redis of its own with two `main.ts` nodes on them
 * ({@linkcode TwoNodeEnv}): the conversation and social suites across nodes on one Redis, as
 * `two_nodes_on_redis_cluster.ts` is on a Redis Cluster. Every test gets a database of its own and a fresh
 * Redis, so that ids, seqs and presence start afresh.
 *
 * @module
 */

import { mariaDbPerFile } from "./mariadb_fixture.ts";
import { RedisServer } from "./redis.ts";
import { TwoNodeEnv } from "./two_node_env.ts";

/**
 * Registers the file's MariaDB hooks (call it once, at the top level of a test file) and returns what starts
 * two nodes for a test; `name` prefixes the databases and the nodes' temp folders.
 *
 * @example
 * ```ts ignore
 * import { twoNodesOnRedisPerFile } from "./harness/two_nodes_on_redis.ts";
 *
 * const startCluster = twoNodesOnRedisPerFile("cluster");
 * Deno.test("a test across two nodes", async () => {
 *   await using env = await startCluster();
 *   const [p1, p2] = env.ports;
 * });
 * ```
 */
export function twoNodesOnRedisPerFile(name: string): () => Promise<TwoNodeEnv> {
  const mariadb = mariaDbPerFile();
  let databases = 0;
  return async () => {
    const [mysqlUrl, redis] = await Promise.all([
      mariadb().createDatabase(`${name}_${++databases}`),
      RedisServer.start(),
    ]);
    return await TwoNodeEnv.start({
      dirPrefix: `chat-${name}-`,
      mysqlUrl,
      redisUrl: redis.url,
      onClose: () => redis.close(),
    });
  };
}
