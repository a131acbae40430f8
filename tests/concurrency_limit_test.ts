import assert from "node:assert/strict";
import { ConcurrencyLimit } from "../lib/service/concurrency_limit.ts";

function deferred() {
  return Promise.withResolvers<void>();
}

Deno.test("ConcurrencyLimit runs at most `limit` tasks, the rest in FIFO order", async () => {
  const limit = new ConcurrencyLimit(2);
  const gates = [deferred(), deferred(), deferred(), deferred()];
  const started: number[] = [];
  const results = gates.map((gate, index) =>
    limit.run(async () => {
      started.push(index);
      await gate.promise;
      return index;
    })
  );
  await Promise.resolve();
  assert.deepEqual(started, [0, 1]);
  assert.equal(limit.waiting, 2);
  gates[1].resolve();
  await results[1];
  await Promise.resolve();
  assert.deepEqual(started, [0, 1, 2], "the first waiter gets the freed slot");
  gates[0].resolve();
  gates[2].resolve();
  gates[3].resolve();
  assert.deepEqual(await Promise.all(results), [0, 1, 2, 3]);
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.equal(limit.waiting, 0);
});

Deno.test("ConcurrencyLimit frees the slot of a task that rejects and passes the rejection on", async () => {
  const limit = new ConcurrencyLimit(1);
  const failing = limit.run(() => Promise.reject(new Error("boom")));
  const next = limit.run(() => Promise.resolve("next"));
  await assert.rejects(failing, /boom/);
  assert.equal(await next, "next");
  assert.equal(await limit.run(() => Promise.resolve(3)), 3, "the slot is free again");
});

Deno.test("ConcurrencyLimit rejects a limit below 1 or not an integer", () => {
  assert.throws(() => new ConcurrencyLimit(0), RangeError);
  assert.throws(() => new ConcurrencyLimit(1.5), RangeError);
});

/** Settles the promise jobs queued so far (the tasks' starts and ends). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

Deno.test("ConcurrencyLimit with handOff 'one per turn' starts one waiting task per turn, however many slots are free", async () => {
  const turns: (() => void)[] = [];
  const limit = new ConcurrencyLimit(8, {
    handOff: "one per turn",
    nextTurn: (callback) => turns.push(callback),
  });
  const started: number[] = [];
  const results = [1, 2, 3].map((i) => limit.run(() => Promise.resolve(void started.push(i))));
  await settle();
  assert.deepEqual(started, [1], "the first at once, the others wait for a turn");
  assert.equal(limit.waiting, 2);
  assert.equal(turns.length, 1, "one turn asked for");
  turns.shift()!();
  await settle();
  assert.deepEqual(started, [1, 2]);
  turns.shift()!();
  await Promise.all(results);
  assert.deepEqual(started, [1, 2, 3]);
  turns.shift()!();
  assert.equal(turns.length, 0, "no turn asked for once nothing waits");
  assert.equal(
    await limit.run(() => Promise.resolve("alone")),
    "alone",
    "after an idle turn, a task starts at once",
  );
});

Deno.test("ConcurrencyLimit with handOff 'now' starts waiting tasks back to back", async () => {
  const limit = new ConcurrencyLimit(1, { handOff: "now", nextTurn: () => assert.fail("no turns in 'now'") });
  const order: string[] = [];
  await Promise.all([1, 2, 3].map((i) =>
    limit.run(() => {
      order.push(`task ${i}`);
      if (i === 1) setTimeout(() => order.push("timer"), 0);
      return Promise.resolve();
    })
  ));
  await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(order, ["task 1", "task 2", "task 3", "timer"]);
});

Deno.test("ConcurrencyLimit with handOff 'one per turn' keeps FIFO order: a newcomer never overtakes a waiter", async () => {
  const limit = new ConcurrencyLimit(1, { handOff: "one per turn" });
  const started: string[] = [];
  const gate = Promise.withResolvers<void>();
  const first = limit.run(async () => {
    started.push("first");
    await gate.promise;
  });
  const second = limit.run(() => Promise.resolve(void started.push("second")));
  gate.resolve();
  await first;
  // `second` waits for the next turn (a timer away); a task arriving now must queue behind it.
  const late = limit.run(() => Promise.resolve(void started.push("late")));
  await Promise.all([second, late]);
  assert.deepEqual(started, ["first", "second", "late"]);
  assert.equal(limit.waiting, 0);
});
