/**
 * `storm`: chat latency of a few pingpong pairs, first alone, then while C workers log in and out as fast as
 * they can. Password hashing must not stall delivery: the target is p99 during the storm at most twice the
 * idle p99.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { LoginStorm } from "./login.ts";
import { loginPairs, PingPong, runFor } from "./pingpong.ts";
import { ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtInt, fmtMs, fmtProcesses, loadgenCpu, type ScenarioResult } from "./report.ts";
import { startTarget } from "./target.ts";

/** The `storm` scenario. */
export async function storm(options: BenchOptions): Promise<ScenarioResult> {
  await using target = await startTarget(options);
  const pairUsers = await target.prepareUsers(options.stormPairs * 2, "cheap");
  const loginUsers = await target.prepareUsers(options.workers, options.hashCost ?? "real");
  const clients = await loginPairs(pairUsers, target.endpoints, { v1: options.v1, sequential: false });
  // Paced chat by default: a flat-out loop would saturate the CPU on its own, and any extra work would then
  // show as latency whether or not it stalls the event loop.
  const rate = options.rate ?? 100;
  const engine = new PingPong(clients, pairUsers, { v1: options.v1, msgBytes: options.msgBytes, rate });
  const logins = new LoginStorm(target.endpoints[0], loginUsers, options.workers, { v1: options.v1 });
  const watch = new ProcessWatch(target.watch);
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, "storm: chat warm-up");
    engine.window();
    await watch.start();
    await runFor(engine, options.duration, `storm: ${options.stormPairs} pairs, no logins`);
    const quiet = engine.window();
    const quietUsage = await watch.stop();

    logins.start();
    if (options.warmup > 0) {
      await runFor(
        engine,
        options.warmup,
        "storm: logins starting",
        () => `, ${logins.currentRate.toFixed(0)} logins/s`,
      );
    }
    engine.window();
    logins.window();
    await watch.start();
    await runFor(
      engine,
      options.duration,
      `storm: ${options.stormPairs} pairs during ${options.workers} login workers`,
      () => `, ${logins.currentRate.toFixed(0)} logins/s`,
    );
    const stormy = engine.window();
    const loginWindow = logins.window();
    const stormUsage = await watch.stop();
    endProgress();

    const ratio = stormy.latency.p99 / quiet.latency.p99;
    const row = (label: string, w: typeof quiet, usage: typeof quietUsage, loginsPerSecond: string) => {
      const { cpu, rss } = fmtProcesses(usage);
      return [
        label,
        fmtInt(w.messagesPerSecond),
        fmtMs(w.latency.p50),
        fmtMs(w.latency.p99),
        fmtMs(w.latency.p999),
        fmtMs(w.latency.max),
        loginsPerSecond,
        w.errors,
        cpu,
        rss,
        loadgenCpu(usage),
      ];
    };
    return {
      title:
        `storm — chat p99 of ${options.stormPairs} pairs during a login storm of ${options.workers} workers`,
      headers: [
        "phase",
        "msg/s",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "max ms",
        "logins/s",
        "errors",
        "server CPU",
        "server RSS",
        "loadgen / other CPU",
      ],
      rows: [
        row("chat only", quiet, quietUsage, "0"),
        row("during logins", stormy, stormUsage, loginWindow.loginsPerSecond.toFixed(1)),
        ["p99 ratio", "", "", `${ratio.toFixed(2)}×`, "", "", "", loginWindow.errors, "", "", ""],
      ],
      notes: [
        `${target.description}; ${options.stormPairs} pingpong pairs (` +
        `${rate ? `paced at ${rate} messages/s per pair` : "flat-out closed loop"}), then the same while ` +
        `${options.workers} workers loop connect → LOGIN → LOGINOUT → close; ${options.duration} s each.`,
        `Login users ${target.describeUsers(options.hashCost ?? "real")}.`,
        `Login round trip during the storm: p50 ${fmtMs(loginWindow.latency.p50)} ms, p99 ${
          fmtMs(loginWindow.latency.p99)
        } ms.${logins.lastError ? ` Last login error: ${logins.lastError}` : ""}`,
        `Target: p99 during the storm ≤ 2× the chat-only p99 → ${ratio <= 2 ? "met" : "missed"} (${
          ratio.toFixed(2)
        }×).`,
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        quiet: { ...quiet, processes: quietUsage },
        storm: { ...stormy, processes: stormUsage, logins: loginWindow },
        p99Ratio: ratio,
      },
    };
  } finally {
    await logins.stop();
    await engine.stop();
    engine.close();
    endProgress();
  }
}
