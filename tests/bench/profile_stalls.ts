/**
 * Finds the event-loop stalls in a V8 `.cpuprofile` (from `deno task bench … --cpu-prof DIR`): stretches of
 * consecutive samples in which the thread never went idle, longer than `--min-ms`, each with when it started
 * (seconds from the profile's start), how long it lasted, and where its time went (the leaf functions and the
 * project's own frames on the stack). A stall blocks every connection's chat, so one of 100 ms decides a p99
 * of 10,000 messages; this says which code it was.
 *
 * A sample taken while the thread waits inside a system call (an fsync, SQLite's busy-timeout sleep) is
 * charged to the JavaScript frame that made the call, so a stretch also shows waits, not only CPU.
 *
 * Usage: `deno run --allow-read tests/bench/profile_stalls.ts FILE.cpuprofile [--min-ms 10] [--top 6]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type CpuProfile, label } from "./profile_summary.ts";

/** One stretch of busy samples. */
export interface Stall {
  /** Microseconds from the profile's start to the stretch's first sample. */
  startUs: number;
  /** Microseconds the stretch lasted (the sum of its samples' intervals). */
  us: number;
  /** Node ids of its samples, with the microseconds charged to each. */
  samples: Map<number, number>;
}

/**
 * The stretches of samples that are not `(idle)` lasting at least `minUs`, in time order. A sample's time is the
 * interval to the next sample (the time the thread spent as that sample shows it).
 */
export function findStalls(profile: CpuProfile, minUs: number): Stall[] {
  const idle = new Set(
    profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id),
  );
  const stalls: Stall[] = [];
  let current: Stall | undefined;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i];
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (idle.has(id)) {
      if (current && current.us >= minUs) stalls.push(current);
      current = undefined;
      continue;
    }
    current ??= { startUs: at - profile.startTime, us: 0, samples: new Map() };
    current.us += us;
    current.samples.set(id, (current.samples.get(id) ?? 0) + us);
  }
  if (current && current.us >= minUs) stalls.push(current);
  return stalls;
}

/** Where a stall's time went: leaf functions, and the project's frames (`lib/`) anywhere on the stack. */
export function describeStall(profile: CpuProfile, stall: Stall, top: number): string[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const leaves = new Map<string, number>();
  const project = new Map<string, number>();
  for (const [id, us] of stall.samples) {
    const leaf = label(byId.get(id)!.callFrame);
    leaves.set(leaf, (leaves.get(leaf) ?? 0) + us);
    const seen = new Set<string>();
    for (let node: number | undefined = id; node !== undefined; node = parent.get(node)) {
      const name = label(byId.get(node)!.callFrame);
      if (!/ lib\//.test(name) || seen.has(name)) continue;
      seen.add(name);
      project.set(name, (project.get(name) ?? 0) + us);
    }
  }
  const ms = (us: number) => `${(us / 1000).toFixed(1).padStart(6)} ms`;
  const sorted = (map: Map<string, number>) => [...map].toSorted((a, b) => b[1] - a[1]).slice(0, top);
  return [
    `at ${(stall.startUs / 1e6).toFixed(3)} s: ${(stall.us / 1000).toFixed(1)} ms busy`,
    ...sorted(leaves).map(([name, us]) => `  leaf ${ms(us)}  ${name}`),
    ...sorted(project).map(([name, us]) => `  lib  ${ms(us)}  ${name}`),
  ];
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: { "min-ms": { type: "string" }, top: { type: "string" } },
  });
  if (positionals.length !== 1) {
    console.error("usage: profile_stalls.ts FILE.cpuprofile [--min-ms 10] [--top 6]");
    Deno.exit(2);
  }
  const minMs = Number(values["min-ms"] ?? 10);
  const top = Number(values.top ?? 6);
  const profile = JSON.parse(await Deno.readTextFile(positionals[0])) as CpuProfile;
  const stalls = findStalls(profile, minMs * 1000);
  const seconds = (profile.endTime - profile.startTime) / 1e6;
  console.log(
    `${stalls.length} stretches busy for ${minMs} ms or more in ${seconds.toFixed(1)} s of profile`,
  );
  for (const stall of stalls) console.log(describeStall(profile, stall, top).join("\n"));
}
