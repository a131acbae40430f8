/**
 * `tokens --baseline COMMIT`: the token login storm on the current server and on the server of COMMIT (its
 * tree from `git archive`), a new node of each per round, the first side alternating (`side_by_side.ts`), so
 * that a machine getting busier or quieter during the run favours neither. One run of `tokens` moves by more
 * than most changes do (its p99 ratio went from 1.96x to 4.95x between runs of the same code), so a change is
 * only judged against the code before it in the same run.
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { extractBaseline } from "./baseline_tree.ts";
import { fmtInt, fmtMs, fmtProcesses, loadgenCpu, progress, type ScenarioResult } from "./report.ts";
import { type SideName, sideOrder } from "./side_by_side.ts";
import { median } from "./stats.ts";
import { chatDuringLogins, type LoginStormSpec, type StormOutcome } from "./storm.ts";

/** One side's run in one round. */
interface SideRun extends StormOutcome {
  side: SideName;
  round: number;
}

const HEADERS = [
  "round",
  "server",
  "idle p99 ms",
  "storm p99 ms",
  "storm max ms",
  "p99 ratio",
  "logins/s",
  "server CPU (storm)",
  "loadgen / other CPU (storm)",
];

function runRow(run: SideRun, label: string): string[] {
  return [
    String(run.round),
    label,
    fmtMs(run.quiet.latency.p99),
    fmtMs(run.storm.latency.p99),
    fmtMs(run.storm.latency.max),
    `${run.p99Ratio.toFixed(2)}×`,
    fmtInt(run.storm.logins.loginsPerSecond),
    fmtProcesses(run.storm.processes).cpu,
    loadgenCpu(run.storm.processes),
  ];
}

/** The medians of one side's runs, as a table row. */
function medianRow(runs: SideRun[], label: string): string[] {
  const of = (pick: (run: SideRun) => number) => median(runs.map(pick));
  return [
    "median",
    label,
    fmtMs(of((run) => run.quiet.latency.p99)),
    fmtMs(of((run) => run.storm.latency.p99)),
    fmtMs(of((run) => run.storm.latency.max)),
    `${of((run) => run.p99Ratio).toFixed(2)}×`,
    fmtInt(of((run) => run.storm.logins.loginsPerSecond)),
    "",
    "",
  ];
}

/** The side-by-side run of `spec` (the `tokens` storm) against `options.baseline`. */
export async function tokensAgainstBaseline(
  options: BenchOptions,
  spec: LoginStormSpec,
): Promise<ScenarioResult> {
  progress(`extracting ${options.baseline} with git archive`);
  await using tree = await extractBaseline(options.baseline!);
  const runs: SideRun[] = [];
  let description = { current: "", baseline: "" };
  for (let round = 1; round <= options.repeats; round++) {
    for (const side of sideOrder(round)) {
      const needs = side === "baseline" ? { tree: { dir: tree.dir, label: tree.commit } } : {};
      const result = await chatDuringLogins(options, spec, needs);
      const data = result.data;
      description = { ...description, [side]: data.target };
      runs.push({ side, round, quiet: data.quiet, storm: data.storm, p99Ratio: data.p99Ratio });
    }
  }
  const label = { current: "current", baseline: tree.commit };
  const of = (side: SideName) => runs.filter((run) => run.side === side);
  const medianOf = (side: SideName, pick: (run: SideRun) => number) => median(of(side).map(pick));
  const ratio = (pick: (run: SideRun) => number) => medianOf("current", pick) / medianOf("baseline", pick);
  const stormP99 = ratio((run) => run.storm.latency.p99);
  const logins = ratio((run) => run.storm.logins.loginsPerSecond);
  return {
    title:
      `tokens — chat p99 of ${options.stormPairs} pairs during token logins of ${options.workers} workers, ` +
      `the current server against ${tree.commit}`,
    headers: HEADERS,
    rows: [
      ...runs.map((run) => runRow(run, label[run.side])),
      medianRow(of("current"), "current"),
      medianRow(of("baseline"), tree.commit),
    ],
    notes: [
      `Current: ${description.current}. Baseline: ${description.baseline}, commit ${tree.hash} ` +
      `(git archive, its own deno.json, the same permissions and flags).`,
      `Each round starts a new node of each side and runs ${options.warmup} s warm-up and ${options.duration} s ` +
      `of chat alone, then the same during the storm of ${options.workers} token login workers; ` +
      `${options.repeats} rounds, the first side alternating.`,
      `current / ${tree.commit} (medians): p99 ratio ${
        medianOf("current", (run) => run.p99Ratio).toFixed(2)
      }× ` +
      `against ${medianOf("baseline", (run) => run.p99Ratio).toFixed(2)}×; storm p99 ${
        stormP99.toFixed(2)
      }x; ` +
      `token logins/s ${logins.toFixed(2)}x.`,
    ],
    data: { baseline: { commit: tree.commit, hash: tree.hash }, description, runs },
  };
}
