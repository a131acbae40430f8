import assert from "node:assert/strict";
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

Deno.test("LocalBus.close() drops claims and subscriptions", async () => {
  const bus = new LocalBus("n1");
  bus.setHandler(new RecordingHandler());
  await bus.claimUser(1);
  await bus.subscribe(1);
  await bus.close();
  assert.deepEqual(await bus.onlineUsers([1]), new Set());
  assert.equal(await bus.publish({ userId: 1, frame: "{}", durable: true }), false);
});
