/**
 * `restart`: a node restart with K users online (issue 14). K devices log in with resume tokens and stay
 * connected while a few pairs chat (the idle p99); the node is killed (`kill -9`) and started again on its
 * port and store; the pairs log back in first and chat while all K reconnect with their tokens at once (the
 * storm p99); then the pairs chat on with all K back (the after p99). Reports the restart time, the time until
 * all K are back, the reconnect rate, and the three p99s.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { P99_RATIO_TARGET, p99Verdict } from "./issue_targets.ts";
import { loginPairs, PingPong, type PingPongWindow, runFor } from "./pingpong.ts";
import { openFileLimit, type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { reconnectAll } from "./reconnect_storm.ts";
import {
  endProgress,
  fmtInt,
  fmtMs,
  fmtProcesses,
  loadgenCpu,
  progress,
  type ScenarioResult,
} from "./report.ts";
import { startTarget } from "./target.ts";
import { issueTokens } from "./token_credentials.ts";

/** The device every storm user's token is bound to. */
const DEVICE = "bench-restart";
/** File descriptors the generator needs besides the connections (stdio, pipes of the children, …). */
const FD_MARGIN = 200;
/** Token logins in flight while everyone first comes online (not the storm: that is all at once). */
const ONLINE_CONCURRENCY = 64;

/** The `restart` scenario. */
export async function restart(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("restart: --v1 is not supported (resume tokens are v2)");
  const k = options.connections;
  const pairs = options.stormPairs;
  const limit = await openFileLimit();
  if (limit !== undefined && limit < k + 2 * pairs + FD_MARGIN) {
    throw new Error(
      `restart: ${k} connections need at least ${k + 2 * pairs + FD_MARGIN} open files, but ulimit -n is ` +
        `${limit}; use --connections ${Math.max(1, limit - 2 * pairs - FD_MARGIN)}`,
    );
  }
  await using target = await startTarget(options, { maxConnections: k + 2 * pairs });
  if (!target.restart) {
    throw new Error("restart: needs one node the bench starts (no --endpoints, --cluster)");
  }
  const endpoint = target.endpoints[0];
  const users = await target.prepareUsers(k + 2 * pairs, options.hashCost ?? "cheap");
  const pairUsers = users.slice(0, 2 * pairs);
  const stormUsers = users.slice(2 * pairs);
  const tokens = await issueTokens(endpoint, stormUsers, {
    device: DEVICE,
    concurrency: 16,
    onProgress: (done, total) =>
      done % 500 === 0 || done === total
        ? progress(`restart: password logins for tokens ${done}/${total}`)
        : 0,
  });
  const rate = options.rate ?? 100;
  const chatPairs = async () => {
    const clients = await loginPairs(pairUsers, target.endpoints, { v1: false, sequential: false });
    return new PingPong(clients, pairUsers, { v1: false, msgBytes: options.msgBytes, rate });
  };
  const watch = new ProcessWatch(target.watch);
  let online = await reconnectAll(endpoint, stormUsers, tokens, {
    concurrency: ONLINE_CONCURRENCY,
    onProgress: (back, total) => progress(`restart: ${back}/${total} devices online`),
  });
  let engine = await chatPairs();
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, "restart: chat warm-up");
    engine.window();
    await watch.start();
    await runFor(engine, options.duration, `restart: ${pairs} pairs, ${fmtInt(k)} devices online`);
    const before = { ...engine.window(), processes: await watch.stop() };
    await engine.stop();
    engine.close();

    progress("restart: kill -9 of the node, started again on its port and store");
    const killedAt = performance.now();
    await target.restart("SIGKILL");
    const restartMs = performance.now() - killedAt;
    // Every old connection ended with the node; what the devices do about it is the storm below.
    for (const client of online.clients) client.close();

    engine = await chatPairs();
    engine.start();
    engine.window();
    await watch.start();
    const storm = await reconnectAll(endpoint, stormUsers, tokens, {
      onProgress: (back, total) =>
        progress(
          `restart: ${back}/${total} devices back, chat p99 ${fmtMs(engine.histogram.quantileMs(0.99))} ms`,
        ),
    });
    online = storm;
    const during = { ...engine.window(), processes: await watch.stop() };
    await watch.start();
    await runFor(engine, options.duration, `restart: ${pairs} pairs, all ${fmtInt(k)} devices back`);
    const after = { ...engine.window(), processes: await watch.stop() };
    endProgress();

    const { ratio, met } = p99Verdict(before.latency.p99, during.latency.p99);
    const backAfter = storm.backAfter.summary();
    const row = (label: string, w: PingPongWindow & { processes: ProcessUsage[] }, back: string) => {
      const { cpu, rss } = fmtProcesses(w.processes);
      return [
        label,
        w.seconds.toFixed(1),
        fmtInt(w.messagesPerSecond),
        fmtMs(w.latency.p50),
        fmtMs(w.latency.p99),
        fmtMs(w.latency.max),
        w.errors,
        back,
        cpu,
        rss,
        loadgenCpu(w.processes),
      ];
    };
    return {
      title: `restart — ${fmtInt(k)} devices reconnect with resume tokens after kill -9 of their node`,
      headers: [
        "phase",
        "s",
        "chat msg/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "devices back",
        "server CPU",
        "server RSS",
        "loadgen / other CPU",
      ],
      rows: [
        row("all online, idle", before, fmtInt(k)),
        row("reconnect storm", during, `${fmtInt(k)} in ${(storm.allBackMs / 1000).toFixed(2)} s`),
        row("all back", after, fmtInt(k)),
        ["p99 storm / idle", "", "", "", `${ratio.toFixed(2)}×`, "", "", "", "", "", ""],
      ],
      notes: [
        `${target.description}; ${fmtInt(k)} devices (users ${
          target.describeUsers(options.hashCost ?? "cheap")
        }) ` +
        `each with a resume token from one password login, online over their own connections; ${pairs} chat ` +
        `pairs paced at ${rate} messages/s per pair.`,
        `kill -9 of the node and its start again on the same port and store: ${
          fmtInt(restartMs)
        } ms until it ` +
        `listened. Then the ${pairs} pairs logged in again (password), and all ${
          fmtInt(k)
        } devices were let go ` +
        "at once: connect, LOGIN {id, token, device}, and on a refused connect or errno 11 a retry after a " +
        "jittered backoff (50 ms doubling to 2 s).",
        `All ${fmtInt(k)} back **${(storm.allBackMs / 1000).toFixed(2)} s** after they were let go: ` +
        `**${fmtInt(storm.perSecond)} reconnects/s**; a device back after p50 ${fmtMs(backAfter.p50)} ms, ` +
        `p99 ${fmtMs(backAfter.p99)} ms; ${storm.retries} retries (${storm.busy} answered errno 11)` +
        `${storm.lastError ? `, last: ${storm.lastError}` : ""}.`,
        `Chat p99 during the storm ${fmtMs(during.latency.p99)} ms against ${
          fmtMs(before.latency.p99)
        } ms with ` +
        `everyone online and idle: ${ratio.toFixed(2)}× (≤ ${P99_RATIO_TARGET}×: ${met ? "met" : "missed"}).`,
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        devices: k,
        pairs,
        restartMs,
        allBackMs: storm.allBackMs,
        reconnectsPerSecond: storm.perSecond,
        backAfter,
        retries: storm.retries,
        busy: storm.busy,
        before,
        during,
        after,
        p99Ratio: ratio,
      },
    };
  } finally {
    await engine.stop();
    engine.close();
    for (const client of online.clients) client?.close();
    endProgress();
  }
}
