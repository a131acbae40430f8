import assert from "node:assert/strict";
import { describeStall, findStalls } from "./bench/profile_stalls.ts";
import type { CpuProfile } from "./bench/profile_summary.ts";

/** root → idle; root → appendMessages (lib/); root → (garbage collector). Samples 5 ms apart. */
function profile(): CpuProfile {
  const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 4] },
      { id: 2, callFrame: frame("(idle)") },
      { id: 3, callFrame: frame("appendMessages", "file:///work/app/lib/store/sqlite_messages.ts") },
      { id: 4, callFrame: frame("(garbage collector)") },
    ],
    startTime: 1_000,
    endTime: 36_000,
    // idle, then 15 ms busy (two appends and a collection), idle, 5 ms busy, idle.
    samples: [2, 3, 3, 4, 2, 3, 2],
    timeDeltas: [0, 5_000, 5_000, 5_000, 5_000, 5_000, 5_000],
  };
}

Deno.test("findStalls() finds the busy stretches between idle samples that last at least the minimum", () => {
  const stalls = findStalls(profile(), 10_000);
  assert.deepEqual(stalls.map((stall) => [stall.startUs, stall.us]), [[5_000, 15_000]]);
  assert.equal(findStalls(profile(), 5_000).length, 2);
});

Deno.test("describeStall() names the stretch's leaf functions and the project's frames, largest first", () => {
  const [stall] = findStalls(profile(), 10_000);
  assert.deepEqual(describeStall(profile(), stall, 5), [
    "at 0.005 s: 15.0 ms busy",
    "  leaf   10.0 ms  appendMessages lib/store/sqlite_messages.ts:1",
    "  leaf    5.0 ms  (garbage collector)",
    "  lib    10.0 ms  appendMessages lib/store/sqlite_messages.ts:1",
  ]);
});
