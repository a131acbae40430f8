/**
 * `idle`: K logged-in connections that send nothing (issue 14: 100,000 on one node); the server's resident
 * memory before and after gives the bytes per connection. Two figures: the average over all K (from the RSS
 * before any login, so one-time costs such as JIT code and SQLite's page cache are included) and the marginal
 * cost of the second half (RSS at K minus RSS at K/2, divided by K/2), which leaves those out. Then the
 * server's CPU while the K sit idle, and the chat latency of `--pairs` active pairs while they are held.
 *
 * The connections are held by holder processes ({@linkcode Holders}) and spread over several 127.0.0.x
 * addresses when one address's ephemeral ports do not suffice ({@linkcode planIdle}); the bench raises its own
 * open-files soft limit (which the server and the holders inherit) to the hard limit, and stops with the
 * largest count that fits when even the hard limit is too low. With `--baseline COMMIT` the server of that
 * commit is measured in the same run, the two alternating round by round.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { extractBaseline } from "./baseline_tree.ts";
import { freePort } from "../harness/free_port.ts";
import { Holders } from "./idle_holders.ts";
import { type IdlePlan, planIdle } from "./idle_plan.ts";
import { ephemeralPorts, type OpenFileLimits, openFileLimits, raiseOpenFileLimit } from "./open_files.ts";
import { Inspector } from "./inspector.ts";
import { loginPairs, PingPong, type PingPongWindow, runFor } from "./pingpong.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtBytes, fmtInt, fmtMs, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { type SideName, sideOrder } from "./side_by_side.ts";
import { median } from "./stats.ts";
import { startTarget } from "./target.ts";
import { loginUsers } from "./users.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Time for the server to settle (GC, allocator) before reading its RSS. */
const SETTLE_MS = 3_000;
/** Logins before the baseline reading, so that JIT code, the hash threads' malloc arenas and SQLite's cache exist. */
const WARMUP_LOGINS = 200;
/** Logins in flight: each hash allocates N·r·128 bytes (1 MiB at the cheap cost) on its own thread. */
const LOGIN_CONCURRENCY = 16;
/** Messages per second per active pair while the idle connections are held, unless `--rate` says otherwise. */
const DEFAULT_PAIR_RATE = 10;
/** Issue 14: the active pairs' chat p99 while the idle connections are held. */
const CHAT_P99_TARGET_MS = 10;

/** One server measured: its memory at 0, K/2 and K idle connections, idle CPU and the pairs' latency. */
interface IdleRun {
  side: SideName;
  label: string;
  target: string;
  serverArgs: string[];
  /** How the users were made, for the report. */
  users: string;
  serverLimits: OpenFileLimits;
  rssBefore: number;
  rssAtHalf: number;
  rssAtFull: number;
  rssAfterClose: number;
  heapUsed: { before: number; atHalf: number; atFull: number };
  bytesPerConnectionAverage: number;
  bytesPerConnectionMarginal: number;
  heapPerConnectionMarginal: number;
  idle: ProcessUsage[];
  chat: PingPongWindow;
  dropped: number;
}

/** Logs K idle connections in to a fresh server (this checkout's, or `tree`'s) and measures it. */
async function measureIdle(
  options: BenchOptions,
  plan: IdlePlan,
  side: SideName,
  tree: { dir: string; label: string } | undefined,
): Promise<IdleRun> {
  const k = options.connections;
  const pairs = options.pairs;
  const inspectPort = options.endpoints ? undefined : freePort();
  await using target = await startTarget(options, {
    maxConnections: k + WARMUP_LOGINS + 2 * pairs,
    host: plan.serverHost,
    inspectPort,
    tree,
  });
  const label = tree?.label ?? "current";
  if (target.watch.length === 0) throw new Error("idle: needs the server's pid (--pids with --endpoints)");
  const server = target.watch[0].pid;
  // A server the bench started inherited its raised soft limit (raised here too, should it not have); a
  // running one (--endpoints) keeps its own.
  const serverLimits = options.endpoints
    ? await openFileLimits(server)
    : (await raiseOpenFileLimit(server)).after;
  // A running server listens where it listens: the holders connect to its address only.
  const addresses = target.endpoints[0].hostname === "127.0.0.1" && !options.endpoints
    ? plan.addresses
    : [target.endpoints[0].hostname];
  const all = await target.prepareUsers(WARMUP_LOGINS + k + 2 * pairs, options.hashCost ?? "cheap");
  const users = all.slice(WARMUP_LOGINS, WARMUP_LOGINS + k);
  const pairUsers = all.slice(WARMUP_LOGINS + k);
  const watch = new ProcessWatch(target.watch);
  // Garbage collected before each reading: what is left is what the connections keep, not what their logins
  // threw away (which a quiet server may keep for minutes). A running server (--endpoints) is read as it is.
  const inspector = inspectPort ? await Inspector.connect(inspectPort) : undefined;
  using _closeInspector = { [Symbol.dispose]: () => inspector?.close() };
  const rss = async () => {
    await inspector?.collectGarbage();
    return [...(await watch.rss()).values()].reduce((sum, value) => sum + value, 0);
  };
  const heap = async () => inspector ? await inspector.heapUsed() : NaN;
  const warm = await loginUsers(all.slice(0, WARMUP_LOGINS), () => target.endpoints[0], {
    concurrency: LOGIN_CONCURRENCY,
    bufferBytes: 1024,
    onProgress: (done) =>
      progress(`idle ${label}: warm-up logins ${done}/${WARMUP_LOGINS} (closed again before the baseline)`),
  });
  for (const client of warm) client.close();
  await sleep(SETTLE_MS);
  const rssBefore = await rss();
  const heapBefore = await heap();
  const half = Math.floor(k / 2);
  await using holders = new Holders({ ...plan, addresses }, target.endpoints[0].port);
  const login = async (from: number, to: number) => {
    await holders.login(users.slice(from, to), (done) =>
      progress(
        `idle ${label}: logging in ${from + done}/${k} connections (each its own user, ` +
          `${plan.holders} holder process${plan.holders > 1 ? "es" : ""}, ${plan.addresses.length} address${
            plan.addresses.length > 1 ? "es" : ""
          })`,
      ));
  };
  await login(0, half);
  await sleep(SETTLE_MS);
  const rssAtHalf = await rss();
  const heapAtHalf = await heap();
  await login(half, k);
  progress(`idle ${label}: ${k} connections logged in; settling ${SETTLE_MS / 1000} s`);
  await sleep(SETTLE_MS);
  const rssAtFull = await rss();
  const heapAtFull = await heap();

  const idleSeconds = Math.min(options.duration, 10);
  progress(`idle ${label}: measuring server CPU while ${k} connections sit idle for ${idleSeconds} s`);
  await watch.start();
  await sleep(idleSeconds * 1000);
  const idleUsage = await watch.stop();

  const clients = await loginPairs(pairUsers, target.endpoints, { v1: false, sequential: false });
  const engine = new PingPong(clients, pairUsers, {
    v1: false,
    msgBytes: options.msgBytes,
    rate: options.rate ?? DEFAULT_PAIR_RATE,
  });
  let chat: PingPongWindow;
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, `idle ${label}: chat warm-up`);
    engine.window();
    await runFor(engine, options.duration, `idle ${label}: ${pairs} pairs chatting beside ${k} idle`);
    chat = engine.window();
  } finally {
    await engine.stop();
    engine.close();
  }
  const dropped = await holders.closedCount();
  await holders.close();
  progress(`idle ${label}: closed every connection; settling`);
  await sleep(SETTLE_MS);
  const rssAfterClose = await rss();
  endProgress();
  return {
    side,
    label,
    target: target.description,
    serverArgs: target.serverArgs,
    users: target.describeUsers(options.hashCost ?? "cheap"),
    serverLimits,
    rssBefore,
    rssAtHalf,
    rssAtFull,
    rssAfterClose,
    heapUsed: { before: heapBefore, atHalf: heapAtHalf, atFull: heapAtFull },
    bytesPerConnectionAverage: (rssAtFull - rssBefore) / k,
    bytesPerConnectionMarginal: half > 0 && k - half > 0 ? (rssAtFull - rssAtHalf) / (k - half) : NaN,
    heapPerConnectionMarginal: (heapAtFull - heapAtHalf) / (k - half),
    idle: idleUsage,
    chat,
    dropped,
  };
}

function row(run: IdleRun, k: number): (string | number)[] {
  const serverCpu = run.idle.filter((u) => u.name !== "loadgen" && u.name !== "others")
    .map((u) => `${u.cpuPercent.toFixed(1)}%`).join(", ");
  return [
    run.label,
    fmtInt(k),
    fmtBytes(run.rssBefore),
    fmtBytes(run.rssAtHalf),
    fmtBytes(run.rssAtFull),
    fmtBytes(run.bytesPerConnectionAverage),
    fmtBytes(run.bytesPerConnectionMarginal),
    fmtBytes(run.heapPerConnectionMarginal),
    fmtBytes(run.rssAfterClose),
    serverCpu,
    `${fmtMs(run.chat.latency.p50)} / ${fmtMs(run.chat.latency.p99)}`,
    run.dropped,
    loadgenCpu(run.idle),
  ];
}

const fmtLimit = (value: number) => value === Infinity ? "unlimited" : fmtInt(value);
const fmtLimits = (limits: OpenFileLimits) => `soft ${fmtLimit(limits.soft)}, hard ${fmtLimit(limits.hard)}`;

/** The `idle` scenario. */
export async function idle(options: BenchOptions): Promise<ScenarioResult> {
  const k = options.connections;
  const own = await raiseOpenFileLimit();
  // A server the bench starts inherits the bench's limits; a running one (--endpoints) has its own.
  const serverHardLimit = options.pids.length > 0
    ? (await openFileLimits(options.pids[0])).hard
    : own.after.hard;
  const plan = planIdle({
    connections: k,
    others: WARMUP_LOGINS + 2 * options.pairs,
    serverHardLimit,
    holderLimit: own.after.soft,
    ephemeralPorts: await ephemeralPorts(),
  });
  const raised = own.before.soft < own.after.soft
    ? `raised its open-files soft limit from ${fmtLimit(own.before.soft)} to ${fmtLimit(own.after.soft)}`
    : `kept its open-files limit (${fmtLimits(own.after)})`;
  progress(`idle: the bench ${raised} (hard limit ${fmtLimit(own.after.hard)}, ulimit -Hn)`);

  const runs: IdleRun[] = [];
  let baselineHash: string | undefined;
  if (options.baseline === undefined) {
    runs.push(await measureIdle(options, plan, "current", undefined));
  } else {
    progress(`extracting ${options.baseline} with git archive`);
    await using tree = await extractBaseline(options.baseline);
    baselineHash = tree.hash;
    for (let round = 1; round <= options.repeats; round++) {
      for (const side of sideOrder(round)) {
        const tag = side === "baseline" ? { dir: tree.dir, label: tree.commit } : undefined;
        runs.push(await measureIdle(options, plan, side, tag));
      }
    }
  }
  const rows = runs.map((run) => row(run, k));
  const medianOf = (side: SideName) =>
    median(runs.filter((run) => run.side === side).map((run) => run.bytesPerConnectionAverage));
  const verdicts: string[] = [];
  if (options.baseline !== undefined) {
    const ratio = medianOf("current") / medianOf("baseline");
    rows.push([
      `current / ${options.baseline}`,
      "",
      "",
      "",
      "",
      `${ratio.toFixed(2)}x`,
      "",
      "",
      "",
      "",
      "",
      "",
      "",
    ]);
    verdicts.push(
      `Per connection (average, medians of ${options.repeats}): ${fmtBytes(medianOf("current"))} against ` +
        `${fmtBytes(medianOf("baseline"))} for ${options.baseline} (${baselineHash}), ${ratio.toFixed(2)}x.`,
    );
  }
  const rate = options.rate ?? DEFAULT_PAIR_RATE;
  const worstP99 = Math.max(
    ...runs.filter((run) => run.side === "current").map((run) => run.chat.latency.p99),
  );
  const first = runs[0];
  return {
    title: `idle — ${fmtInt(k)} logged-in idle connections${
      options.baseline ? `, the current server against ${options.baseline}` : ""
    }`,
    headers: [
      "server",
      "connections",
      "RSS before",
      `RSS at ${fmtInt(Math.floor(k / 2))}`,
      `RSS at ${fmtInt(k)}`,
      "per conn (avg)",
      "per conn (marginal)",
      "of which V8 heap",
      "RSS after close",
      "idle CPU",
      `chat p50 / p99 ms (${options.pairs} pairs)`,
      "dropped",
      "loadgen / other CPU",
    ],
    rows,
    notes: [
      `${first.target}; every connection logged in as its own user (v2), then silent; held by ${plan.holders} ` +
      `holder process${plan.holders > 1 ? "es" : ""} (tests/bench/idle_holder.ts) over ${
        plan.addresses.length === 1
          ? "127.0.0.1"
          : `${plan.addresses.length} server addresses, 127.0.0.1 to ${plan.addresses.at(-1)} (the server ` +
            "listens on 0.0.0.0: one address pair has only the ephemeral port range)"
      }.`,
      `Open files: the bench ${raised}; the server and the holders inherit it (server: ${
        fmtLimits(first.serverLimits)
      }). One server process holds at most the hard limit (ulimit -Hn) minus about ${
        WARMUP_LOGINS + 2 * options.pairs + 100
      } other files; raising the hard limit needs root with CAP_SYS_RESOURCE.`,
      `avg = (RSS at K − RSS before) / K, where "before" is read after ${WARMUP_LOGINS} warm-up logins were ` +
      "closed again; marginal = (RSS at K − RSS at K/2) / (K/2), which leaves " +
      `out one-time costs. RSS read ${SETTLE_MS / 1000} s after the last login.`,
      `Users ${first.users} (login cost is not what this measures; a cheap hash also keeps scrypt's 16 MiB buffers out of the RSS).`,
      "Each reading follows two full garbage collections (the node runs with --inspect, and the bench asks " +
      "through the DevTools protocol), so garbage the logins left does not count. " +
      "of which V8 heap: the marginal growth of the server's V8 heap used after collection, i.e. JavaScript objects; " +
      "the rest is native: read buffers (ArrayBuffer backing stores), Deno's socket resources and pending ops, malloc.",
      `idle CPU: the server's CPU over ${
        Math.min(options.duration, 10)
      } s with the K idle (timers that walk every connection show up here).`,
      `chat: ${options.pairs} more pairs (v2) paced at ${rate} messages/s per pair for ${options.duration} s ` +
      `(after ${options.warmup} s warm-up) while the K are held; target p99 < ${CHAT_P99_TARGET_MS} ms → ${
        worstP99 < CHAT_P99_TARGET_MS ? "met" : "missed"
      } (${fmtMs(worstP99)} ms${runs.length > 1 ? ", the worst run of the current server" : ""}).`,
      ...verdicts,
    ],
    data: {
      connections: k,
      plan,
      openFiles: { bench: own, hardLimit: own.after.hard },
      baseline: options.baseline === undefined ? undefined : { commit: options.baseline, hash: baselineHash },
      runs,
      // The fields of a single run, as reports before --baseline had them.
      ...(runs.length === 1
        ? {
          rssBefore: first.rssBefore,
          rssAtHalf: first.rssAtHalf,
          rssAtFull: first.rssAtFull,
          rssAfterClose: first.rssAfterClose,
          bytesPerConnectionAverage: first.bytesPerConnectionAverage,
          bytesPerConnectionMarginal: first.bytesPerConnectionMarginal,
          dropped: first.dropped,
        }
        : {}),
    },
  };
}
