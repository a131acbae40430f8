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

/** Three tasks through a limit of 1; the first sets a timer. Returns the order things ran in. */
async function orderWith(handOff: "now" | "next turn"): Promise<string[]> {
  const limit = new ConcurrencyLimit(1, { handOff });
  const order: string[] = [];
  await Promise.all([1, 2, 3].map((i) =>
    limit.run(() => {
      order.push(`task ${i}`);
      if (i === 1) setTimeout(() => order.push("timer"), 0);
      return Promise.resolve();
    })
  ));
  await new Promise((resolve) => setTimeout(resolve, 5));
  return order;
}

Deno.test("ConcurrencyLimit with handOff 'next turn' lets the event loop run between waiting tasks", async () => {
  assert.deepEqual(await orderWith("now"), ["task 1", "task 2", "task 3", "timer"], "back to back");
  assert.deepEqual(await orderWith("next turn"), ["task 1", "timer", "task 2", "task 3"]);
});

Deno.test("ConcurrencyLimit with handOff 'next turn' keeps FIFO order: a newcomer never takes a slot being handed on", async () => {
  const limit = new ConcurrencyLimit(1, { handOff: "next turn" });
  const started: string[] = [];
  const gate = Promise.withResolvers<void>();
  const first = limit.run(async () => {
    started.push("first");
    await gate.promise;
  });
  const second = limit.run(() => Promise.resolve(void started.push("second")));
  gate.resolve();
  await first;
  // The slot is on its way to `second` (a timer away); a task arriving now must queue behind it.
  const late = limit.run(() => Promise.resolve(void started.push("late")));
  await Promise.all([second, late]);
  assert.deepEqual(started, ["first", "second", "late"]);
  assert.equal(limit.waiting, 0);
});
