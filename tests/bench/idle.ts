/**
 * `idle`: K logged-in connections that send nothing; the server's resident memory before and after gives the
 * bytes per connection. Two figures: the average over all K (from the RSS before any login, so one-time costs
 * such as JIT code and SQLite's page cache are included) and the marginal cost of the second half (RSS at K
 * minus RSS at K/2, divided by K/2), which leaves those out. Then the server's CPU while the K sit idle.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import type { LoadClient } from "./load_client.ts";
import { openFileLimit, ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtBytes, fmtInt, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { startTarget } from "./target.ts";
import { loginUsers } from "./users.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** File descriptors the generator needs besides the connections (stdio, pipes of the children, …). */
const FD_MARGIN = 200;
/** Time for the server to settle (GC, allocator) before reading its RSS. */
const SETTLE_MS = 3_000;
/** Logins before the baseline reading, so that JIT code, the hash threads' malloc arenas and SQLite's cache exist. */
const WARMUP_LOGINS = 200;
/** Logins in flight: each hash allocates N·r·128 bytes (1 MiB at the cheap cost) on its own thread. */
const LOGIN_CONCURRENCY = 16;

/** The node's V8 heapUsed from its `/metrics`, NaN when unavailable. */
async function heapUsed(url: string | undefined): Promise<number> {
  if (!url) return NaN;
  try {
    const text = await (await fetch(url)).text();
    return Number(text.match(/^chat_heap_used_bytes (\S+)$/m)?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

/** The `idle` scenario. */
export async function idle(options: BenchOptions): Promise<ScenarioResult> {
  const k = options.connections;
  const limit = await openFileLimit();
  if (limit !== undefined && limit < k + FD_MARGIN) {
    throw new Error(
      `idle: ${k} connections need at least ${k + FD_MARGIN} open files, but ulimit -n is ${limit}; ` +
        `raise it (ulimit -n ${k + FD_MARGIN * 5}) or use --connections ${Math.max(1, limit - FD_MARGIN)}`,
    );
  }
  await using target = await startTarget(options, { maxConnections: k, metrics: true });
  if (target.watch.length === 0) throw new Error("idle: needs the server's pid (--pids with --endpoints)");
  const all = await target.prepareUsers(k + WARMUP_LOGINS, options.hashCost ?? "cheap");
  const users = all.slice(WARMUP_LOGINS);
  const watch = new ProcessWatch(target.watch);
  const rss = async () => [...(await watch.rss()).values()].reduce((sum, value) => sum + value, 0);
  const heap = () => heapUsed(target.metricsUrl);
  const warm = await loginUsers(all.slice(0, WARMUP_LOGINS), () => target.endpoints[0], {
    concurrency: LOGIN_CONCURRENCY,
    bufferBytes: 1024,
    onProgress: (done) =>
      progress(`idle: warm-up logins ${done}/${WARMUP_LOGINS} (closed again before the baseline)`),
  });
  for (const client of warm) client.close();
  await sleep(SETTLE_MS);
  const before = await rss();
  const heapBefore = await heap();
  const half = Math.floor(k / 2);
  const clients: LoadClient[] = [];
  try {
    const login = async (from: number, to: number) => {
      const batch = await loginUsers(users.slice(from, to), () => target.endpoints[0], {
        concurrency: LOGIN_CONCURRENCY,
        bufferBytes: 1024,
        onProgress: (done) =>
          progress(`idle: logging in ${from + done}/${k} connections (each its own user)`),
      });
      clients.push(...batch);
    };
    await login(0, half);
    await sleep(SETTLE_MS);
    const atHalf = await rss();
    const heapAtHalf = await heap();
    await login(half, k);
    progress(`idle: ${k} connections logged in; settling ${SETTLE_MS / 1000} s`);
    await sleep(SETTLE_MS);
    const atFull = await rss();
    const heapAtFull = await heap();

    const idleSeconds = Math.min(options.duration, 10);
    progress(`idle: measuring server CPU while ${k} connections sit idle for ${idleSeconds} s`);
    await watch.start();
    await sleep(idleSeconds * 1000);
    const usage = await watch.stop();
    const dropped = clients.filter((client) => client.isClosed).length;

    for (const client of clients) client.close();
    clients.length = 0;
    progress("idle: closed every connection; settling");
    await sleep(SETTLE_MS);
    const afterClose = await rss();
    endProgress();

    const average = (atFull - before) / k;
    const marginal = half > 0 && k - half > 0 ? (atFull - atHalf) / (k - half) : NaN;
    const heapMarginal = (heapAtFull - heapAtHalf) / (k - half);
    const serverCpu = usage.filter((u) => u.name !== "loadgen" && u.name !== "others").map((u) =>
      `${u.cpuPercent.toFixed(1)}%`
    )
      .join(", ");
    return {
      title: `idle — ${fmtInt(k)} logged-in idle connections`,
      headers: [
        "connections",
        "RSS before",
        `RSS at ${fmtInt(half)}`,
        `RSS at ${fmtInt(k)}`,
        "per conn (avg)",
        "per conn (marginal)",
        "of which V8 heap",
        "RSS after close",
        "idle CPU",
        "dropped",
        "loadgen / other CPU",
      ],
      rows: [[
        fmtInt(k),
        fmtBytes(before),
        fmtBytes(atHalf),
        fmtBytes(atFull),
        fmtBytes(average),
        fmtBytes(marginal),
        fmtBytes(heapMarginal),
        fmtBytes(afterClose),
        serverCpu,
        dropped,
        loadgenCpu(usage),
      ]],
      notes: [
        `${target.description}; every connection logged in as its own user (v2), then silent.`,
        `avg = (RSS at K − RSS before) / K, where "before" is read after ${WARMUP_LOGINS} warm-up logins were ` +
        "closed again; marginal = (RSS at K − RSS at K/2) / (K/2), which leaves " +
        `out one-time costs. RSS read ${SETTLE_MS / 1000} s after the last login.`,
        `Users ${
          target.describeUsers(options.hashCost ?? "cheap")
        } (login cost is not what this measures; a cheap hash also keeps scrypt's 16 MiB buffers out of the RSS).`,
        "of which V8 heap: the marginal growth of the server's V8 heapUsed (its /metrics), i.e. JavaScript objects; " +
        "the rest is native: read buffers (ArrayBuffer backing stores), Deno's socket resources and pending ops, malloc.",
        "idle CPU: the server's CPU over the idle window (timers that walk every connection show up here).",
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        connections: k,
        rssBefore: before,
        rssAtHalf: atHalf,
        rssAtFull: atFull,
        rssAfterClose: afterClose,
        heapUsed: { before: heapBefore, atHalf: heapAtHalf, atFull: heapAtFull },
        bytesPerConnectionAverage: average,
        bytesPerConnectionMarginal: marginal,
        dropped,
        processes: usage,
      },
    };
  } finally {
    for (const client of clients) client.close();
  }
}
