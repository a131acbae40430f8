/**
 * Publisher over a fake command connection (unit test of the batching; the real Redis path, order and
 * outages, is in tests/redis_bus_test.ts and tests/bus_suite.ts).
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { BusCounters } from "../lib/bus/bus.ts";
import { FRAMES_PER_SCRIPT, Publisher } from "../lib/bus/redis_publisher.ts";
import { PUBLISH_ALL } from "../lib/bus/redis_scripts.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";

/** One EVAL the publisher sent: the command and the [channel, payload] pairs it carried. */
interface ScriptCall {
  command: string;
  script: string;
  published: [string, string][];
}

/** A command connection that records each script call and answers them with `outcomes` in turn (an Error: rejected). */
class FakeCommands {
  readonly calls: ScriptCall[] = [];
  readonly outcomes: (Error | undefined)[] = [];

  call(command: string, args: (string | number)[]): Promise<unknown> {
    const [script, count, ...rest] = args as [string, number, ...string[]];
    const channels = rest.slice(0, count);
    const payloads = rest.slice(count);
    this.calls.push({ command, script, published: channels.map((channel, i) => [channel, payloads[i]]) });
    const outcome = this.outcomes.shift();
    return outcome ? Promise.reject(outcome) : Promise.resolve(null);
  }
}

function publisher(cmd: FakeCommands) {
  const counters: BusCounters = { published: 0, publishFailures: 0, received: 0 };
  const log = new RecordingLogger();
  const instance = new Publisher({
    cmd: cmd as unknown as Redis,
    token: "T",
    keyPrefix: "p:",
    counters,
    log,
  });
  return { publisher: instance, counters, log };
}

Deno.test("Publisher sends the frames of one turn in one script run, in order, and the next turn's in another", async () => {
  const cmd = new FakeCommands();
  const { publisher: bus, counters } = publisher(cmd);
  await Promise.all([1, 2, 1].map((userId, i) => bus.publish({ userId, frame: `f${i}` })));
  await bus.publish({ userId: 3, frame: "later" });
  assert.deepEqual(cmd.calls.map((call) => [call.command, call.script]), [
    // Never EVALSHA: its NOSCRIPT fallback after a Redis restart could publish a later turn first.
    ["EVAL", PUBLISH_ALL.lua],
    ["EVAL", PUBLISH_ALL.lua],
  ]);
  const [first, second] = cmd.calls.map((call) => call.published);
  assert.deepEqual(first.map(([, payload]) => payload), ["Tf0", "Tf1", "Tf2"]);
  assert.notEqual(first[0][0], first[1][0], "one channel per user");
  assert.equal(first[0][0], first[2][0]);
  assert.deepEqual(second, [["p:user:{u:3}", "Tlater"]]);
  assert.deepEqual(counters, { published: 4, publishFailures: 0, received: 0 });
});

Deno.test("Publisher counts every frame of a script run that failed, logs once, and never rejects", async () => {
  const cmd = new FakeCommands();
  cmd.outcomes.push(new Error("Connection is closed."), new Error("Connection is closed."));
  const { publisher: bus, counters, log } = publisher(cmd);
  await Promise.all([1, 2].map((userId) => bus.publish({ userId, frame: "x" })));
  await bus.publish({ userId: 1, frame: "y" });
  assert.deepEqual(counters, { published: 0, publishFailures: 3, received: 0 });
  assert.equal(log.problems().length, 1, "a failing Redis is logged at most every 10 s");
  assert.match(log.problems()[0], /Connection is closed/);
});

Deno.test("Publisher splits a large turn into script runs of FRAMES_PER_SCRIPT, sent in order; a failed run fails only its frames", async () => {
  const cmd = new FakeCommands();
  // The second of three runs fails.
  cmd.outcomes.push(undefined, new Error("BUSY"), undefined);
  const { publisher: bus, counters } = publisher(cmd);
  const frames = 2 * FRAMES_PER_SCRIPT + 1;
  await Promise.all(
    Array.from({ length: frames }, (_, i) => bus.publish({ userId: i % 7, frame: `f${i}` })),
  );
  assert.deepEqual(cmd.calls.map((call) => call.published.length), [FRAMES_PER_SCRIPT, FRAMES_PER_SCRIPT, 1]);
  assert.deepEqual(
    cmd.calls.flatMap((call) => call.published.map(([, payload]) => payload)),
    Array.from({ length: frames }, (_, i) => `Tf${i}`),
    "every frame once, in the order asked",
  );
  assert.deepEqual(counters, {
    published: FRAMES_PER_SCRIPT + 1,
    publishFailures: FRAMES_PER_SCRIPT,
    received: 0,
  });
});
