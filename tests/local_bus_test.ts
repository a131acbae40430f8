import assert from "node:assert/strict";
import { BusClosedError } from "../lib/bus/errors.ts";
import { LocalBus, LocalHub } from "../lib/bus/local_bus.ts";
import { Logger } from "../lib/log.ts";
import { busSuite, RecordingHandler } from "./bus_suite.ts";

busSuite("LocalBus", () => {
  const hub = new LocalHub();
  // Silent: one case makes a handler throw on purpose.
  return (nodeId) => Promise.resolve(new LocalBus(nodeId, { hub, log: new Logger({ level: "silent" }) }));
});

Deno.test("LocalBus.publish() calls the other nodes' handlers before it resolves", async () => {
  const hub = new LocalHub();
  await using a = new LocalBus("a", { hub });
  await using b = new LocalBus("b", { hub });
  const handler = new RecordingHandler();
  b.setHandler(handler);
  await b.subscribe(1);
  const published = a.publish({ userId: 1, frame: "{}" });
  assert.deepEqual(handler.messages, [{ userId: 1, frame: "{}" }], "in-process delivery is synchronous");
  await published;
});

Deno.test("LocalBus on its own hub is a single node: its publishes reach nobody", async () => {
  await using bus = new LocalBus("n1");
  const handler = new RecordingHandler();
  bus.setHandler(handler);
  await bus.subscribe(1);
  await bus.publish({ userId: 1, frame: "{}" });
  assert.equal(handler.messages.length, 0, "the node delivers to its own sessions itself");
  assert.equal(bus.counters.published, 1);
  await using other = new LocalBus("n2");
  await other.claimDevice(1, "phone", 5);
  assert.deepEqual(await bus.onlineUsers([1]), new Set(), "separate hubs share nothing");
});

Deno.test("LocalBus works without start(): it has nothing to connect", async () => {
  await using bus = new LocalBus("n1");
  assert.deepEqual(await bus.claimDevice(1, "default", 5), { claimed: true, firstDevice: true });
  await bus.subscribe(1);
  assert.deepEqual(await bus.onlineUsers([1, 2]), new Set([1]));
  await bus.publish({ userId: 1, frame: "{}" });
});

Deno.test("LocalBus.close() drops claims and subscriptions, and refuses what comes after", async () => {
  const hub = new LocalHub();
  const bus = new LocalBus("n1", { hub });
  await bus.claimDevice(1, "phone", 5);
  await bus.subscribe(1);
  await bus.close();
  assert.equal(hub.devices.size, 0);
  assert.equal(hub.subscribers.size, 0);
  await assert.rejects(bus.publish({ userId: 1, frame: "{}" }), BusClosedError);
  await assert.rejects(bus.onlineUsers([1]), /LocalBus is closed: onlineUsers\(\) refused/);
});

Deno.test("LocalBus logs a handler that throws, and the publisher's call resolves", async () => {
  const hub = new LocalHub();
  const errors: string[] = [];
  const log = new class extends Logger {
    override error(event: string): void {
      errors.push(event);
    }
  }({ level: "silent" });
  await using a = new LocalBus("a", { hub });
  await using b = new LocalBus("b", { hub, log });
  b.setHandler({
    onMessage() {
      throw new Error("boom");
    },
  });
  await b.subscribe(1);
  await a.publish({ userId: 1, frame: "{}" });
  assert.deepEqual(errors, ["bus handler failed"]);
});
