/** `lib/ops/memory_bound.ts`: the RSS against `--max-memory`, read on a timer. */
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { MemoryBound } from "../lib/ops/memory_bound.ts";

const sanitize = { sanitizeOps: true, sanitizeResources: true };

Deno.test("MemoryBound.reached is true at or above the bound, from the last sample only", sanitize, () => {
  let rss = 99;
  using bound = new MemoryBound({ maxBytes: 100, readRss: () => rss, intervalMs: 60_000 });
  assert.equal(bound.reached, false);
  rss = 100;
  assert.equal(bound.reached, false, "not sampled yet");
  bound.sample();
  assert.deepEqual([bound.reached, bound.rss], [true, 100]);
  rss = 150;
  bound.sample();
  assert.equal(bound.reached, true);
  rss = 10;
  bound.sample();
  assert.equal(bound.reached, false, "below the bound again: accepted again");
});

Deno.test("MemoryBound samples on its timer", sanitize, async () => {
  let reads = 0;
  using bound = new MemoryBound({ maxBytes: 100, readRss: () => ++reads * 40, intervalMs: 10 });
  assert.equal(reads, 1, "one read when made");
  while (!bound.reached) await delay(5);
  assert.ok(bound.rss >= 100);
});

Deno.test("MemoryBound with maxBytes 0 is off: never reached, never reads the RSS", sanitize, () => {
  using bound = new MemoryBound({
    maxBytes: 0,
    readRss: () => {
      throw new Error("read");
    },
  });
  assert.deepEqual([bound.reached, bound.rss], [false, 0]);
});

Deno.test("MemoryBound refuses a negative or fractional bound", () => {
  for (const maxBytes of [-1, 1.5, NaN]) {
    assert.throws(
      () => new MemoryBound({ maxBytes }),
      new RangeError(`MemoryBound: maxBytes must be an integer >= 0, got ${maxBytes}`),
    );
  }
});
