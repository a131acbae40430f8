/**
 * A private, throw-away Redis Cluster for tests and benches: three masters with a replica each, on free ports
 * of 127.0.0.1, no persistence, every node's files in one temp folder.
 *
 * @module
 */

import { eventually } from "./eventually.ts";
import { freePort } from "./free_port.ts";
import { ping } from "./redis.ts";
import { requireProgram } from "./required_program.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir, removeTempDir } from "./temp_dir.ts";

const NODES = 6;
const READY_TIMEOUT = 20_000;
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
    const port = this.ports.find((port) => this.#processes.get(port)?.running);
    if (port === undefined) throw new Error("no node of the cluster is running");
    const nodes = await this.#redisCli(["-p", String(port), "cluster", "nodes"]);
    return nodes.split("\n")
      .filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line))
      .map((line) => Number(line.split(" ")[1].split("@")[0].split(":")[1]));
  }

  /** The replicas now, each with the client port of its master (asked of a running node). */
  async replicas(): Promise<{ port: number; master: number }[]> {
    const port = this.ports.find((port) => this.#processes.get(port)?.running);
    if (port === undefined) throw new Error("no node of the cluster is running");
    const lines = (await this.#redisCli(["-p", String(port), "cluster", "nodes"])).split("\n")
      .filter(Boolean).map((line) => line.split(" "));
    const portOf = (fields: string[]) => Number(fields[1].split("@")[0].split(":")[1]);
    const byId = new Map(lines.map((fields) => [fields[0], portOf(fields)]));
    return lines.filter((fields) => /\bslave\b/.test(fields[2]) && !/\bfail\b/.test(fields[2]))
      .map((fields) => ({ port: portOf(fields), master: byId.get(fields[3])! }));
  }

  /**
   * Moves `slot` and its keys to the master on `toPort`, as `redis-cli --cluster reshard` does slot by slot:
   * IMPORTING / MIGRATING, MIGRATE of its keys, then the new owner announced to every master.
   */
  async moveSlot(slot: number, toPort: number): Promise<void> {
    const fromPort = await this.masterOf(slot);
    if (fromPort === toPort) return;
    const cli = (port: number, ...args: string[]) => this.#redisCli(["-p", String(port), ...args]);
    const [fromId, toId] =
      (await Promise.all([cli(fromPort, "cluster", "myid"), cli(toPort, "cluster", "myid")]))
        .map((id) => id.trim());
    await cli(toPort, "cluster", "setslot", String(slot), "importing", fromId);
    await cli(fromPort, "cluster", "setslot", String(slot), "migrating", toId);
    while (true) {
      const keys = (await cli(fromPort, "cluster", "getkeysinslot", String(slot), "100")).split("\n").filter(
        Boolean,
      );
      if (keys.length === 0) break;
      await cli(fromPort, "migrate", "127.0.0.1", String(toPort), "", "0", "5000", "keys", ...keys);
    }
    for (const port of await this.masters()) {
      await cli(port, "cluster", "setslot", String(slot), "node", toId);
    }
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
    const port = this.ports.find((port) => this.#processes.get(port)?.running);
    if (port === undefined) throw new Error("no node of the cluster is running");
    const nodes = await this.#redisCli(["-p", String(port), "cluster", "nodes"]);
    for (const line of nodes.split("\n")) {
      const fields = line.split(" ");
      if (!/\bmaster\b/.test(fields[2] ?? "") || /\bfail\b/.test(fields[2])) continue;
      const owns = fields.slice(8).some((range) => {
        const [from, to = from] = range.split("-").map(Number);
        return from <= slot && slot <= to;
      });
      if (owns) return Number(fields[1].split("@")[0].split(":")[1]);
    }
    throw new Error(`no master serves slot ${slot}`);
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
    const output = await new Deno.Command(this.#cli, { args: ["-h", "127.0.0.1", ...args], stdin: "null" })
      .output();
    const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    if (!output.success) throw new Error(`redis-cli ${args.join(" ")} failed: ${text}`);
    return text;
  }
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
