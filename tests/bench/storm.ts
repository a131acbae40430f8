/**
 * `storm`: chat latency of a few pingpong pairs, first alone, then while C workers log in and out as fast as
 * they can. Password hashing must not stall delivery: the target is p99 during the storm at most twice the
 * idle p99. {@linkcode chatDuringLogins} is the engine, shared with `tokens` (the same with token logins).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { P99_RATIO_TARGET, p99Verdict } from "./issue_targets.ts";
import type { LoginStormSetup, LoginWindow } from "./login.ts";
import { LoginStormInWorker } from "./login_storm_in_worker.ts";
import { loginPairs, PingPong, type PingPongWindow, runFor } from "./pingpong.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtInt, fmtMs, fmtProcesses, loadgenCpu, type ScenarioResult } from "./report.ts";
import { startTarget, type Target, type TargetNeeds } from "./target.ts";

/** What a login storm scenario adds to the shared engine. */
export interface LoginStormSpec {
  /** "storm", "tokens": the progress labels' prefix. */
  name: string;
  /** The table's title. */
  title: string;
  /** Makes the login workers' users and credentials on the started target (they run in a Worker). */
  prepare(target: Target): Promise<LoginStormSetup>;
  /** What the login workers do, for the notes ("20 workers loop …"). */
  describeLogins(target: Target): string;
  /** Notes computed from the storm's login window (targets met or missed). */
  loginNotes?(window: LoginWindow): string[];
}

/** The chat-only and during-storm windows, and their p99 ratio. */
export interface StormOutcome {
  quiet: PingPongWindow & { processes: ProcessUsage[] };
  storm: PingPongWindow & { processes: ProcessUsage[]; logins: LoginWindow };
  p99Ratio: number;
}

/** What a run of {@linkcode chatDuringLogins} reports in its JSON (`data`). */
export interface StormData extends StormOutcome {
  /** The node's description, for the report. */
  target: string;
  serverArgs: string[];
}

/**
 * Chat pairs alone, then during the login storm that `spec` prepares, on a node started for it (`needs.tree`:
 * the server of a `--baseline` commit).
 */
export async function chatDuringLogins(
  options: BenchOptions,
  spec: LoginStormSpec,
  needs: TargetNeeds = {},
): Promise<ScenarioResult & { data: StormData }> {
  await using target = await startTarget(options, needs);
  const pairUsers = await target.prepareUsers(options.stormPairs * 2, "cheap");
  // In a Worker: the login workers' own event-loop time would otherwise be measured as chat latency.
  await using logins = new LoginStormInWorker(await spec.prepare(target));
  const clients = await loginPairs(pairUsers, target.endpoints, { v1: options.v1, sequential: false });
  // Paced chat by default: a flat-out loop would saturate the CPU on its own, and any extra work would then
  // show as latency whether or not it stalls the event loop.
  const rate = options.rate ?? 100;
  const engine = new PingPong(clients, pairUsers, { v1: options.v1, msgBytes: options.msgBytes, rate });
  const watch = new ProcessWatch(target.watch);
  try {
    engine.start();
    if (options.warmup > 0) await runFor(engine, options.warmup, `${spec.name}: chat warm-up`);
    engine.window();
    await watch.start();
    await runFor(engine, options.duration, `${spec.name}: ${options.stormPairs} pairs, no logins`);
    const quiet = engine.window();
    const quietUsage = await watch.stop();

    logins.start();
    const loginRate = () => `, ${logins.currentRate.toFixed(0)} logins/s`;
    if (options.warmup > 0) await runFor(engine, options.warmup, `${spec.name}: logins starting`, loginRate);
    engine.window();
    await logins.window();
    await watch.start();
    await runFor(
      engine,
      options.duration,
      `${spec.name}: ${options.stormPairs} pairs during ${options.workers} login workers`,
      loginRate,
    );
    const stormy = engine.window();
    const loginWindow = await logins.window();
    await logins.stop();
    const stormUsage = await watch.stop();
    endProgress();

    const { ratio, met } = p99Verdict(quiet.latency.p99, stormy.latency.p99);
    const row = (label: string, w: PingPongWindow, usage: ProcessUsage[], loginsPerSecond: string) => {
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
    const outcome: StormOutcome = {
      quiet: { ...quiet, processes: quietUsage },
      storm: { ...stormy, processes: stormUsage, logins: loginWindow },
      p99Ratio: ratio,
    };
    return {
      title: spec.title,
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
        `${spec.describeLogins(target)}; ${options.duration} s each.`,
        `Login round trip during the storm: p50 ${fmtMs(loginWindow.latency.p50)} ms, p99 ${
          fmtMs(loginWindow.latency.p99)
        } ms.${logins.lastError ? ` Last login error: ${logins.lastError}` : ""}${
          logins.retries > 0 ? ` ${logins.retries} logins retried (the previous session not yet ended).` : ""
        }`,
        ...(spec.loginNotes?.(loginWindow) ?? []),
        `Target: p99 during the storm ≤ ${P99_RATIO_TARGET}× the chat-only p99 → ${met ? "met" : "missed"} (${
          ratio.toFixed(2)
        }×).`,
      ],
      data: { target: target.description, serverArgs: target.serverArgs, ...outcome },
    };
  } finally {
    await logins.stop();
    await engine.stop();
    engine.close();
    endProgress();
  }
}

/** The `storm` scenario: password logins (LOGIN, LOGINOUT) at the users' hash cost. */
export function storm(options: BenchOptions): Promise<ScenarioResult> {
  const cost = options.hashCost ?? "real";
  return chatDuringLogins(options, {
    name: "storm",
    title:
      `storm — chat p99 of ${options.stormPairs} pairs during a login storm of ${options.workers} workers`,
    describeLogins: (target) =>
      `${options.workers} workers loop connect → LOGIN → LOGINOUT → close (users ${
        target.describeUsers(cost)
      })`,
    async prepare(target) {
      const users = await target.prepareUsers(options.workers, cost);
      return { endpoint: target.endpoints[0], users, workers: options.workers, v1: options.v1 };
    },
  });
}
