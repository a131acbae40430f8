import assert from "node:assert/strict";
import { ConcurrencyLimit } from "../lib/service/concurrency_limit.ts";
import { TimeShare } from "../lib/service/time_share.ts";
import { FakeClock } from "./harness/fake_clock.ts";

Deno.test("TimeShare charges the time tasks are in flight and refills at its share of real time", () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.5, { clock, boundMs: 10 });
  assert.equal(share.budgetMs, 10, "a new share starts full");
  assert.equal(share.msUntilFree(), 0);
  share.started();
  clock.advance(8);
  assert.equal(share.budgetMs, 6, "in flight: spent at 1 - share");
  share.started();
  clock.advance(8);
  assert.equal(share.budgetMs, 2, "two tasks in flight at once cost the same as one");
  share.ended();
  clock.advance(8);
  assert.equal(share.budgetMs, -2);
  assert.equal(share.msUntilFree(), Infinity, "a task in flight: its end asks again");
  share.ended();
  assert.equal(share.msUntilFree(), 4, "-2 ms refilled at 0.5 takes 4 ms");
  clock.advance(4);
  assert.equal(share.msUntilFree(), 0);
  clock.advance(100);
  assert.equal(share.budgetMs, 10, "what an idle stretch saves up is bounded");
});

Deno.test("TimeShare bounds what one long task can overdraw", () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.25, { clock, boundMs: 5 });
  share.started();
  clock.advance(10_000);
  share.ended();
  assert.equal(share.budgetMs, -5);
  assert.equal(share.msUntilFree(), 20, "the wait after it is at most boundMs / share");
});

Deno.test("TimeShare with a share of 1 is never spent", () => {
  const clock = new FakeClock();
  const share = new TimeShare(1, { clock });
  share.started();
  clock.advance(1_000);
  assert.equal(share.msUntilFree(), 0);
  share.ended();
});

Deno.test("TimeShare refuses a share outside (0, 1], a bad bound, and an end without a start", () => {
  for (const value of [0, -0.5, 1.01, NaN]) {
    assert.throws(
      () => new TimeShare(value),
      new RangeError(`TimeShare: share must be above 0 and at most 1, got ${value}`),
    );
  }
  for (const value of [0, -1, Infinity, NaN]) {
    assert.throws(
      () => new TimeShare(0.5, { boundMs: value }),
      new RangeError(`TimeShare: boundMs must be a finite number above 0, got ${value}`),
    );
  }
  assert.throws(() => new TimeShare(0.5).ended(), /ended\(\) without a task in flight/);
});

/** Settles the promise jobs queued so far (the tasks' starts and ends). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("ConcurrencyLimit with a share starts waiters only while it is not spent, then after a timer", async () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.5, { clock, boundMs: 2 });
  const limit = new ConcurrencyLimit(8, { share });
  const started: number[] = [];
  const gates = [1, 2, 3].map(() => Promise.withResolvers<void>());
  const results = gates.map((gate, index) =>
    limit.run(async () => {
      started.push(index);
      await gate.promise;
    })
  );
  await settle();
  assert.deepEqual(started, [0, 1, 2], "a full share: all start at once (slots are free)");
  clock.advance(6);
  gates[0].resolve();
  gates[1].resolve();
  gates[2].resolve();
  await Promise.all(results);
  assert.equal(share.budgetMs, -1, "6 ms in flight, 3 refilled: the 2 ms saved up are overdrawn by 1");

  const later = [3, 4].map((index) => limit.run(() => Promise.resolve(void started.push(index))));
  await settle();
  assert.deepEqual(started, [0, 1, 2], "the share is spent: the newcomers wait");
  assert.equal(limit.waiting, 2);
  assert.equal(clock.pending, 1, "one timer waits for the refill, however many wait");
  clock.advance(1.9);
  await settle();
  assert.deepEqual(started, [0, 1, 2]);
  clock.advance(0.1);
  await Promise.all(later);
  assert.deepEqual(started, [0, 1, 2, 3, 4], "refilled after 2 ms: both start (they take no time)");
  assert.equal(clock.pending, 0);
});

Deno.test("ConcurrencyLimit with a share sets no timer while a task in flight will ask again at its end", async () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.5, { clock, boundMs: 1 });
  const limit = new ConcurrencyLimit(2, { share });
  const gate = Promise.withResolvers<void>();
  const started: string[] = [];
  const first = limit.run(async () => {
    started.push("first");
    await gate.promise;
  });
  await settle();
  clock.advance(4);
  const second = limit.run(() => Promise.resolve(void started.push("second")));
  await settle();
  assert.deepEqual(started, ["first"], "spent while the first runs: the second waits with a slot free");
  assert.equal(clock.pending, 0, "no timer: the first's end asks again");
  gate.resolve();
  await first;
  await settle();
  assert.equal(clock.pending, 1, "at the first's end the share is overdrawn: a timer now");
  clock.advance(2);
  await second;
  assert.deepEqual(started, ["first", "second"]);
});

Deno.test("ConcurrencyLimit with a share and one per turn starts one per turn while the share lasts", async () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.5, { clock, boundMs: 1 });
  const turns: (() => void)[] = [];
  const limit = new ConcurrencyLimit(8, {
    handOff: "one per turn",
    nextTurn: (callback) => turns.push(callback),
    share,
  });
  const started: number[] = [];
  const results = [0, 1, 2].map((index) =>
    limit.run(() => {
      started.push(index);
      clock.advance(3); // each task takes 3 ms in flight
      return Promise.resolve();
    })
  );
  await settle();
  assert.deepEqual(started, [0]);
  assert.equal(share.budgetMs, -0.5);
  turns.shift()!();
  await settle();
  assert.deepEqual(started, [0], "the next turn came, but the share is spent");
  assert.equal(clock.pending, 1);
  clock.advance(1);
  await settle();
  assert.deepEqual(started, [0, 1], "refilled: one starts");
  assert.equal(share.budgetMs, -1, "overdrawn by 1.5, held at the bound");
  assert.equal(turns.length, 1, "and the one after it waits for a turn again");
  turns.shift()!();
  await settle();
  clock.advance(1.9);
  await settle();
  assert.deepEqual(started, [0, 1]);
  clock.advance(0.1);
  await Promise.all(results);
  assert.deepEqual(started, [0, 1, 2]);
  turns.shift()!();
  assert.equal(turns.length + clock.pending, 0, "nothing waits: no turn, no timer");
});

Deno.test("ConcurrencyLimit with a share charges a task that rejects and passes the rejection on", async () => {
  const clock = new FakeClock();
  const share = new TimeShare(0.5, { clock, boundMs: 1 });
  const limit = new ConcurrencyLimit(1, { share });
  await assert.rejects(
    limit.run(() => {
      clock.advance(3);
      return Promise.reject(new Error("boom"));
    }),
    /boom/,
  );
  assert.equal(share.budgetMs, -0.5, "its 3 ms were charged");
  const next = limit.run(() => Promise.resolve("next"));
  await settle();
  assert.equal(clock.pending, 1);
  clock.advance(1);
  assert.equal(await next, "next");
});
