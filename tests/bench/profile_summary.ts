/**
 * Summarises a V8 `.cpuprofile` (from `deno run --cpu-prof`, or `deno task bench … --cpu-prof DIR`): the
 * functions with the most self time, and the project's own functions (`lib/`, `main.ts`) with their self and
 * total (inclusive) time.
 *
 * Usage: `deno run --allow-read tests/bench/profile_summary.ts FILE.cpuprofile [--top N]`
 *
 * @module
 */

import { parseArgs } from "node:util";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
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

function label(frame: CallFrame): string {
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
}
