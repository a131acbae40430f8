/**
 * The social suite across two `main.ts` nodes sharing a MariaDB and a Redis Cluster (three masters, a replica
 * each): the actor and the user it concerns are on different nodes, and the users' channels and presence on
 * different shards.
 */
import { twoNodesOnRedisClusterPerFile } from "./harness/two_nodes_on_redis_cluster.ts";
import { socialSuite } from "./social_suite.ts";

socialSuite("Redis Cluster", twoNodesOnRedisClusterPerFile().start);
