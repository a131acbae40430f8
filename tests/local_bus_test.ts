import assert from "node:assert/strict";
import { BusClosedError } from "../lib/bus/errors.ts";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { busSuite, RecordingHandler } from "./bus_suite.ts";

busSuite("LocalBus", (nodeId) => Promise.resolve(new LocalBus(nodeId)));

Deno.test("LocalBus.publish() calls the handler before it resolves", async () => {
  await using bus = new LocalBus("n1");
  const handler = new RecordingHandler();
  bus.setHandler(handler);
  await bus.start();
  await bus.subscribe(1);
  const published = bus.publish({ userId: 1, frame: "{}", durable: true });
  assert.equal(handler.messages.length, 1, "in-process delivery is synchronous");
  assert.equal(await published, true);
});

Deno.test("LocalBus works without start(): it has nothing to connect", async () => {
  await using bus = new LocalBus("n1");
  const handler = new RecordingHandler();
  bus.setHandler(handler);
  assert.equal(await bus.claimUser(1), true);
  await bus.subscribe(1);
  assert.deepEqual(await bus.onlineUsers([1, 2]), new Set([1]));
  assert.equal(await bus.publish({ userId: 1, frame: "{}", durable: true }), true);
  assert.equal(handler.messages.length, 1);
});

Deno.test("LocalBus.close() drops claims and subscriptions, and refuses what comes after", async () => {
  const bus = new LocalBus("n1");
  const handler = new RecordingHandler();
  bus.setHandler(handler);
  await bus.claimUser(1);
  await bus.subscribe(1);
  await bus.close();
  await assert.rejects(bus.publish({ userId: 1, frame: "{}", durable: true }), BusClosedError);
  await assert.rejects(bus.onlineUsers([1]), /LocalBus is closed: onlineUsers\(\) refused/);
  assert.equal(handler.messages.length, 0);
});
