/**
 * `pingpong --baseline COMMIT`: the current server and the server of COMMIT (its tree from `git archive`,
 * run with its own `deno.json`), one node each with an embedded store (or, with `--cluster`, a whole cluster
 * each: MariaDB, Redis, two nodes and nginx), measured in the same run in interleaved rounds (as `--ceiling`
 * interleaves the relay), so that both see the same machine; the side not measured sits idle. The figure is
 * current / baseline of the median rates (issue 13: within 10%).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { extractBaseline } from "./baseline_tree.ts";
import { loginPairs, PingPong, WINDOW_HEADERS } from "./pingpong.ts";
import { interleavedRounds, medianRow, type Side, stalledNotes } from "./pingpong_ceiling.ts";
import { ProcessWatch } from "./process_stats.ts";
import { progress, type ScenarioResult } from "./report.ts";
import { baselineVerdict, describeVerdict, type SideName, sideOrder } from "./side_by_side.ts";
import { startTarget, type Target } from "./target.ts";

/** Logs in the pairs of `target` and wraps them in an engine, as one side of the comparison. */
async function sideOf(
  name: SideName,
  target: Target,
  options: BenchOptions,
): Promise<Side<SideName>> {
  const users = await target.prepareUsers(options.pairs * 2, options.hashCost ?? "cheap");
  // Through nginx, logging in one at a time makes least_conn alternate nodes, so each pair spans both.
  const clients = await loginPairs(users, target.endpoints, { v1: options.v1, sequential: options.cluster });
  return {
    name,
    engine: new PingPong(clients, users, { v1: options.v1, msgBytes: options.msgBytes, rate: options.rate }),
    watch: new ProcessWatch(target.watch),
    windows: [],
    stalled: 0,
  };
}

/** How many pairs span both nodes on each side, as their first ACKs' mids tell (cluster runs). */
function acrossNodes(sides: Record<SideName, Side<SideName>>): string {
  return "Pairs across nodes (from the node id in each side's first ACK mid): " +
    (["current", "baseline"] as const).map((name) => {
      const { across, known } = sides[name].engine.acrossNodes();
      return `${name} ${known > 0 ? `${across}/${known}` : "unknown"}`;
    }).join(", ") + ".";
}

/** The `pingpong --baseline` scenario. */
export async function pingpongAgainstBaseline(options: BenchOptions): Promise<ScenarioResult> {
  progress(`extracting ${options.baseline} with git archive`);
  await using tree = await extractBaseline(options.baseline!);
  await using current = await startTarget(options);
  await using baseline = await startTarget(options, { tree: { dir: tree.dir, label: tree.commit } });
  const sides: Record<SideName, Side<SideName>> = {
    current: await sideOf("current", current, options),
    baseline: await sideOf("baseline", baseline, options),
  };
  const rows = await interleavedRounds(sides, sideOrder, options);
  const rates = (side: Side<SideName>) => side.windows.map((w) => w.messagesPerSecond);
  const verdict = baselineVerdict(rates(sides.current), rates(sides.baseline));
  for (const side of [sides.current, sides.baseline]) rows.push(medianRow(side));
  rows.push([`current / ${tree.commit}`, `${verdict.ratio.toFixed(2)}x`, "", "", "", "", "", "", "", ""]);
  const stalled = stalledNotes([sides.current, sides.baseline]);
  return {
    title: `pingpong — ${options.pairs} pairs${
      options.cluster ? " across 2 nodes" : ""
    }, the current server against ${tree.commit}`,
    headers: WINDOW_HEADERS,
    rows,
    notes: [
      `Current: ${current.description}. Baseline: ${baseline.description}, commit ${tree.hash} ` +
      `(git archive, its own deno.json, the same permissions and flags).`,
      `${options.pairs} pairs each, ${
        options.v1 ? "protocol v1" : "protocol v2"
      }, ${options.msgBytes}-character ` +
      `messages, ${options.rate ? `paced at ${options.rate} messages/s per pair` : "closed loop"}; ` +
      `${options.repeats} interleaved rounds (the first side alternates), ${options.warmup} s warm-up and ` +
      `${options.duration} s measured per side and round.`,
      describeVerdict(tree.commit, verdict) + ".",
      ...(options.cluster ? [acrossNodes(sides)] : []),
      ...stalled,
    ],
    data: {
      current: {
        target: current.description,
        serverArgs: current.serverArgs,
        windows: sides.current.windows,
      },
      baseline: {
        commit: tree.commit,
        hash: tree.hash,
        target: baseline.description,
        serverArgs: baseline.serverArgs,
        windows: sides.baseline.windows,
      },
      ratio: verdict.ratio,
      ratioByRound: verdict.byRound,
      within: verdict.within,
    },
    failed: stalled.length > 0 ? stalled.join("; ") : undefined,
  };
}
