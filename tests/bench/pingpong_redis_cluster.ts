/**
 * `pingpong --cluster --redis-cluster`: two clusters of this checkout (MariaDB, two nodes, nginx), one whose
 * bus is one Redis and one whose bus is a Redis Cluster (three masters, a replica each), measured in
 * interleaved rounds like `--ceiling` so that both see the same machine. The figures: the ratio of their
 * median rates, Redis Cluster / one Redis, and the SPUBLISHes per second each master served in the Redis
 * Cluster's windows (from the difference of `cmdstat_spublish` in `INFO commandstats`).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { interleavedRounds, medianRow, type Side, stalledNotes } from "./pingpong_ceiling.ts";
import { loginPairs, PingPong, WINDOW_HEADERS } from "./pingpong.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { fmtInt, type ScenarioResult } from "./report.ts";
import { median } from "./stats.ts";
import { startTarget, type Target } from "./target.ts";
import { tlsRoundOrder } from "./pingpong_tls.ts";

type Name = "redis" | "redis-cluster";

function across(side: Side<Name>): string {
  const { across, known } = side.engine.acrossNodes();
  return `${across}/${known}`;
}

/** The first side alternates round by round (see `tlsRoundOrder`). */
function roundOrder(round: number): [Name, Name] {
  return tlsRoundOrder(round)[0] === "plain" ? ["redis", "redis-cluster"] : ["redis-cluster", "redis"];
}

/**
 * A process watch that also reads how many SPUBLISHes each master served during each measured window
 * (its `start` and `stop` bracket the window), as publishes per second by master.
 */
class ShardWatch extends ProcessWatch {
  readonly perWindow: Map<string, number>[] = [];
  #before = new Map<string, number>();
  #started = 0;

  constructor(readonly target: Target) {
    super(target.watch.map((process) => ({ ...process, name: `cluster ${process.name}` })));
  }

  override async start(): Promise<void> {
    this.#before = await this.target.redisCommandCalls!("spublish");
    this.#started = performance.now();
    await super.start();
  }

  override async stop(): Promise<ProcessUsage[]> {
    const usage = await super.stop();
    const seconds = (performance.now() - this.#started) / 1000;
    const after = await this.target.redisCommandCalls!("spublish");
    this.perWindow.push(
      new Map([...after].map(([node, calls]) => [node, (calls - (this.#before.get(node) ?? 0)) / seconds])),
    );
    return usage;
  }
}

async function side(
  name: Name,
  target: Target,
  options: BenchOptions,
  watch: ProcessWatch,
): Promise<Side<Name>> {
  const users = await target.prepareUsers(options.pairs * 2, "cheap");
  return {
    name,
    engine: new PingPong(
      await loginPairs(users, target.endpoints, { v1: false, sequential: true }),
      users,
      { v1: false, msgBytes: options.msgBytes, rate: options.rate },
    ),
    watch,
    windows: [],
    stalled: 0,
  };
}

/** The `pingpong --cluster --redis-cluster` scenario. */
export async function pingpongOnRedisCluster(options: BenchOptions): Promise<ScenarioResult> {
  await using redisTarget = await startTarget(options);
  await using clusterTarget = await startTarget(options, { redisCluster: true });
  const shards = new ShardWatch(clusterTarget);
  const sides: Record<Name, Side<Name>> = {
    redis: await side(
      "redis",
      redisTarget,
      options,
      new ProcessWatch(redisTarget.watch.map((process) => ({ ...process, name: `redis ${process.name}` }))),
    ),
    "redis-cluster": await side("redis-cluster", clusterTarget, options, shards),
  };
  const rows = await interleavedRounds(sides, roundOrder, options);
  const rates = (side: Side<Name>) => side.windows.map((w) => w.messagesPerSecond);
  const ratio = median(rates(sides["redis-cluster"])) / median(rates(sides.redis));
  const byRound = rates(sides["redis-cluster"]).map((rate, round) => rate / rates(sides.redis)[round]);
  for (const side of [sides.redis, sides["redis-cluster"]]) rows.push(medianRow(side));
  rows.push(["redis-cluster / redis", `${ratio.toFixed(2)}x`, "", "", "", "", "", "", "", ""]);
  // A master that failed over mid-run would change the names: the medians go by the last window's masters.
  const masters = [...(shards.perWindow.at(-1)?.keys() ?? [])].sort();
  const perShard = masters.map((node) => ({
    node,
    publishesPerSecond: median(shards.perWindow.map((window) => window.get(node) ?? 0)),
  }));
  const stalled = stalledNotes([sides.redis, sides["redis-cluster"]]);
  return {
    title: `pingpong — ${options.pairs} pairs across 2 nodes, one Redis against a Redis Cluster`,
    headers: WINDOW_HEADERS,
    rows,
    notes: [
      `One Redis: ${redisTarget.description}. Redis Cluster: ${clusterTarget.description}. Both this checkout, ` +
      `every message stored in MariaDB before its ACK; users log in through nginx one at a time (least_conn ` +
      `alternates nodes). Pairs across nodes: one Redis ${across(sides.redis)}, Redis Cluster ${
        across(sides["redis-cluster"])
      }.`,
      `${options.pairs} pairs each, ${options.msgBytes}-character messages, ${
        options.rate ? `paced at ${options.rate} messages/s per pair` : "closed loop"
      }; ${options.repeats} interleaved rounds (the first side alternates), ${options.warmup} s warm-up and ` +
      `${options.duration} s measured per side and round.`,
      `Redis Cluster / one Redis (median rates): ${ratio.toFixed(2)}x; by round: ${
        byRound.map((r) => `${r.toFixed(2)}x`).join(", ")
      }.`,
      `SPUBLISH/s per shard (median of the Redis Cluster's windows, INFO commandstats): ${
        perShard.map(({ node, publishesPerSecond }) => `${node} ${fmtInt(publishesPerSecond)}`).join(", ")
      }.`,
      ...stalled,
    ],
    data: {
      redis: {
        target: redisTarget.description,
        serverArgs: redisTarget.serverArgs,
        windows: sides.redis.windows,
      },
      redisCluster: {
        target: clusterTarget.description,
        serverArgs: clusterTarget.serverArgs,
        windows: sides["redis-cluster"].windows,
        spublishPerSecondByWindow: shards.perWindow.map((window) => Object.fromEntries(window)),
      },
      ratio,
      byRound,
      perShard,
    },
    failed: stalled.length > 0 ? stalled.join("; ") : undefined,
  };
}
