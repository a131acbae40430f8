/**
 * Command line of `deno task bench`: the scenario and its options, validated up front with messages that
 * name the bad flag and value.
 *
 * @module
 */

import { parseArgs } from "node:util";

export const SCENARIOS = [
  "pingpong",
  "login",
  "group",
  "idle",
  "storm",
  "pool",
  "soak",
  "tokens",
  "sync",
  "kick",
  "restart",
] as const;
export type Scenario = typeof SCENARIOS[number];

/** Faults the soak can inject into a cluster it started. */
export const FAULTS = ["kill", "mariadb", "redis", "master", "reshard"] as const;
export type Fault = typeof FAULTS[number];

/** Where clients connect: `host:port`. */
export interface Endpoint {
  hostname: string;
  port: number;
  /** The server speaks TLS with a certificate from this CA (PEM); `pingpong --tls` sets it. */
  caCerts?: string[];
}

/** Every option of every scenario (each scenario reads the ones it needs). */
export interface BenchOptions {
  scenario: Scenario;
  /** pingpong: pairs of users. */
  pairs: number;
  /** Measured seconds per repeat (pingpong, login, storm phases); soak: seconds of mixed traffic. */
  duration: number;
  /** Unmeasured seconds before the first measurement. */
  warmup: number;
  repeats: number;
  /** Target already-running servers instead of starting one (first: A side, second: B side). */
  endpoints: Endpoint[] | undefined;
  /** Pids of the --endpoints servers, to report their CPU and memory. */
  pids: number[];
  /** Speak protocol v1 (NUL-terminated, no v/cid): drives the C++ original. */
  v1: boolean;
  /**
   * pingpong, group, idle: also run the server of this commit (its tree from `git archive`), interleaved round by
   * round with the current one, and report the ratio. Undefined: the current server alone.
   */
  baseline: string | undefined;
  /** Start MariaDB + Redis + two nodes + nginx (pingpong across nodes). */
  cluster: boolean;
  /** pingpong: also run the ceiling relay, interleaved with the server, and report the ratio. */
  ceiling: boolean;
  /** pingpong: the same node with and without TLS, interleaved, and report the ratio. */
  tls: boolean;
  /**
   * With `--cluster`: the nodes' bus is a Redis Cluster (three masters, a replica each). pingpong: a cluster on
   * one Redis and one on a Redis Cluster, interleaved, and the ratio; soak: the run on a Redis Cluster.
   */
  redisCluster: boolean;
  /** login, storm: concurrent login workers. */
  workers: number;
  /** group, kick: members besides the sender. */
  members: number;
  /** group: measured messages (kick: before and after the kick each); sync: messages in the conversation. */
  messages: number;
  /** sync: messages per SYNC / HISTORY page. */
  page: number;
  /** group: messages in flight (not yet received by every member). */
  window: number;
  /** idle: logged-in idle connections. */
  connections: number;
  /** storm: chat pairs measured during the storm. */
  stormPairs: number;
  /** Messages per second per pair (0: closed loop, the next message leaves on receipt). */
  rate: number | undefined;
  /** The `--rate-limit` of the nodes the bench starts (the server's default when absent). */
  rateLimit: number | undefined;
  /** pool: inserts per run. */
  inserts: number;
  /** pool: concurrent workers, one run each. */
  poolWorkers: number[];
  /** soak: simulated users. */
  users: number;
  /** soak: devices per user, each a connection of its own. */
  devices: number;
  /** soak: some leaves are dropped connections with a send in flight, resent with the same cmid. */
  drops: boolean;
  /** soak --cluster: the fault injected in the middle of the run. */
  fault: Fault | undefined;
  /** Characters of chat text per message. */
  msgBytes: number;
  /** How seeded users' passwords are hashed: `real` (the server's cost) or `cheap` (scrypt N=1024). */
  hashCost: "real" | "cheap" | undefined;
  /** Store of the node the bench starts: a temp SQLite `file` (users seeded) or `memory` (users registered). */
  store: "file" | "memory";
  /** Directory for server CPU profiles (`deno run --cpu-prof`), or undefined. */
  cpuProf: string | undefined;
  /**
   * `--v8-flags` for the server of this checkout on one node (never a `--baseline` tree's), so that a V8 flag
   * is measured against the same code without it; undefined: none.
   */
  v8Flags: string | undefined;
  /** Give up on any scenario after this many seconds. */
  timeout: number;
  /** Where the JSON report goes. */
  out: string;
}

export const USAGE = `Usage: deno task bench <scenario> [options]

Scenarios:
  pingpong   P pairs A<->B, one message in flight per pair: messages/s and latency
  login      C workers looping connect, LOGIN, LOGINOUT, close: logins/s and latency
  group      one sender, G members: deliveries/s until every member received N messages
  idle       K logged-in idle connections (held by holder processes, over several 127.0.0.x when one
             address's ports do not suffice): server RSS per connection, and the chat latency of P paced
             pairs while they are held
  storm      chat latency of a few pairs, idle and during a login storm (p99 ratio)
  pool       10,000 MariaDB inserts: a new connection per insert vs our pool, 1 and 4 workers
  soak       N users (D devices each) chatting 1:1 and in groups while logging out and in: every
             acknowledged message must reach every device of its recipients once and in order (live,
             offline or by SYNC); exits 1 on a lost, duplicated or reordered one
  tokens     chat latency of a few pairs, idle and during a storm of token logins (logins/s, p99 ratio)
  sync       one conversation of M messages fetched whole with SYNC pages and with HISTORY pages
  kick       a group of G+1 (one sender): deliveries/s before and after its creator KICKs one member; the
             message after the kick must reach every other member and not the kicked one (exits 1 otherwise)
  restart    K devices online with resume tokens, kill -9 of the node, started again: time until all K are
             back (reconnects/s) and chat p99 of a few pairs idle, during the reconnect storm and after

Options (defaults in brackets):
  --pairs N              pingpong pairs; idle: active pairs beside the idle connections [100]
  --duration S           measured seconds per repeat [10; soak 30]
  --warmup S             unmeasured seconds first [2]
  --repeats N            measured windows [1] (pingpong --ceiling, --baseline: interleaved rounds; sync:
                         fetches each way; kick: runs before and after the kick each)
  --baseline COMMIT      pingpong, group, idle, tokens: also run the server of COMMIT (its tree from git
                         archive, its own deno.json), interleaved round by round with this one; reports
                         current / baseline (pingpong --cluster: a whole cluster of each, its own MariaDB,
                         Redis and nginx; tokens: each side's p99 ratio and logins/s, a new node per round)
  --endpoints H:P[,H:P]  use running servers (two: A side on the first, B side on the second)
  --pids PID[,PID]       pids of those servers, for their CPU and RSS
  --v1                   speak protocol v1 (NUL-terminated, no v/cid), e.g. against the C++ original
  --cluster              MariaDB + Redis + two nodes + nginx (pingpong: pairs across nodes; soak)
  --ceiling              pingpong: run the ceiling relay too, interleaved, and report server / ceiling
  --redis-cluster        with --cluster: a Redis Cluster (3 masters + 3 replicas) as the bus. pingpong: one
                         Redis and a Redis Cluster side by side, interleaved, with publishes/s per shard;
                         soak: the run on it (--fault master, reshard)
  --tls                  pingpong: the same node also with --tls-cert/--tls-key (a CA made with openssl),
                         interleaved, and report TLS / plain
  --workers C            login / storm / tokens concurrent login workers [20]
  --members G            group / kick members besides the sender [group 100, kick 999]
  --messages N           group messages measured (kick: before and after the kick each); sync messages in
                         the conversation [10000; kick 200]
  --page N               sync messages per SYNC / HISTORY page [1000]
  --window W             group messages in flight [1]
  --connections K        idle connections; restart devices [10000]; idle raises its open-files soft limit
                         to the hard one and stops, naming the largest K that fits, when the hard limit is
                         too low
  --storm-pairs N        storm / tokens / restart chat pairs [10]
  --rate N               messages/s per pair (soak: per online device), paced (0: flat-out closed loop)
                         [pingpong 0, storm, tokens and restart 100, soak 10, idle 10]
  --rate-limit N         the --rate-limit of the nodes the bench starts [the server's default]
  --inserts N            pool inserts per run [10000]
  --pool-workers A[,B]   pool worker counts [1,4]
  --users N              soak users [50]
  --devices D            soak devices per user, each its own connection [1: no device, the one-session rule]
  --drops                soak: some leaves drop the connection with a send in flight; the send is resent
                         with the same cmid after a token login
  --fault F              soak --cluster: kill (kill -9 of a node, restarted), mariadb or redis (restarted)
                         in the middle of the run; with --redis-cluster: master (kill -9 of the master of
                         the most users, its replica takes over) or reshard (redis-cli --cluster reshard
                         moves half the slots to one master)
  --msg-bytes N          characters of chat text [32]
  --hash-cost real|cheap how users seeded into the embedded store are hashed
                         [cheap; real for login, storm and tokens]
  --store file|memory    embedded store of the node we start: temp file (users seeded fast) or :memory:
                         (users registered over the protocol, ~55/s) [file]
  --cpu-prof DIR         run the servers we start with deno --cpu-prof, profiles into DIR
  --v8-flags=FLAGS       one node: run this checkout's server with deno --v8-flags=FLAGS (not a --baseline
                         tree's: --baseline HEAD measures the flags alone)
  --timeout S            abort a scenario after S seconds [300]
  --out DIR              JSON reports [bench-results]
`;

/** A bad command line; the message names the flag. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function int(flag: string, text: string | undefined, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return value;
}

function seconds(flag: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > 86_400) {
    throw new UsageError(
      `--${flag} must be a number of seconds from ${min} to 86400, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * A commit as `--baseline` takes it: a hash or a ref name (no leading `-`, so that git never reads it as an
 * option; no `..`, which names a range).
 */
const COMMIT = /^[A-Za-z0-9][A-Za-z0-9._\/^~-]*$/;

/** `--baseline`: which scenarios take it, and with what. */
function checkBaseline(
  baseline: string,
  scenario: Scenario,
  values: { endpoints?: string; ceiling?: boolean },
): void {
  if (!COMMIT.test(baseline) || baseline.includes("..")) {
    throw new UsageError(`--baseline wants a commit (hash or ref), got ${JSON.stringify(baseline)}`);
  }
  if (!["pingpong", "group", "idle", "tokens"].includes(scenario)) {
    throw new UsageError("--baseline is for the pingpong, group, idle and tokens scenarios");
  }
  if (values.endpoints !== undefined || values.ceiling) {
    throw new UsageError("--baseline starts both servers itself: no --endpoints or --ceiling");
  }
}

/** Parses `host:port[,host:port]`. */
export function parseEndpoints(text: string): Endpoint[] {
  const endpoints = text.split(",").map((part) => {
    const match = part.trim().match(/^(.+):(\d{1,5})$/);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      throw new UsageError(`--endpoints wants host:port[,host:port], got ${JSON.stringify(part)}`);
    }
    return { hostname: match[1].replace(/^\[(.*)\]$/, "$1"), port };
  });
  if (endpoints.length > 2) {
    throw new UsageError(`--endpoints takes one or two endpoints, got ${endpoints.length}`);
  }
  return endpoints;
}

/** `--v8-flags`: V8's own `--flag[=value]` words, for the one node the bench starts. */
function v8Flags(text: string | undefined, cluster: boolean): string | undefined {
  if (text === undefined) return undefined;
  if (!/^--[a-z0-9_-]+(=[A-Za-z0-9_.-]+)?(,--[a-z0-9_-]+(=[A-Za-z0-9_.-]+)?)*$/.test(text)) {
    throw new UsageError(
      `--v8-flags wants V8 flags such as --max-semi-space-size=4, got ${JSON.stringify(text)}`,
    );
  }
  if (cluster) throw new UsageError("--v8-flags is for one node, not --cluster");
  return text;
}

/** Parses the command line; null for --help. */
export function parseBenchArgs(args: string[]): BenchOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: "boolean", short: "h" },
        v1: { type: "boolean" },
        cluster: { type: "boolean" },
        ceiling: { type: "boolean" },
        tls: { type: "boolean" },
        "redis-cluster": { type: "boolean" },
        baseline: { type: "string" },
        drops: { type: "boolean" },
        pairs: { type: "string" },
        duration: { type: "string" },
        warmup: { type: "string" },
        repeats: { type: "string" },
        endpoints: { type: "string" },
        pids: { type: "string" },
        workers: { type: "string" },
        members: { type: "string" },
        messages: { type: "string" },
        page: { type: "string" },
        window: { type: "string" },
        connections: { type: "string" },
        "storm-pairs": { type: "string" },
        rate: { type: "string" },
        "rate-limit": { type: "string" },
        inserts: { type: "string" },
        "pool-workers": { type: "string" },
        users: { type: "string" },
        devices: { type: "string" },
        fault: { type: "string" },
        "msg-bytes": { type: "string" },
        "hash-cost": { type: "string" },
        "cpu-prof": { type: "string" },
        "v8-flags": { type: "string" },
        store: { type: "string" },
        timeout: { type: "string" },
        out: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return null;
  if (positionals.length !== 1) {
    throw new UsageError(`name one scenario (${SCENARIOS.join(", ")}), got ${JSON.stringify(positionals)}`);
  }
  const scenario = positionals[0] as Scenario;
  if (!SCENARIOS.includes(scenario)) {
    throw new UsageError(`unknown scenario ${JSON.stringify(scenario)}; one of ${SCENARIOS.join(", ")}`);
  }
  const endpoints = values.endpoints === undefined ? undefined : parseEndpoints(values.endpoints);
  if (endpoints && values.cluster) throw new UsageError("--endpoints and --cluster exclude each other");
  if (values.cluster && scenario !== "pingpong" && scenario !== "soak") {
    throw new UsageError("--cluster is for the pingpong and soak scenarios");
  }
  if (values.ceiling && scenario !== "pingpong") {
    throw new UsageError("--ceiling is for the pingpong scenario");
  }
  if (values.ceiling && (endpoints || values.cluster || values.v1)) {
    throw new UsageError(
      "--ceiling compares one node the bench starts (v2) with the relay: no --endpoints, --cluster or --v1",
    );
  }
  if (values.tls && scenario !== "pingpong") throw new UsageError("--tls is for the pingpong scenario");
  if (
    values.tls &&
    (endpoints || values.cluster || values.v1 || values.ceiling || values.baseline !== undefined)
  ) {
    throw new UsageError(
      "--tls compares one node the bench starts (v2) in plain text and over TLS: no --endpoints, --cluster, " +
        "--v1, --ceiling or --baseline",
    );
  }
  if (values["redis-cluster"]) {
    if (!values.cluster || (scenario !== "pingpong" && scenario !== "soak")) {
      throw new UsageError("--redis-cluster is for pingpong --cluster and soak --cluster");
    }
    if (values.baseline !== undefined || values.v1) {
      throw new UsageError("--redis-cluster runs this server (v2): no --baseline or --v1");
    }
  }
  const baseline = values.baseline;
  if (baseline !== undefined) checkBaseline(baseline, scenario, values);
  for (const flag of ["devices", "drops"] as const) {
    if (values[flag] !== undefined && scenario !== "soak") {
      throw new UsageError(`--${flag} is for the soak scenario`);
    }
  }
  const fault = values.fault;
  if (fault !== undefined) {
    if (!(FAULTS as readonly string[]).includes(fault)) {
      throw new UsageError(`--fault must be one of ${FAULTS.join(", ")}, got ${JSON.stringify(fault)}`);
    }
    if (scenario !== "soak" || !values.cluster) throw new UsageError("--fault is for soak --cluster");
    const onRedisCluster = fault === "master" || fault === "reshard";
    if (onRedisCluster !== (values["redis-cluster"] ?? false)) {
      throw new UsageError(
        onRedisCluster
          ? `--fault ${fault} is for soak --cluster --redis-cluster`
          : `--fault ${fault} is for one Redis (with --redis-cluster: master or reshard)`,
      );
    }
  }
  const hashCost = values["hash-cost"];
  if (hashCost !== undefined && hashCost !== "real" && hashCost !== "cheap") {
    throw new UsageError(`--hash-cost must be real or cheap, got ${JSON.stringify(hashCost)}`);
  }
  const store = values.store ?? "file";
  if (store !== "file" && store !== "memory") {
    throw new UsageError(`--store must be file or memory, got ${JSON.stringify(store)}`);
  }
  const pids = (values.pids ?? "").split(",").filter((s) => s !== "").map((s) =>
    int("pids", s, 0, 1, 2 ** 22)
  );
  const poolWorkers = (values["pool-workers"] ?? "1,4").split(",").map((s) =>
    int("pool-workers", s, 1, 1, 64)
  );
  return {
    scenario,
    pairs: int("pairs", values.pairs, 100, 1, 20_000),
    duration: seconds("duration", values.duration, scenario === "soak" ? 30 : 10, 0.5),
    warmup: seconds("warmup", values.warmup, 2, 0),
    repeats: int("repeats", values.repeats, 1, 1, 100),
    endpoints,
    pids,
    v1: values.v1 ?? false,
    cluster: values.cluster ?? false,
    ceiling: values.ceiling ?? false,
    tls: values.tls ?? false,
    redisCluster: values["redis-cluster"] ?? false,
    baseline,
    workers: int("workers", values.workers, 20, 1, 10_000),
    members: int(
      "members",
      values.members,
      scenario === "kick" ? 999 : 100,
      scenario === "kick" ? 3 : 1,
      100_000,
    ),
    messages: int("messages", values.messages, scenario === "kick" ? 200 : 10_000, 1, 10_000_000),
    page: int("page", values.page, 1000, 1, 1000),
    window: int("window", values.window, 1, 1, 100_000),
    connections: int("connections", values.connections, 10_000, 1, 1_000_000),
    stormPairs: int("storm-pairs", values["storm-pairs"], 10, 1, 10_000),
    rate: values.rate === undefined ? undefined : int("rate", values.rate, 0, 0, 1_000_000),
    rateLimit: values["rate-limit"] === undefined
      ? undefined
      : int("rate-limit", values["rate-limit"], 0, 1, 1_000_000),
    inserts: int("inserts", values.inserts, 10_000, 1, 10_000_000),
    poolWorkers,
    users: int("users", values.users, 50, 2, 10_000),
    devices: int("devices", values.devices, 1, 1, 20),
    drops: values.drops ?? false,
    fault: fault as Fault | undefined,
    msgBytes: int("msg-bytes", values["msg-bytes"], 32, 1, 4096),
    hashCost,
    store,
    cpuProf: values["cpu-prof"],
    v8Flags: v8Flags(values["v8-flags"], values.cluster ?? false),
    timeout: seconds("timeout", values.timeout, 300, 1),
    out: values.out ?? "bench-results",
  };
}
