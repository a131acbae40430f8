import assert from "node:assert/strict";
import {
  CEILING_TARGET,
  ceilingRatio,
  P99_RATIO_TARGET,
  p99Verdict,
  roundOrder,
  roundRatios,
} from "./bench/issue_targets.ts";
import { median } from "./bench/stats.ts";

Deno.test("roundOrder() alternates which side of pingpong --ceiling runs first", () => {
  assert.deepEqual([1, 2, 3, 4].map(roundOrder), [
    ["server", "ceiling"],
    ["ceiling", "server"],
    ["server", "ceiling"],
    ["ceiling", "server"],
  ]);
});

Deno.test("ceilingRatio() divides the median rates and meets the target from 0.6x on", () => {
  assert.deepEqual(ceilingRatio([60, 10, 70], [100, 100, 0]), { ratio: 0.6, met: true });
  assert.equal(CEILING_TARGET, 0.6);
  const below = ceilingRatio([59], [100]);
  assert.equal(below.met, false);
  assert.equal(below.ratio, 0.59);
  assert.equal(ceilingRatio([30, 40], [50, 50]).ratio, 0.7);
});

Deno.test("p99Verdict() meets the target up to twice the quiet p99", () => {
  assert.deepEqual(p99Verdict(2, 4), { ratio: 2, met: true });
  assert.deepEqual(p99Verdict(2, 4.2), { ratio: 2.1, met: false });
  assert.equal(P99_RATIO_TARGET, 2);
});

Deno.test("median() takes the middle value, or the mean of the two middle ones; NaN for none", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([7]), 7);
  assert.ok(Number.isNaN(median([])));
});

Deno.test("roundRatios() divides each round's server rate by the same round's ceiling rate", () => {
  assert.deepEqual(roundRatios([30, 40, 45], [60, 50, 90]), [0.5, 0.8, 0.5]);
  assert.deepEqual(roundRatios([], []), []);
});
