/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`, or `deno task bench … --cpu-prof DIR`): the
 * functions with the most self time, the project's own functions (`lib/`, `main.ts`) with their self and
 * total (inclusive) time, and the busy time split by activity (SQLite, JSON, socket reads and writes, the
 * rest: {@linkcode byActivity}).
 *
 * Usage: `deno run --allow-read tests/bench/profile_summary.ts FILE.cpuprofile [--top N]`
 *
 * @module
 */

import { parseArgs } from "node:util";

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

/** The parts of a V8 `.cpuprofile` read here. */
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Self and total time of one function, in microseconds. */
export interface FunctionTime {
  name: string;
  self: number;
  total: number;
}

/** A frame as `name path:line`, the path from the project's root (or `node_modules/`). */
export function label(frame: CallFrame): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  const path = frame.url.replace(/^file:\/\//, "").replace(
    /^.*?\/(lib\/|main\.ts|tests\/|node_modules\/)/,
    "$1",
  )
    .replace(/^ext:/, "ext:");
  return `${name} ${path}:${frame.lineNumber + 1}`;
}

/** Aggregates self and total time per function (recursion counted once per sample). */
export function summarise(profile: CpuProfile): { totalUs: number; functions: FunctionTime[] } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const selfByNode = new Map<number, number>();
  profile.samples.forEach((id, index) => {
    selfByNode.set(id, (selfByNode.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  const times = new Map<string, FunctionTime>();
  const entry = (name: string) => {
    let time = times.get(name);
    if (!time) times.set(name, time = { name, self: 0, total: 0 });
    return time;
  };
  let totalUs = 0;
  for (const [id, us] of selfByNode) {
    totalUs += us;
    const node = byId.get(id)!;
    entry(label(node.callFrame)).self += us;
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const name = label(byId.get(at)!.callFrame);
      if (seen.has(name)) continue;
      seen.add(name);
      entry(name).total += us;
    }
  }
  return { totalUs, functions: [...times.values()] };
}

/**
 * The activities a sample can be charged to, in order: a sample goes to the first one with a frame anywhere on
 * its stack, so that what runs inside the SQLite store (a frame built inside the append transaction) is
 * SQLite's, and a reply written from within the read loop is a write.
 */
const ACTIVITIES: readonly { name: string; frame: RegExp }[] = [
  { name: "idle", frame: /^\(idle\)/ },
  { name: "SQLite store calls (lib/store/sqlite_*)", frame: / lib\/store\/sqlite_/ },
  { name: "JSON encode (lib/protocol frames)", frame: / lib\/protocol\/(encode|\w+_frames)\.ts/ },
  { name: "JSON parse and validation (lib/protocol requests)", frame: / lib\/protocol\/(\w+_)?requests\.ts/ },
  {
    name: "socket writes (output queue, op_write)",
    frame: /^op_write$|^#flush lib\/net\/|lib\/net\/outbound\.ts/,
  },
  {
    name: "socket reads (read loop, framing, op_read)",
    frame: /^op_read$|^#readLoop lib\/net\/|lib\/net\/frame_decoder\.ts/,
  },
  { name: "garbage collector", frame: /^\(garbage collector\)$/ },
];

/** What the rest of the busy time is: dispatch, delivery, sessions, the runtime. */
const OTHER_ACTIVITY = "other (dispatch, delivery, sessions, runtime)";

/**
 * Splits the profile's sampled time by activity ({@linkcode ACTIVITIES}): microseconds per activity, idle
 * included, largest first.
 */
export function byActivity(profile: CpuProfile): { name: string; us: number }[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const activityOf = new Map<number, string>();
  const classify = (id: number): string => {
    let activity = activityOf.get(id);
    if (activity !== undefined) return activity;
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      stack.push(label(byId.get(at)!.callFrame));
    }
    activity = ACTIVITIES.find((candidate) => stack.some((frame) => candidate.frame.test(frame)))?.name ??
      OTHER_ACTIVITY;
    activityOf.set(id, activity);
    return activity;
  };
  const times = new Map<string, number>();
  profile.samples.forEach((id, index) => {
    const activity = classify(id);
    times.set(activity, (times.get(activity) ?? 0) + (profile.timeDeltas[index] ?? 0));
  });
  return [...times].map(([name, us]) => ({ name, us })).toSorted((a, b) => b.us - a.us);
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { top: { type: "string" } },
  });
  if (positionals.length !== 1) {
    console.error("usage: profile_summary.ts FILE.cpuprofile [--top N]");
    Deno.exit(2);
  }
  const top = Number(values.top ?? 25);
  const profile = JSON.parse(await Deno.readTextFile(positionals[0])) as CpuProfile;
  const { totalUs, functions } = summarise(profile);
  const pct = (us: number) => `${(us / totalUs * 100).toFixed(1).padStart(5)}%`;
  const idle = functions.find((f) => f.name === "(idle)")?.self ?? 0;
  console.log(`profile: ${(totalUs / 1e6).toFixed(1)} s sampled, ${pct(idle)} idle\n`);
  console.log("Top self time:");
  for (const f of functions.toSorted((a, b) => b.self - a.self).slice(0, top)) {
    console.log(`  ${pct(f.self)} self ${pct(f.total)} total  ${f.name}`);
  }
  console.log("\nProject functions (lib/, main.ts) by total time:");
  for (
    const f of functions.filter((f) => /\s(lib\/|main\.ts)/.test(f.name)).toSorted((a, b) =>
      b.total - a.total
    )
      .slice(0, top)
  ) {
    console.log(`  ${pct(f.total)} total ${pct(f.self)} self  ${f.name}`);
  }
  const activities = byActivity(profile);
  const busyUs = activities.reduce((sum, a) => sum + (a.name === "idle" ? 0 : a.us), 0);
  console.log(`\nBusy time (${(busyUs / 1e6).toFixed(1)} s) by activity:`);
  for (const activity of activities.filter((a) => a.name !== "idle")) {
    console.log(`  ${(activity.us / busyUs * 100).toFixed(1).padStart(5)}%  ${activity.name}`);
  }
}
