/**
 * `group`: one sender and G members, all logged in. The sender sends N GROUP_CHAT messages keeping at most
 * `--window` of them not yet received by every member (1: each message waits until the whole group has it).
 * Reports deliveries per second until all were received, the latency of each delivery (send → read by that
 * member) and of the whole fan-out (send → read by the last member).
 *
 * With `--baseline COMMIT`, the same group on the server of COMMIT too, the two measured in interleaved
 * rounds (`--repeats`), and current / baseline of the median deliveries per second (issue 13: within 10%).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { extractBaseline } from "./baseline_tree.ts";
import { type GroupRun, runGroupMessages, setUpGroup } from "./group_load.ts";
import type { LoadClient } from "./load_client.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import {
  endProgress,
  fmtInt,
  fmtMs,
  fmtProcesses,
  loadgenCpu,
  progress,
  type ScenarioResult,
} from "./report.ts";
import { baselineVerdict, describeVerdict, type SideName, sideOrder } from "./side_by_side.ts";
import { median } from "./stats.ts";
import { startTarget, type Target } from "./target.ts";
import { loginUsers } from "./users.ts";

const HEADERS = [
  "run",
  "members × msgs",
  "window",
  "deliveries/s",
  "msgs/s",
  "p50 ms",
  "p99 ms",
  "p999 ms",
  "fan-out p99 ms",
  "errors",
  "server CPU",
  "server RSS",
  "loadgen / other CPU",
];

/** A logged-in group on one server. */
interface GroupSide {
  target: Target;
  sender: LoadClient;
  members: LoadClient[];
  groupid: number;
  watch: ProcessWatch;
  runs: (GroupRun & { processes: ProcessUsage[] })[];
}

/** Logs G+1 users in on `target` and sets up the group (the sender creates it). */
async function openGroup(target: Target, options: BenchOptions): Promise<GroupSide> {
  const users = await target.prepareUsers(options.members + 1, options.hashCost ?? "cheap");
  const clients = await loginUsers(users, () => target.endpoints[0], {
    concurrency: 16,
    onProgress: (done, total) => progress(`group: logging in ${done}/${total}`),
  });
  const [sender, ...members] = clients;
  try {
    const groupid = await setUpGroup(sender, members);
    return { target, sender, members, groupid, watch: new ProcessWatch(target.watch), runs: [] };
  } catch (error) {
    for (const client of clients) client.close();
    throw error;
  }
}

function closeGroup(side: GroupSide | undefined): void {
  if (!side) return;
  for (const client of [side.sender, ...side.members]) client.close();
}

/** One measured run on `side`, with the server's CPU and memory over it. */
async function measureRun(side: GroupSide, options: BenchOptions, label: string): Promise<GroupRun> {
  await side.watch.start();
  const run = await runGroupMessages(side.sender, side.members, side.groupid, options, label);
  side.runs.push({ ...run, processes: await side.watch.stop() });
  return run;
}

/** A run as a table row. */
function runRow(label: string, run: GroupRun & { processes: ProcessUsage[] }, options: BenchOptions) {
  const { cpu, rss } = fmtProcesses(run.processes);
  return [
    label,
    `${run.receivers} × ${options.messages}`,
    options.window,
    fmtInt(run.deliveriesPerSecond),
    fmtInt(run.messagesPerSecond),
    fmtMs(run.latency.p50),
    fmtMs(run.latency.p99),
    fmtMs(run.latency.p999),
    fmtMs(run.fanoutLatency.p99),
    run.errors,
    cpu,
    rss,
    loadgenCpu(run.processes),
  ];
}

function describeRuns(options: BenchOptions): string {
  return `${options.messages} measured messages after ${options.warmup} s warm-up, at most ${options.window} ` +
    `not yet received by every member; ${options.msgBytes}-character messages.`;
}

const LATENCY_NOTE =
  "Latency: GROUP_CHAT sent → frame read by a member (per delivery); fan-out: → read by the last member.";

/** The `group` scenario. */
export async function group(options: BenchOptions): Promise<ScenarioResult> {
  if (options.v1) throw new Error("group: --v1 is not supported (v1 does not acknowledge CREATE_GROUP)");
  if (options.baseline) return await groupAgainstBaseline(options);
  const g = options.members;
  await using target = await startTarget(options, { maxConnections: g + 10 });
  let side: GroupSide | undefined;
  try {
    side = await openGroup(target, options);
    const rows = [];
    for (let r = 1; r <= options.repeats; r++) {
      await measureRun(side, options, `group ${g} members, run ${r}/${options.repeats}`);
      rows.push(runRow(`${r}`, side.runs.at(-1)!, options));
    }
    endProgress();
    const last = side.runs.at(-1)!;
    if (options.repeats > 1) {
      rows.push(medianRow("median", side, options));
    }
    return {
      title: `group — 1 sender, ${g} members, window ${options.window}`,
      headers: HEADERS,
      rows,
      notes: [
        `${target.description}; ${describeRuns(options)}`,
        LATENCY_NOTE,
        `Measured ${fmtInt(last.deliveries)} deliveries in ${last.seconds.toFixed(2)} s (last run).`,
      ],
      data: {
        target: target.description,
        serverArgs: target.serverArgs,
        ...last,
        runs: side.runs,
      },
    };
  } finally {
    closeGroup(side);
  }
}

function medianRow(label: string, side: GroupSide, options: BenchOptions) {
  const of = (pick: (run: GroupRun) => number) => median(side.runs.map(pick));
  return [
    label,
    `${side.members.length} × ${options.messages}`,
    options.window,
    fmtInt(of((run) => run.deliveriesPerSecond)),
    fmtInt(of((run) => run.messagesPerSecond)),
    fmtMs(of((run) => run.latency.p50)),
    fmtMs(of((run) => run.latency.p99)),
    fmtMs(of((run) => run.latency.p999)),
    fmtMs(of((run) => run.fanoutLatency.p99)),
    side.runs.reduce((sum, run) => sum + run.errors, 0),
    "",
    "",
    "",
  ];
}

/** `group --baseline`: the same group on both servers, interleaved round by round. */
async function groupAgainstBaseline(options: BenchOptions): Promise<ScenarioResult> {
  const g = options.members;
  progress(`extracting ${options.baseline} with git archive`);
  await using tree = await extractBaseline(options.baseline!);
  const needs = { maxConnections: g + 10 };
  await using current = await startTarget(options, needs);
  await using baseline = await startTarget(options, {
    ...needs,
    tree: { dir: tree.dir, label: tree.commit },
  });
  const sides: Partial<Record<SideName, GroupSide>> = {};
  try {
    sides.current = await openGroup(current, options);
    sides.baseline = await openGroup(baseline, options);
    const rows = [];
    for (let round = 1; round <= options.repeats; round++) {
      for (const name of sideOrder(round)) {
        const side = sides[name]!;
        await measureRun(side, options, `group ${g} members, ${name}, round ${round}/${options.repeats}`);
        rows.push(runRow(`${round} ${name}`, side.runs.at(-1)!, options));
      }
    }
    endProgress();
    const rates = (name: SideName) => sides[name]!.runs.map((run) => run.deliveriesPerSecond);
    const verdict = baselineVerdict(rates("current"), rates("baseline"));
    rows.push(medianRow("median current", sides.current, options));
    rows.push(medianRow("median baseline", sides.baseline, options));
    rows.push([`current / ${tree.commit}`, "", "", `${verdict.ratio.toFixed(2)}x`, ...Array(9).fill("")]);
    return {
      title:
        `group — 1 sender, ${g} members, window ${options.window}, the current server against ${tree.commit}`,
      headers: HEADERS,
      rows,
      notes: [
        `Current: ${current.description}. Baseline: ${baseline.description}, commit ${tree.hash} ` +
        `(git archive, its own deno.json, the same permissions and flags).`,
        `Each round: ${
          describeRuns(options)
        } ${options.repeats} interleaved rounds (the first side alternates).`,
        LATENCY_NOTE,
        describeVerdict(tree.commit, verdict) + " (deliveries/s).",
      ],
      data: {
        current: { target: current.description, serverArgs: current.serverArgs, runs: sides.current.runs },
        baseline: {
          commit: tree.commit,
          hash: tree.hash,
          target: baseline.description,
          serverArgs: baseline.serverArgs,
          runs: sides.baseline.runs,
        },
        ratio: verdict.ratio,
        ratioByRound: verdict.byRound,
        within: verdict.within,
      },
    };
  } finally {
    closeGroup(sides.current);
    closeGroup(sides.baseline);
    endProgress();
  }
}
