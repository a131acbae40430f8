import assert from "node:assert/strict";
import { realClock } from "../lib/db/clock.ts";
import { FakeClock } from "./harness/fake_clock.ts";

function test(name: string, fn: () => void | Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

test("FakeClock.advance() runs due timers in order of due time, then of scheduling, at their due time", () => {
  const clock = new FakeClock();
  const fired: string[] = [];
  clock.schedule(() => fired.push(`b@${clock.now()}`), 20);
  clock.schedule(() => fired.push(`a@${clock.now()}`), 10);
  clock.schedule(() => fired.push(`c@${clock.now()}`), 20);
  clock.advance(9);
  assert.deepEqual(fired, []);
  assert.equal(clock.pending, 3);
  clock.advance(11);
  assert.deepEqual(fired, ["a@10", "b@20", "c@20"]);
  assert.equal(clock.now(), 20);
  assert.equal(clock.pending, 0);
});

test("FakeClock.advance() also runs the timers that callbacks schedule within the span", () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  const tick = () => {
    fired.push(clock.now());
    clock.schedule(tick, 5);
  };
  clock.schedule(tick, 5);
  clock.advance(17);
  assert.deepEqual(fired, [5, 10, 15]);
  assert.equal(clock.now(), 17);
  assert.equal(clock.pending, 1);
});

test("FakeClock.schedule() returns a cancel that is a no-op once the timer ran", () => {
  const clock = new FakeClock();
  let runs = 0;
  const cancelled = clock.schedule(() => runs++, 1);
  const kept = clock.schedule(() => runs++, 1);
  cancelled();
  clock.advance(1);
  assert.equal(runs, 1);
  kept();
  assert.equal(clock.pending, 0);
});

test("FakeClock rejects a negative delay or step", () => {
  const clock = new FakeClock();
  assert.throws(() => clock.schedule(() => {}, -1), /delay must be ≥ 0, got -1/);
  assert.throws(() => clock.advance(NaN), /ms must be ≥ 0, got NaN/);
  assert.equal(clock.pending, 0);
});

test("realClock.schedule() fires once on real time and its cancel stops a timer", async () => {
  const { promise, resolve } = Promise.withResolvers<number>();
  const started = realClock.now();
  let cancelledRan = false;
  const cancel = realClock.schedule(() => cancelledRan = true, 1);
  // Due after the cancelled one: had the cancel not worked, that one would have run first.
  realClock.schedule(() => resolve(realClock.now()), 5);
  cancel();
  assert.ok(await promise >= started);
  assert.equal(cancelledRan, false);
});
