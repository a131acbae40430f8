/**
 * `pingpong --ceiling`: the server (one node the bench starts, embedded default, v2: every message stored
 * before its ACK) and the ceiling relay (`ceiling_server.ts`: parse, re-serialise, forward, ACK, nothing else)
 * measured in the same run, in interleaved rounds, so that both see the same machine. The figure is the
 * ratio of their median rates (the issue's target: at least 0.6x).
 *
 * @module
 */

import type { BenchOptions } from "./args.ts";
import { startCeilingRelay } from "./ceiling_process.ts";
import { CEILING_TARGET, ceilingRatio, roundOrder, roundRatios } from "./issue_targets.ts";
import { loginPairs, PingPong, type PingPongWindow, runFor, WINDOW_HEADERS, windowRow } from "./pingpong.ts";
import { type ProcessUsage, ProcessWatch } from "./process_stats.ts";
import { endProgress, fmtInt, fmtMs, type ScenarioResult } from "./report.ts";
import { median } from "./stats.ts";
import { startTarget } from "./target.ts";
import { registerUsers } from "./users.ts";

/** One side of a comparison run in interleaved rounds (also `pingpong --baseline`'s). */
export interface Side<Name extends string = "server" | "ceiling"> {
  name: Name;
  engine: PingPong;
  watch: ProcessWatch;
  windows: (PingPongWindow & { processes: ProcessUsage[] })[];
  /** Pairs whose last message of a round never arrived (lost, or stuck), summed over the rounds. */
  stalled: number;
}

/** Runs one measured window of `side` (warm-up first: each side was idle while the other ran). */
export async function measure<Name extends string>(
  side: Side<Name>,
  options: BenchOptions,
  label: string,
): Promise<PingPongWindow> {
  side.engine.start();
  try {
    if (options.warmup > 0) await runFor(side.engine, options.warmup, `${label} warm-up`);
    side.engine.window();
    await side.watch.start();
    await runFor(side.engine, options.duration, label);
    const window = side.engine.window();
    side.windows.push({ ...window, processes: await side.watch.stop() });
    return window;
  } finally {
    side.stalled += await side.engine.stop();
  }
}

/**
 * Measures two sides in `options.repeats` interleaved rounds, `order(round)` saying which goes first, and
 * closes both engines at the end. Returns one table row per measured window.
 */
export async function interleavedRounds<Name extends string>(
  sides: Record<Name, Side<Name>>,
  order: (round: number) => readonly Name[],
  options: BenchOptions,
): Promise<(string | number)[][]> {
  const rows: (string | number)[][] = [];
  try {
    for (let round = 1; round <= options.repeats; round++) {
      for (const name of order(round)) {
        const label = `pingpong ${options.pairs} pairs, ${name}, round ${round}/${options.repeats}`;
        const window = await measure(sides[name], options, label);
        rows.push(windowRow(`${round} ${name}`, window, sides[name].windows.at(-1)!.processes));
      }
    }
  } finally {
    for (const side of Object.values<Side<Name>>(sides)) side.engine.close();
    endProgress();
  }
  return rows;
}

/** The table row of a side's medians over its rounds. */
export function medianRow(side: Side<string>): (string | number)[] {
  return [
    `median ${side.name}`,
    fmtInt(median(side.windows.map((w) => w.messagesPerSecond))),
    fmtMs(median(side.windows.map((w) => w.latency.p50))),
    fmtMs(median(side.windows.map((w) => w.latency.p99))),
    fmtMs(median(side.windows.map((w) => w.latency.p999))),
    "",
    side.windows.reduce((sum, w) => sum + w.errors, 0),
    "",
    "",
    "",
  ];
}

/** A note per side whose pairs stalled in some round (the run then fails). */
export function stalledNotes(sides: readonly Side<string>[]): string[] {
  return sides.filter((side) => side.stalled > 0).map((side) =>
    `${side.name}: ${side.stalled} pairs did not receive their last message within 5 s of a round's end`
  );
}

/** The `pingpong --ceiling` scenario. */
export async function pingpongAgainstCeiling(options: BenchOptions): Promise<ScenarioResult> {
  await using target = await startTarget(options);
  await using relay = await startCeilingRelay();
  const count = options.pairs * 2;
  const serverUsers = await target.prepareUsers(count, options.hashCost ?? "cheap");
  const relayUsers = await registerUsers(relay.endpoint, count);
  const engineOptions = { v1: false, msgBytes: options.msgBytes, rate: options.rate };
  const sides: Record<Side["name"], Side> = {
    server: {
      name: "server",
      engine: new PingPong(
        await loginPairs(serverUsers, target.endpoints, { v1: false, sequential: false }),
        serverUsers,
        engineOptions,
      ),
      watch: new ProcessWatch(target.watch),
      windows: [],
      stalled: 0,
    },
    ceiling: {
      name: "ceiling",
      engine: new PingPong(
        await loginPairs(relayUsers, [relay.endpoint, relay.endpoint], { v1: false, sequential: false }),
        relayUsers,
        engineOptions,
      ),
      watch: new ProcessWatch([{ name: "ceiling", pid: relay.pid }]),
      windows: [],
      stalled: 0,
    },
  };
  const rows = await interleavedRounds(sides, roundOrder, options);
  const rates = (side: Side) => side.windows.map((w) => w.messagesPerSecond);
  const { ratio, met } = ceilingRatio(rates(sides.server), rates(sides.ceiling));
  for (const side of [sides.server, sides.ceiling]) rows.push(medianRow(side));
  rows.push(["server / ceiling", `${ratio.toFixed(2)}x`, "", "", "", "", "", "", "", ""]);
  const stalled = stalledNotes([sides.server, sides.ceiling]);
  return {
    title: `pingpong — ${options.pairs} pairs, the server against the ceiling relay`,
    headers: WINDOW_HEADERS,
    rows,
    notes: [
      `Server: ${target.description}, protocol v2: every message stored in its conversation before its ACK. ` +
      `Ceiling: tests/bench/ceiling_server.ts (parses, re-serialises, forwards and ACKs; stores nothing).`,
      `${options.pairs} pairs each, ${options.msgBytes}-character messages, ${
        options.rate ? `paced at ${options.rate} messages/s per pair` : "closed loop"
      }; ${options.repeats} interleaved rounds (the first side alternates), ${options.warmup} s warm-up and ` +
      `${options.duration} s measured per side and round.`,
      `Target: server ≥ ${CEILING_TARGET}x the ceiling (median rates) → ${met ? "met" : "missed"} (${
        ratio.toFixed(2)
      }x); by round: ${
        roundRatios(rates(sides.server), rates(sides.ceiling)).map((r) => `${r.toFixed(2)}x`).join(", ")
      }.`,
      ...stalled,
    ],
    data: {
      target: target.description,
      serverArgs: target.serverArgs,
      server: sides.server.windows,
      ceiling: sides.ceiling.windows,
      ratio,
      met,
    },
    failed: stalled.length > 0 ? stalled.join("; ") : undefined,
  };
}
