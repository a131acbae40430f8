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

Deno.test("LocalHub: users with one device on the same node share one array; more devices get their own", async () => {
  const hub = new LocalHub();
  await using a = new LocalBus("a", { hub });
  await using b = new LocalBus("b", { hub });
  await a.claimDevice(1, "default", 5);
  await a.claimDevice(2, "default", 5);
  await a.subscribe(1);
  await a.subscribe(2);
  assert.equal(hub.devices.get(1), hub.devices.get(2), "holders shared");
  assert.equal(hub.subscribers.get(1), hub.subscribers.get(2), "subscribers shared");
  await b.claimDevice(1, "phone", 5);
  await b.subscribe(1);
  assert.deepEqual(hub.devices.get(1)?.map((holder) => holder.device), ["default", "phone"]);
  assert.deepEqual(
    hub.devices.get(2)?.map((holder) => holder.device),
    ["default"],
    "the shared array is unchanged",
  );
  assert.deepEqual(await a.releaseDevice(1, "default"), { lastDevice: false });
  await a.unsubscribe(1);
  assert.deepEqual(await b.claimDevice(3, "phone", 5), { claimed: true, firstDevice: true });
  assert.equal(hub.devices.get(1), hub.devices.get(3), "one device left: shared again");
  assert.deepEqual(hub.subscribers.get(1), [b]);
  assert.deepEqual(await a.claimDevice(1, "phone", 5), { claimed: false, reason: "taken" });
});

Deno.test("LocalHub: past the shared device names, a device still claims and releases", async () => {
  await using bus = new LocalBus("n1");
  for (let i = 0; i < 40; i++) {
    assert.deepEqual(await bus.claimDevice(i, `device-${i}`, 1), { claimed: true, firstDevice: true });
  }
  assert.deepEqual(await bus.claimDevice(39, "other", 1), { claimed: false, reason: "full" });
  assert.deepEqual(await bus.onlineUsers([0, 39, 40]), new Set([0, 39]));
  for (let i = 0; i < 40; i++) {
    assert.deepEqual(await bus.releaseDevice(i, `device-${i}`), { lastDevice: true });
  }
  assert.deepEqual(await bus.onlineUsers([0, 39]), new Set());
});
