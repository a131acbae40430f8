/**
 * What a scenario runs against: a node the bench starts (embedded store), a cluster (MariaDB, Redis, two nodes,
 * nginx) or servers already running (`--endpoints`). Each knows where clients connect, which processes to
 * watch, and how to get users.
 *
 * @module
 */

import { ServerProcess } from "../harness/chat_node.ts";
import { freePort } from "../harness/free_port.ts";
import type { BenchOptions, Endpoint, Fault } from "./args.ts";
import { pidListeningOn, type WatchedProcess } from "./process_stats.ts";
import { note, progress } from "./report.ts";
import { type BenchUser, registerUsers, seedUsers } from "./users.ts";
import type { SoakView } from "./redis_cluster_faults.ts";

/** What a scenario runs against. */
export interface Target extends AsyncDisposable {
  /** One line for the report ("1 node, embedded SQLite on tmpfs"). */
  readonly description: string;
  /** Where A-side and B-side clients connect (the same endpoint twice on one node). */
  readonly endpoints: [Endpoint, Endpoint];
  /** Server-side processes whose CPU and memory are reported. */
  readonly watch: WatchedProcess[];
  /** The chat server's extra flags, for the report. */
  readonly serverArgs: string[];
  /** `/metrics` of the node, when it was asked for and the bench started the node. */
  readonly metricsUrl?: string;
  /**
   * Injects a fault into a cluster the bench started (`kill`: kill -9 of a node, then restarted on its port;
   * `mariadb`, `redis`: restarted; on a Redis Cluster `master`: kill -9 of a master, `reshard`: slots moved)
   * and resolves, once it is over, with what was done and how long it took, and why the run fails if the
   * fault's own check failed (presence not back within a lease). Absent for other targets.
   */
  injectFault?(fault: Fault, view: SoakView): Promise<{ report: string; failed?: string }>;
  /**
   * When the bus is a Redis Cluster: the calls of `command` (lower case, e.g. `spublish`) each master has
   * served so far, by `host:port` (from `INFO commandstats`), for publishes per shard.
   */
  redisCommandCalls?(command: string): Promise<Map<string, number>>;
  /**
   * One node the bench started: stops it with `signal` (SIGKILL: a crash; SIGTERM: a graceful stop) and starts
   * it again on its port and store, with `extraArgs` added to its flags; resolves once it listens again.
   * Absent for other targets.
   */
  restart?(signal: Deno.Signal, extraArgs?: string[]): Promise<void>;
  /** `count` users that can log in; `cost` applies where users are seeded rather than registered. */
  prepareUsers(count: number, cost: "real" | "cheap"): Promise<BenchUser[]>;
  /** How {@linkcode Target.prepareUsers} makes users at `cost`, for the report. */
  describeUsers(cost: "real" | "cheap"): string;
  close(): Promise<void>;
}

/** Options for {@linkcode startTarget} beyond the command line. */
export interface TargetNeeds {
  /** Connections the node must accept (raises --max-connections when above its default). */
  maxConnections?: number;
  /** Start the node with `--metrics-port` (V8 heap figures for the idle scenario). */
  metrics?: boolean;
  /** Live devices per user the nodes must allow (raises --max-devices when above its default). */
  maxDevices?: number;
  /**
   * Run the server of this source tree (`--baseline`: its `main.ts` with its own `deno.json`, the same
   * permissions and flags) instead of this checkout's, one node or a cluster of its own; its own store seeds
   * the users of one node.
   */
  tree?: { dir: string; label: string };
  /** One node only: serve TLS with these files; the endpoints carry the CA (`pingpong --tls`). */
  tls?: { cert: string; key: string; caCert: string };
  /**
   * One node only: its `--host` (`idle` listens on 0.0.0.0 to take connections to several 127.0.0.x); the
   * endpoints stay 127.0.0.1.
   */
  host?: string;
  /**
   * One node only: run it with `--inspect=127.0.0.1:PORT` (`idle` forces garbage collections through it before
   * reading the RSS).
   */
  inspectPort?: number;
  /** A cluster only: its bus is a Redis Cluster (three masters, a replica each) instead of one Redis. */
  redisCluster?: boolean;
}

/** The server's default `--max-devices` (PROTOCOL.md "Devices and resume tokens"). */
const DEFAULT_MAX_DEVICES = 5;

/**
 * Flags for the nodes the bench starts: the server's own rate limit unless `--rate-limit` says otherwise (the
 * limit shapes, so a scenario faster than it is slowed, never refused), and no idle timeout (idle connections
 * stay).
 */
function benchFlags(options: BenchOptions, needs: TargetNeeds): string[] {
  const flags = ["--log-level", "warn", "--idle-timeout", "86400"];
  if (options.rateLimit !== undefined) flags.push("--rate-limit", String(options.rateLimit));
  if ((needs.maxConnections ?? 0) > 19_000) {
    flags.push("--max-connections", String(needs.maxConnections! + 1000));
  }
  if ((needs.maxDevices ?? 0) > DEFAULT_MAX_DEVICES) flags.push("--max-devices", String(needs.maxDevices));
  return flags;
}

/** A started chat node: the harness's ServerProcess, or our own spawn when profiling. */
export interface Node {
  readonly port: number;
  readonly pid: number;
  stop(signal?: Deno.Signal): Promise<unknown>;
}

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/**
 * `main.ts` with extra runtime flags such as `--cpu-prof` or `--inspect` (the harness's ServerProcess has no
 * way to add them), with the permissions the harness gives the server. A CPU profile is written when the node
 * exits after SIGTERM. With `tree`, that tree's `main.ts` runs with its own `deno.json` (`--baseline`).
 *
 * @example
 * ```ts ignore
 * const node = await startNodeWith(["--inspect=127.0.0.1:9229"], ["--port", "0", "--db", ":memory:"], "node.log");
 * ```
 */
export async function startNodeWith(
  runtimeFlags: string[],
  args: string[],
  logFile: string,
  tree?: string,
): Promise<Node> {
  const log = await Deno.open(logFile, { create: true, append: true });
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(tree ? ["--config", `${tree}/deno.json`] : []),
      ...runtimeFlags,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      tree ? `${tree}/main.ts` : MAIN,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logged = child.stderr.pipeTo(log.writable).catch(() => {});
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 20_000);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`server exited before listening; see ${logFile}`);
      text += value;
      const match = text.match(/listening on (\S+):(\d+)/);
      if (!match) continue;
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      return {
        port: Number(match[2]),
        pid: child.pid,
        async stop(signal: Deno.Signal = "SIGTERM") {
          try {
            child.kill(signal);
          } catch {
            // Already exited.
          }
          const status = await child.status;
          await logged;
          return status;
        },
      };
    }
  } finally {
    clearTimeout(deadline);
  }
}

async function startNode(
  args: string[],
  logFile: string,
  options: BenchOptions,
  tree?: string,
  runtimeFlags: string[] = [],
): Promise<Node> {
  if (options.cpuProf) {
    await Deno.mkdir(options.cpuProf, { recursive: true });
    runtimeFlags = [...runtimeFlags, "--cpu-prof", `--cpu-prof-dir=${options.cpuProf}`];
  }
  // This checkout's server only: `--baseline HEAD --v8-flags …` then measures the flags and nothing else.
  if (options.v8Flags && !tree) runtimeFlags = [...runtimeFlags, `--v8-flags=${options.v8Flags}`];
  if (tree || runtimeFlags.length > 0) return await startNodeWith(runtimeFlags, args, logFile, tree);
  return await ServerProcess.start(args, logFile);
}

const REGISTERED = "registered over the protocol (REG: hashed at the server's scrypt cost)";

/** How seeded users are hashed, for the report. */
function seededAt(cost: "real" | "cheap"): string {
  return cost === "real"
    ? "seeded into the store, hashed at the server's scrypt cost (N=16384, about 40 ms per hash)"
    : "seeded into the store, hashed at a cheap scrypt cost (N=1024; the server reads the cost from the hash)";
}

function registrationProgress(done: number, total: number): void {
  progress(`registering users over the protocol (scrypt on the server, 8 in flight): ${done}/${total}`);
}

/**
 * One node with its embedded store in a temp SQLite file, users seeded into that file (a commit costs about
 * 0.2 ms on this disk, and nothing on the chat path writes); or, with `--store memory`, in `:memory:` with users
 * registered over the protocol.
 */
async function startSingle(options: BenchOptions, needs: TargetNeeds): Promise<Target> {
  // Deno grants /dev/shm only with --allow-all, so the file lives in the default temp dir.
  const dir = await Deno.makeTempDir({ prefix: "chat-bench-" });
  const dbPath = `${dir}/chat.db`;
  const logFile = `${dir}/node.log`;
  const memory = options.store === "memory";
  const metricsPort = needs.metrics ? freePort() : undefined;
  const serverArgs = [
    "--db",
    memory ? ":memory:" : dbPath,
    ...benchFlags(options, needs),
    ...(metricsPort ? ["--metrics-port", String(metricsPort)] : []),
    ...(needs.tls ? ["--tls-cert", needs.tls.cert, "--tls-key", needs.tls.key] : []),
    ...(needs.host ? ["--host", needs.host] : []),
  ];
  let node: Node;
  const watch: WatchedProcess[] = [];
  try {
    const inspect = needs.inspectPort ? [`--inspect=127.0.0.1:${needs.inspectPort}`] : [];
    node = await startNode(["--port", "0", ...serverArgs], logFile, options, needs.tree?.dir, inspect);
    watch.push({ name: "node", pid: node.pid });
  } catch (error) {
    note(await Deno.readTextFile(logFile).catch(() => ""));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
  const endpoint = {
    hostname: "127.0.0.1",
    port: node.port,
    ...(needs.tls ? { caCerts: [await Deno.readTextFile(needs.tls.caCert)] } : {}),
  };
  const who = needs.tree ? `${needs.tree.label}'s` : "the";
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await node.stop("SIGTERM");
      const log = (await Deno.readTextFile(logFile).catch(() => "")).trim();
      if (log) {
        note(`${who} server log (warnings and errors):\n${log.split("\n").slice(-20).join("\n")}`);
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  return {
    description: `1 node (${needs.tree ? `${needs.tree.label}'s ` : ""}main.ts, embedded SQLite ${
      memory ? "in :memory:" : "in a temp file"
    }${needs.tls ? ", TLS" : ""}${options.v8Flags && !needs.tree ? `, --v8-flags=${options.v8Flags}` : ""})`,
    endpoints: [endpoint, endpoint],
    watch,
    serverArgs,
    restart: async (signal) => {
      await node.stop(signal);
      node = await startNode(
        ["--port", String(endpoint.port), ...serverArgs],
        logFile,
        options,
        needs.tree?.dir,
      );
      watch[0] = { name: "node", pid: node.pid };
    },
    metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined,
    describeUsers: (cost) => memory ? REGISTERED : seededAt(cost),
    prepareUsers: (count, cost) =>
      memory
        ? registerUsers(endpoint, count, { onProgress: registrationProgress })
        : seedUsers(dbPath, count, {
          cost,
          tree: needs.tree?.dir,
          onProgress: (done, total) =>
            progress(`seeding ${total} users into the node's store (scrypt ${cost} cost): ${done}/${total}`),
        }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** MariaDB, Redis, two nodes and nginx in front; both client sides connect through nginx. */
async function startCluster(options: BenchOptions, needs: TargetNeeds): Promise<Target> {
  try {
    await Deno.stat(new URL("../../lib/bus/redis_bus.ts", import.meta.url));
  } catch {
    throw new Error("--cluster needs the Redis bus (lib/bus/redis_bus.ts), which does not exist yet");
  }
  const { MariaDbServer } = await import("../harness/mariadb.ts");
  const { RedisServer } = await import("../harness/redis.ts");
  const { RedisCluster } = await import("../harness/redis_cluster.ts");
  const { killBusiestMaster, reshardHalf } = await import("./redis_cluster_faults.ts");
  const { NginxServer } = await import("../harness/nginx.ts");
  const dir = await Deno.makeTempDir({ prefix: "chat-bench-cluster-" });
  const cleanup: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch((error) => note(`cleanup: ${error}`));
  };
  try {
    progress(`cluster: starting MariaDB and ${needs.redisCluster ? "a Redis Cluster" : "Redis"}`);
    const [db, redis] = await Promise.all([
      MariaDbServer.start(),
      needs.redisCluster ? RedisCluster.start() : RedisServer.start(),
    ]);
    cleanup.push(() => db.close(), () => redis.close());
    const serverArgs = ["--mysql", db.url, "--redis", redis.url, ...benchFlags(options, needs)];
    progress("cluster: starting two nodes");
    const nodes: Node[] = [];
    const nodeArgs = (id: string, port: number) => ["--port", String(port), "--node-id", id, ...serverArgs];
    for (const id of ["n1", "n2"]) {
      const node = await startNode(nodeArgs(id, 0), `${dir}/${id}.log`, options, needs.tree?.dir);
      const index = nodes.push(node) - 1;
      // By index: a node restarted by a fault is the one to stop.
      cleanup.push(() => nodes[index].stop("SIGTERM"));
    }
    progress("cluster: starting nginx");
    const nginx = await NginxServer.start({ upstreams: nodes.map((node) => `127.0.0.1:${node.port}`) });
    cleanup.push(() => nginx.close());
    cleanup.splice(0, 0, () => Deno.remove(dir, { recursive: true }));
    const watch: WatchedProcess[] = [{ name: "n1", pid: nodes[0].pid }, { name: "n2", pid: nodes[1].pid }];
    const redisPorts: [string, number][] = redis instanceof RedisCluster
      ? (await redis.masters()).map((port, i) => [`redis${i + 1}`, port])
      : [["redis", redis.port]];
    for (const [name, port] of [["nginx", nginx.port], ...redisPorts, ["mariadb", db.port]] as const) {
      const pid = await pidListeningOn(port);
      if (pid !== undefined) watch.push({ name, pid });
    }
    const endpoint = { hostname: "127.0.0.1", port: nginx.port };
    const injectFault = async (
      fault: Fault,
      view: SoakView,
    ): Promise<{ report: string; failed?: string }> => {
      const started = performance.now();
      const took = () => `${((performance.now() - started) / 1000).toFixed(1)} s`;
      if (fault === "mariadb") {
        await db.restart();
        return { report: `MariaDB restarted (SIGTERM, started again on its port and data) in ${took()}` };
      }
      if (redis instanceof RedisCluster) {
        if (fault !== "master" && fault !== "reshard") throw new Error(`--fault ${fault} needs one Redis`);
        const outcome = await (fault === "master" ? killBusiestMaster : reshardHalf)(redis, view);
        return {
          report: outcome.report,
          failed: outcome.presenceLate ? "presence not whole within a lease after the fault" : undefined,
        };
      }
      if (fault === "redis") {
        await redis.restart();
        return { report: `Redis restarted (SIGTERM, started again on its port, its data gone) in ${took()}` };
      }
      if (fault === "master" || fault === "reshard") {
        throw new Error(`--fault ${fault} needs a Redis Cluster`);
      }
      const victim = nodes[0];
      await victim.stop("SIGKILL");
      // The same id and port: nginx sends to it again, and it takes its id back once the old lease expired.
      nodes[0] = await startNode(nodeArgs("n1", victim.port), `${dir}/n1.log`, options, needs.tree?.dir);
      watch[0] = { name: "n1", pid: nodes[0].pid };
      return { report: `node n1 killed (SIGKILL) and started again on its port: back after ${took()}` };
    };
    return {
      description: `2 nodes${needs.tree ? ` of ${needs.tree.label}` : ""} (MariaDB + ${
        redis instanceof RedisCluster ? "Redis Cluster bus: 3 masters, 3 replicas" : "Redis bus"
      }) behind nginx (stream, least_conn)`,
      injectFault,
      redisCommandCalls: redis instanceof RedisCluster
        ? async (command) => {
          const calls = new Map<string, number>();
          for (const port of await redis.masters()) {
            const stats = await redis.info(port, "commandstats");
            calls.set(
              `127.0.0.1:${port}`,
              Number(stats.match(new RegExp(`cmdstat_${command}:calls=(\\d+)`))?.[1] ?? 0),
            );
          }
          return calls;
        }
        : undefined,
      endpoints: [endpoint, endpoint],
      watch,
      serverArgs: serverArgs.map((arg) => arg.replace(/\/\/[^@/]*@/, "//***@")),
      prepareUsers: (count) => registerUsers(endpoint, count, { onProgress: registrationProgress }),
      describeUsers: () => REGISTERED,
      close,
      [Symbol.asyncDispose]: close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Servers the user started; users are registered over the protocol. */
function external(options: BenchOptions): Target {
  const endpoints = options.endpoints!;
  const pair: [Endpoint, Endpoint] = [endpoints[0], endpoints[1] ?? endpoints[0]];
  const close = () => Promise.resolve();
  return {
    description: `running server(s) at ${endpoints.map((e) => `${e.hostname}:${e.port}`).join(", ")}`,
    endpoints: pair,
    watch: options.pids.map((pid, index) => ({
      name: options.pids.length > 1 ? `pid${index + 1}` : "server",
      pid,
    })),
    serverArgs: [],
    prepareUsers: (count) =>
      registerUsers(pair[0], count, { v1: options.v1, onProgress: registrationProgress }),
    describeUsers: () => REGISTERED,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Targets not yet closed: a scenario cut short by --timeout still has its servers stopped. */
const open = new Set<Target>();

/** Starts (or adopts) what the scenario runs against. */
export async function startTarget(options: BenchOptions, needs: TargetNeeds = {}): Promise<Target> {
  if (needs.tree && options.endpoints) {
    throw new Error("a baseline tree runs on servers the bench starts (no --endpoints)");
  }
  const target = options.endpoints
    ? external(options)
    : options.cluster
    ? await startCluster(options, needs)
    : await startSingle(options, needs);
  open.add(target);
  const close = async () => {
    open.delete(target);
    await target.close();
  };
  return { ...target, close, [Symbol.asyncDispose]: close };
}

/** Stops every target still open (after a scenario was abandoned). */
export async function closeAllTargets(): Promise<void> {
  await Promise.all([...open].map((target) => target.close().catch(() => {})));
  open.clear();
}
