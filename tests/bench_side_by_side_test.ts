import assert from "node:assert/strict";
import { BASELINE_TOLERANCE, baselineVerdict, describeVerdict, sideOrder } from "./bench/side_by_side.ts";

Deno.test("sideOrder() alternates which server runs first, starting with the current one", () => {
  assert.deepEqual([1, 2, 3, 4].map(sideOrder), [
    ["current", "baseline"],
    ["baseline", "current"],
    ["current", "baseline"],
    ["baseline", "current"],
  ]);
});

Deno.test("baselineVerdict() divides the medians and keeps each round's ratio", () => {
  const verdict = baselineVerdict([95, 80, 90], [100, 100, 100]);
  assert.equal(verdict.ratio, 0.9);
  assert.deepEqual(verdict.byRound, [0.95, 0.8, 0.9]);
  assert.equal(verdict.within, true);
  // The median of each side, not of the per-round ratios.
  assert.equal(baselineVerdict([10, 30, 20], [40, 20, 30]).ratio, 20 / 30);
});

Deno.test("baselineVerdict() is within exactly at 10% slower, missed below, and within when faster", () => {
  assert.equal(BASELINE_TOLERANCE, 0.1);
  assert.equal(baselineVerdict([18_000], [20_000]).within, true);
  assert.equal(baselineVerdict([17_999], [20_000]).within, false);
  assert.equal(baselineVerdict([25_000], [20_000]).within, true);
});

Deno.test("baselineVerdict() refuses rounds that do not pair up", () => {
  assert.throws(() => baselineVerdict([], []), /one rate of each per round, got 0 and 0/);
  assert.throws(() => baselineVerdict([1, 2], [1]), /one rate of each per round, got 2 and 1/);
});

Deno.test("describeVerdict() names the baseline, the ratio, the target and the rounds", () => {
  assert.equal(
    describeVerdict("d0d2d5b", baselineVerdict([95, 75], [100, 100])),
    "current / d0d2d5b (median rates): 0.85x; target ≥ 0.90x (within 10%): missed; by round: 0.95x, 0.75x",
  );
  assert.match(describeVerdict("x", baselineVerdict([95], [100])), /: met; by round: 0.95x$/);
});
