/**
 * Publisher over a fake command connection (unit test of the pipelining; the real Redis path, order and
 * outages, is in tests/redis_bus_test.ts and tests/bus_suite.ts).
 */
import assert from "node:assert/strict";
import type { Redis } from "ioredis";
import type { BusCounters } from "../lib/bus/bus.ts";
import { Publisher } from "../lib/bus/redis_publisher.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";

/** What one pipeline's exec() answers: per command [error, result], or a rejection of the whole. */
type Outcome = [Error | null, unknown][] | Error;

/** A command connection that records each pipeline's PUBLISHes and answers them with `outcomes` in turn. */
class FakeCommands {
  readonly pipelines: [string, string][][] = [];
  readonly outcomes: Outcome[] = [];

  pipeline() {
    const published: [string, string][] = [];
    this.pipelines.push(published);
    const outcome = this.outcomes.shift();
    return {
      publish(channel: string, payload: string) {
        published.push([channel, payload]);
      },
      exec(): Promise<[Error | null, unknown][]> {
        if (outcome instanceof Error) return Promise.reject(outcome);
        return Promise.resolve(outcome ?? published.map((): [null, number] => [null, 1]));
      },
    };
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

Deno.test("Publisher sends the frames of one turn in one pipeline, in order, and the next turn's in another", async () => {
  const cmd = new FakeCommands();
  const { publisher: bus, counters } = publisher(cmd);
  await Promise.all([1, 2, 1].map((userId, i) => bus.publish({ userId, frame: `f${i}` })));
  await bus.publish({ userId: 3, frame: "later" });
  assert.equal(cmd.pipelines.length, 2);
  assert.deepEqual(cmd.pipelines[0].map(([, payload]) => payload), ["Tf0", "Tf1", "Tf2"]);
  assert.notEqual(cmd.pipelines[0][0][0], cmd.pipelines[0][1][0], "one channel per user");
  assert.equal(cmd.pipelines[0][0][0], cmd.pipelines[0][2][0]);
  assert.deepEqual(cmd.pipelines[1].map(([, payload]) => payload), ["Tlater"]);
  assert.deepEqual(counters, { published: 4, publishFailures: 0, received: 0 });
});

Deno.test("Publisher counts a failed command of a pipeline on its own frame and resolves every publish", async () => {
  const cmd = new FakeCommands();
  cmd.outcomes.push([[null, 1], [new Error("READONLY"), null], [null, 0]]);
  const { publisher: bus, counters, log } = publisher(cmd);
  await Promise.all([1, 2, 3].map((userId) => bus.publish({ userId, frame: "x" })));
  assert.deepEqual(counters, { published: 2, publishFailures: 1, received: 0 });
  assert.equal(log.problems().length, 1);
  assert.match(log.problems()[0], /bus publish failed.*"user":2.*READONLY/);
});

Deno.test("Publisher counts every frame of a pipeline that failed as a whole, logs once, and never rejects", async () => {
  const cmd = new FakeCommands();
  cmd.outcomes.push(new Error("Connection is closed."), new Error("Connection is closed."));
  const { publisher: bus, counters, log } = publisher(cmd);
  await Promise.all([1, 2].map((userId) => bus.publish({ userId, frame: "x" })));
  await bus.publish({ userId: 1, frame: "y" });
  assert.deepEqual(counters, { published: 0, publishFailures: 3, received: 0 });
  assert.equal(log.problems().length, 1, "a failing Redis is logged at most every 10 s");
  assert.match(log.problems()[0], /Connection is closed/);
});
