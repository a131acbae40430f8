/**
 * A private, throw-away Redis Cluster for tests and benches: three masters with a replica each, on free ports
 * of 127.0.0.1, no persistence, every node's files in one temp folder. Slots move as an operator moves them,
 * with `redis-cli --cluster reshard`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { eventually } from "./eventually.ts";
import { freePort } from "./free_port.ts";
import { ping } from "./redis.ts";
import { requireProgram } from "./required_program.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";

const NODES = 6;
const READY_TIMEOUT = 20_000;
/** How `redis-cli --cluster reshard` ends when its own check of the cluster fails: it moved nothing. */
const REFUSED_BEFORE_MOVING = /Please fix your cluster problems before resharding/;
/** Redis's cluster bus listens on the client port plus this. */
const BUS_PORT_OFFSET = 10_000;

/** Options for {@linkcode RedisCluster.start}. */
export interface RedisClusterOptions {
  /** The server program to look up (default `redis-server`). */
  program?: string;
  /** The client program that creates the cluster (default `redis-cli`). */
  cli?: string;
}

/**
 * A Redis Cluster owned by the test process.
 *
 * @example
 * ```ts
 * await using cluster = await RedisCluster.start();
 * console.log(cluster.url); // redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...
 * ```
 */
export class RedisCluster implements AsyncDisposable {
  /** The client ports of the nodes, masters first (as created). */
  readonly ports: number[];
  /** `redis-cluster://127.0.0.1:P1,...`: every node is a seed. */
  readonly url: string;
  readonly #dir: string;
  readonly #processes = new Map<number, ServiceProcess>();
  readonly #cli: string;
  #closed: Promise<void> | null = null;

  private constructor(dir: string, ports: number[], cli: string) {
    this.#dir = dir;
    this.ports = ports;
    this.#cli = cli;
    this.url = `redis-cluster://${ports.map((port) => `127.0.0.1:${port}`).join(",")}`;
  }

  /**
   * Starts six nodes, joins them into a cluster of three masters with one replica each, and waits until
   * every node says `cluster_state:ok`. Rejects with a one-line `MissingProgramError` when Redis is not
   * installed.
   */
  static async start(options: RedisClusterOptions = {}): Promise<RedisCluster> {
    const server = await requireProgram(options.program ?? "redis-server", "redis-server");
    const cli = await requireProgram(options.cli ?? "redis-cli", "redis-tools");
    const dir = await makeTempDir("chat-redis-cluster-");
    const cluster = new RedisCluster(dir, clusterPorts(NODES), cli);
    try {
      await Promise.all(cluster.ports.map((port) => cluster.#launch(server, port)));
      await cluster.#redisCli([
        "--cluster",
        "create",
        ...cluster.ports.map((port) => `127.0.0.1:${port}`),
        "--cluster-replicas",
        "1",
        "--cluster-yes",
      ]);
      await cluster.waitUntilOk();
      return cluster;
    } catch (error) {
      await cluster.close();
      throw error;
    }
  }

  /**
   * Resolves once every running node reports `cluster_state:ok` and agrees on three masters, and every
   * replica has synced with its master (a replica that never did cannot take over).
   */
  async waitUntilOk(): Promise<void> {
    for (const port of this.ports) {
      if (!this.#processes.get(port)?.running) continue;
      await eventually(async () => {
        const info = await this.#redisCli(["-p", String(port), "cluster", "info"]);
        if (!/cluster_state:ok/.test(info) || !/cluster_size:3/.test(info)) return false;
        const replication = await this.#redisCli(["-p", String(port), "info", "replication"]);
        return /role:master/.test(replication) || /master_link_status:up/.test(replication);
      }, { timeoutMs: READY_TIMEOUT, what: `Redis Cluster node 127.0.0.1:${port} in state ok and synced` });
    }
  }

  /** The client ports of the nodes that are masters now (asked of a running node). */
  async masters(): Promise<number[]> {
    const masters = (await this.#clusterNodes()).filter((node) => node.master && !node.failed);
    return masters.map((node) => node.port);
  }

  /** The replicas now, each with the client port of its master (asked of a running node). */
  async replicas(): Promise<{ port: number; master: number }[]> {
    const nodes = await this.#clusterNodes();
    const byId = new Map(nodes.map((node) => [node.id, node.port]));
    return nodes.filter((node) => !node.master && !node.failed)
      .map((node) => ({ port: node.port, master: byId.get(node.masterId)! }));
  }

  /**
   * The slots the master on `port` serves now, ascending: the order in which `redis-cli --cluster reshard`
   * takes a source's slots.
   */
  async slotsOf(port: number): Promise<number[]> {
    const node = (await this.#clusterNodes()).find((node) => node.port === port && node.master);
    if (!node) throw new Error(`127.0.0.1:${port} is no master of the cluster`);
    return node.slots;
  }

  /**
   * Moves the first `slots` slots (see {@linkcode slotsOf}) of the master on `from`, or of every master but
   * `to` for `"all"` (shared by their slot counts), with their keys to the master on `to`, with the real
   * `redis-cli --cluster reshard`. Resolves with the slots it moved, in the order moved.
   */
  async reshard(from: number | "all", to: number, slots: number): Promise<number[]> {
    const id = (port: number) =>
      this.#redisCli(["-p", String(port), "cluster", "myid"]).then((id) => id.trim());
    const args = [
      "--cluster",
      "reshard",
      `127.0.0.1:${to}`,
      "--cluster-from",
      from === "all" ? "all" : await id(from),
      "--cluster-to",
      await id(to),
      "--cluster-slots",
      String(slots),
      "--cluster-yes",
    ];
    // The tool refuses (before moving anything) while the nodes disagree on the slot map, as they do for a
    // moment after a previous move, until the replicas heard of it: asked again until they agree.
    const output = await eventually(async () => {
      const output = await this.#runCli(args);
      return !output.success && REFUSED_BEFORE_MOVING.test(output.text) ? false : output;
    }, { what: "the cluster's nodes agreeing on the slot map for a reshard", timeoutMs: READY_TIMEOUT });
    if (!output.success) throw new Error(`redis-cli ${args.join(" ")} failed: ${output.text}`);
    return [...output.text.matchAll(/^Moving slot (\d+) from /gm)].map((match) => Number(match[1]));
  }

  /**
   * Moves `slot` to the master on `to` with {@linkcode reshard}: the tool takes a master's slots from the
   * first, so the slots before `slot` in its master's list move with it. Resolves with every slot moved.
   */
  async reshardThrough(slot: number, to: number): Promise<number[]> {
    const from = await this.masterOf(slot);
    if (from === to) return [];
    return await this.reshard(from, to, await this.reshardCost(slot));
  }

  /**
   * How many slots {@linkcode reshardThrough} moves to move `slot`: its place in its master's list, plus one
   * (from 1 to about 5,500 on a new cluster, a few seconds' work at the upper end).
   */
  async reshardCost(slot: number): Promise<number> {
    return (await this.slotsOf(await this.masterOf(slot))).indexOf(slot) + 1;
  }

  /** Deletes every key on every master (tests that share one cluster and start afresh). */
  async flushAll(): Promise<void> {
    await Promise.all((await this.masters()).map((port) => this.#redisCli(["-p", String(port), "flushall"])));
  }

  /** `INFO section` of the node on `port`, as Redis prints it (`field:value` lines). */
  info(port: number, section: string): Promise<string> {
    return this.#redisCli(["-p", String(port), "info", section]);
  }

  /** The hash slot of `key` (or of a channel: sharded pub/sub uses the same slots). */
  async keySlot(key: string): Promise<number> {
    const port = this.ports.find((port) => this.#processes.get(port)?.running);
    if (port === undefined) throw new Error("no node of the cluster is running");
    return Number(await this.#redisCli(["-p", String(port), "cluster", "keyslot", key]));
  }

  /** The client port of the master that serves `slot` now. */
  async masterOf(slot: number): Promise<number> {
    const node = (await this.#clusterNodes()).find((node) =>
      node.master && !node.failed && node.slots.includes(slot)
    );
    if (!node) throw new Error(`no master serves slot ${slot}`);
    return node.port;
  }

  /** Kills the node on `port` with SIGKILL (a crash: no shutdown, no failover handshake). */
  async kill(port: number): Promise<void> {
    await this.#processes.get(port)?.stop(0);
  }

  /** Stops every node and removes the temp folder. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      await Promise.all([...this.#processes.values()].map((process) => process.stop()));
      await removeTempDir(this.#dir);
    })();
    return this.#closed;
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #launch(binary: string, port: number): Promise<void> {
    const log = `${this.#dir}/redis-${port}.log`;
    const process = await ServiceProcess.spawn(binary, [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      `${this.#dir}/nodes-${port}.conf`,
      // A dead master is failed over after this long: short, so that fault tests stay fast.
      "--cluster-node-timeout",
      "1000",
      // A replica syncs at once (the default waits 5 s for more replicas), so it can take over early.
      "--repl-diskless-sync-delay",
      "0",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.#dir,
      "--logfile",
      log,
    ], log);
    this.#processes.set(port, process);
    await eventually(() => ping(port), {
      timeoutMs: READY_TIMEOUT,
      what: `Redis on 127.0.0.1:${port}`,
      process,
    });
  }

  /** Runs redis-cli with `args`; rejects with its output when it fails. */
  async #redisCli(args: string[]): Promise<string> {
    const output = await this.#runCli(args);
    if (!output.success) throw new Error(`redis-cli ${args.join(" ")} failed: ${output.text}`);
    return output.text;
  }

  /** Runs redis-cli with `args`: whether it succeeded, and its output (stdout, then stderr). */
  async #runCli(args: string[]): Promise<{ success: boolean; text: string }> {
    const output = await new Deno.Command(this.#cli, { args: ["-h", "127.0.0.1", ...args], stdin: "null" })
      .output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    return { success: output.success, text };
  }

  /** CLUSTER NODES as a running node sees it now. */
  async #clusterNodes(): Promise<ClusterNode[]> {
    const port = this.ports.find((port) => this.#processes.get(port)?.running);
    if (port === undefined) throw new Error("no node of the cluster is running");
    const text = await this.#redisCli(["-p", String(port), "cluster", "nodes"]);
    return text.split("\n").filter(Boolean).map(parseNode);
  }
}

/**
 * Asserts that the master on `port`, and no other, serves every one of `slots` (after a reshard to it).
 *
 * @example
 * ```ts ignore
 * await assertServedBy(cluster, await cluster.reshard(from, to, 10), to);
 * ```
 */
export async function assertServedBy(cluster: RedisCluster, slots: number[], port: number): Promise<void> {
  for (const master of await cluster.masters()) {
    const served = new Set(await cluster.slotsOf(master));
    const wrong = slots.filter((slot) => served.has(slot) !== (master === port));
    assert.deepEqual(wrong, [], `slots ${master === port ? "not" : "also"} served by 127.0.0.1:${master}`);
  }
}

/** One line of CLUSTER NODES. */
interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  /** Marked failed (`fail`) by the cluster. */
  failed: boolean;
  /** A replica's master (`-` for a master). */
  masterId: string;
  /** The slots served, ascending (a master's; migrating and importing marks left out). */
  slots: number[];
}

/** `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges...>` */
function parseNode(line: string): ClusterNode {
  const fields = line.split(" ");
  const slots = fields.slice(8).filter((range) => !range.startsWith("[")).flatMap((range) => {
    const [from, to = from] = range.split("-").map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
  return {
    id: fields[0],
    port: Number(fields[1].split("@")[0].split(":")[1]),
    master: /\bmaster\b/.test(fields[2]),
    failed: /\bfail\b/.test(fields[2]),
    masterId: fields[3],
    slots: slots.toSorted((a, b) => a - b),
  };
}

/** `count` distinct free ports whose cluster bus ports (port + 10000) are free too. */
function clusterPorts(count: number): number[] {
  const ports: number[] = [];
  while (ports.length < count) {
    const port = freePort();
    if (port + BUS_PORT_OFFSET > 65535 || ports.includes(port) || ports.includes(port + BUS_PORT_OFFSET)) {
      continue;
    }
    if (!canListen(port + BUS_PORT_OFFSET)) continue;
    ports.push(port);
  }
  return ports;
}

function canListen(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port }).close();
    return true;
  } catch {
    return false;
  }
}
