/**
 * The shared contract test of {@linkcode Bus}: every implementation runs exactly these cases
 * (`tests/local_bus_test.ts`, `tests/redis_bus_test.ts`). Each case gets a fresh cluster: nodes opened from
 * one `openCluster()` share a backend (a `LocalHub`, or a key prefix on one Redis), and nodes of different
 * cases never see each other. What only a backend with a network can do (crashes, outages) is in the
 * Redis test.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Bus, BusMessage } from "../lib/bus/bus.ts";
import { BusClosedError } from "../lib/bus/errors.ts";

/** Frames that break naive quoting, splitting or encoding; all valid single-line JSON text. */
const AWKWARD_FRAMES = [
  JSON.stringify({ msgid: 6, id: 1, name: "Zoë", msg: '你好, "bob" \\ back\\slash 😀👩‍👩‍👧 مرحبا', time: "" }),
  JSON.stringify({ msgid: 6, msg: "d" }),
  JSON.stringify({ msgid: 6, msg: "escaped newline \\n and tab \\t, a NUL \u0000 and \u2028" }),
  "t",
  JSON.stringify({ msgid: 10, msg: "x".repeat(64 * 1024) }),
];

/** A handler that records what arrives and lets a case wait for it. */
export class RecordingHandler {
  readonly messages: BusMessage[] = [];
  #wake: (() => void) | undefined;

  onMessage(message: BusMessage): void {
    this.messages.push(message);
    this.#wake?.();
  }

  /** Resolves once `count` messages arrived in total; fails after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 3_000): Promise<BusMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.length < count) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`expected ${count} messages within ${timeoutMs} ms, got ${this.messages.length}`);
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      const timer = setTimeout(resolve, left);
      await promise;
      clearTimeout(timer);
    }
    this.#wake = undefined;
    return this.messages;
  }
}

/** Opens a node of one cluster: a bus that is not started yet. */
export type OpenNode = (nodeId: string) => Promise<Bus>;

/** Options for {@linkcode busSuite}. */
export interface BusSuiteOptions {
  /**
   * Fail a case that leaves a socket, timer or pending op behind (default true). Off for a driver whose
   * library keeps module-wide timers, which Deno cannot tell from a leak; such a bus's cases still close it.
   */
  sanitize?: boolean;
}

/** A started node of a case's cluster, with the handler recording its frames. */
interface Node {
  bus: Bus;
  handler: RecordingHandler;
}

/** A frame for `userId` with a recognisable text. */
function frame(userId: number, text: string): BusMessage {
  return { userId, frame: JSON.stringify({ msgid: 6, msg: text }) };
}

/**
 * Registers the shared {@linkcode Bus} cases as `Deno.test`s named `${name}: <method> <criteria>`.
 * `openCluster` is called once per case and returns how to open that case's nodes; the suite sets each
 * node's handler, starts it (the order of `server.ts`) and closes it.
 *
 * @example
 * ```ts
 * busSuite("LocalBus", () => {
 *   const hub = new LocalHub();
 *   return (nodeId) => Promise.resolve(new LocalBus(nodeId, { hub }));
 * });
 * ```
 */
export function busSuite(name: string, openCluster: () => OpenNode, options: BusSuiteOptions = {}): void {
  function test(title: string, fn: (nodes: (nodeId: string) => Promise<Node>) => Promise<void>): void {
    Deno.test({
      name: `${name}: ${title}`,
      // A bus owns sockets and timers in some implementations; a case must leave nothing open.
      sanitizeOps: options.sanitize ?? true,
      sanitizeResources: options.sanitize ?? true,
      async fn() {
        const open = openCluster();
        const opened: Bus[] = [];
        try {
          await fn(async (nodeId) => {
            const bus = await open(nodeId);
            opened.push(bus);
            const handler = new RecordingHandler();
            bus.setHandler(handler);
            await bus.start();
            return { bus, handler };
          });
        } finally {
          await Promise.all(opened.map((bus) => bus.close()));
        }
      },
    });
  }

  test("nodeId is the id it was opened with", async (node) => {
    const { bus } = await node("suite-node");
    assert.equal(bus.nodeId, "suite-node");
  });

  test("claimDevice() claims devices up to maxDevices; firstDevice only for the first", async (node) => {
    const { bus } = await node("a");
    assert.deepEqual(await bus.claimDevice(1, "phone", 3), { claimed: true, firstDevice: true });
    assert.deepEqual(await bus.claimDevice(1, "laptop", 3), { claimed: true, firstDevice: false });
    assert.deepEqual(await bus.claimDevice(1, "tablet", 3), { claimed: true, firstDevice: false });
    assert.deepEqual(await bus.claimDevice(1, "watch", 3), { claimed: false, reason: "full" });
    assert.deepEqual(await bus.claimDevice(2, "phone", 3), { claimed: true, firstDevice: true }, "per user");
    assert.deepEqual(await bus.claimDevice(3, "default", 1), { claimed: true, firstDevice: true });
    assert.deepEqual(await bus.claimDevice(3, "other", 1), { claimed: false, reason: "full" });
  });

  test("claimDevice() refuses a device held by a live session, on this node or another", async (node) => {
    const a = await node("a");
    const b = await node("b");
    assert.deepEqual(await a.bus.claimDevice(1, "phone", 5), { claimed: true, firstDevice: true });
    assert.deepEqual(await a.bus.claimDevice(1, "phone", 5), { claimed: false, reason: "taken" });
    assert.deepEqual(await b.bus.claimDevice(1, "phone", 5), { claimed: false, reason: "taken" });
    // "taken" wins over "full": the answer names the device's own conflict.
    assert.deepEqual(await b.bus.claimDevice(1, "phone", 1), { claimed: false, reason: "taken" });
    const both = await Promise.all([a.bus.claimDevice(2, "pc", 5), b.bus.claimDevice(2, "pc", 5)]);
    assert.equal(
      both.filter((claim) => claim.claimed).length,
      1,
      "exactly one of two simultaneous claims wins",
    );
  });

  test("claimDevice() counts the user's devices on every node against maxDevices", async (node) => {
    const a = await node("a");
    const b = await node("b");
    assert.deepEqual(await a.bus.claimDevice(1, "phone", 3), { claimed: true, firstDevice: true });
    assert.deepEqual(await a.bus.claimDevice(1, "laptop", 3), { claimed: true, firstDevice: false });
    assert.deepEqual(await b.bus.claimDevice(1, "tablet", 3), { claimed: true, firstDevice: false });
    assert.deepEqual(await b.bus.claimDevice(1, "watch", 3), { claimed: false, reason: "full" });
    await a.bus.releaseDevice(1, "phone");
    assert.deepEqual(await b.bus.claimDevice(1, "watch", 3), { claimed: true, firstDevice: false });
  });

  test("releaseDevice() resolves lastDevice true only when the user's last live device goes", async (node) => {
    const a = await node("a");
    const b = await node("b");
    await a.bus.claimDevice(1, "phone", 5);
    await a.bus.claimDevice(1, "laptop", 5);
    await b.bus.claimDevice(1, "tablet", 5);
    assert.deepEqual(await a.bus.releaseDevice(1, "phone"), { lastDevice: false });
    assert.deepEqual(await a.bus.releaseDevice(1, "laptop"), { lastDevice: false }, "b still holds one");
    assert.deepEqual(await b.bus.releaseDevice(1, "tablet"), { lastDevice: true });
    assert.deepEqual(await a.bus.claimDevice(1, "phone", 5), { claimed: true, firstDevice: true });
  });

  test("releaseDevice() of a device this node does not hold changes nothing", async (node) => {
    const a = await node("a");
    const b = await node("b");
    assert.deepEqual(await a.bus.releaseDevice(1, "phone"), { lastDevice: false }, "never claimed");
    await a.bus.claimDevice(1, "phone", 5);
    assert.deepEqual(await b.bus.releaseDevice(1, "phone"), { lastDevice: false }, "a's, not b's");
    assert.deepEqual(await b.bus.claimDevice(1, "phone", 5), { claimed: false, reason: "taken" });
    assert.deepEqual(await a.bus.releaseDevice(1, "phone"), { lastDevice: true });
    assert.deepEqual(await a.bus.releaseDevice(1, "phone"), { lastDevice: false }, "released twice");
    assert.deepEqual(await a.bus.onlineUsers([1]), new Set());
  });

  test("onlineUsers() returns exactly the users with a live device on any node", async (node) => {
    const a = await node("a");
    const b = await node("b");
    assert.deepEqual(await a.bus.onlineUsers([]), new Set());
    await a.bus.claimDevice(10, "phone", 5);
    await b.bus.claimDevice(12, "phone", 5);
    await b.bus.claimDevice(10, "laptop", 5);
    assert.deepEqual(await a.bus.onlineUsers([10, 11, 12, 12, 13]), new Set([10, 12]));
    assert.deepEqual(await b.bus.onlineUsers([10, 11, 12]), new Set([10, 12]));
    await a.bus.releaseDevice(10, "phone");
    assert.deepEqual(await a.bus.onlineUsers([10, 12]), new Set([10, 12]), "10 is still on b");
    await b.bus.releaseDevice(10, "laptop");
    assert.deepEqual(await a.bus.onlineUsers([10, 12]), new Set([12]));
  });

  test("publish() reaches every node subscribed to the user, but not the publisher", async (node) => {
    const a = await node("a");
    const b = await node("b");
    const c = await node("c");
    await a.bus.subscribe(1);
    await b.bus.subscribe(1);
    for (const text of AWKWARD_FRAMES) await c.bus.publish({ userId: 1, frame: text });
    const expected = AWKWARD_FRAMES.map((text) => ({ userId: 1, frame: text }));
    assert.deepEqual(await a.handler.waitFor(expected.length), expected);
    assert.deepEqual(await b.handler.waitFor(expected.length), expected);
    // a publishes for the user's devices elsewhere: b gets it, a delivered to its own sessions already.
    await a.bus.publish(frame(1, "from a"));
    await c.bus.publish(frame(1, "marker"));
    assert.deepEqual((await a.handler.waitFor(expected.length + 1)).slice(expected.length), [
      frame(1, "marker"),
    ]);
    assert.deepEqual((await b.handler.waitFor(expected.length + 2)).slice(expected.length), [
      frame(1, "from a"),
      frame(1, "marker"),
    ]);
    assert.equal(c.handler.messages.length, 0, "c subscribed nobody");
  });

  test("publish() to a user nobody subscribed resolves and calls no handler", async (node) => {
    const a = await node("a");
    const b = await node("b");
    await a.bus.subscribe(30);
    await a.bus.claimDevice(31, "phone", 5); // a claim alone does not receive frames
    await b.bus.publish(frame(31, "to 31"));
    await b.bus.publish(frame(32, "to 32"));
    await b.bus.publish(frame(30, "to 30"));
    assert.deepEqual(await a.handler.waitFor(1), [frame(30, "to 30")]);
    assert.equal(b.bus.counters.published, 3);
    assert.equal(b.bus.counters.publishFailures, 0);
    assert.equal(a.bus.counters.received, 1);
  });

  test("publish() keeps the order of 1000 frames sent to one user without waiting", async (node) => {
    const a = await node("a");
    const b = await node("b");
    await a.bus.subscribe(50);
    const frames = Array.from({ length: 1000 }, (_, i) => frame(50, `m${i}`));
    await Promise.all(frames.map((message) => b.bus.publish(message)));
    assert.deepEqual(await a.handler.waitFor(1000), frames);
  });

  test("unsubscribe() stops delivery to that node only", async (node) => {
    const a = await node("a");
    const b = await node("b");
    const c = await node("c");
    await a.bus.subscribe(40);
    await b.bus.subscribe(40);
    await a.bus.subscribe(41);
    await a.bus.unsubscribe(40);
    await a.bus.unsubscribe(42); // never subscribed: a no-op
    await c.bus.publish(frame(40, "after unsubscribe"));
    await c.bus.publish(frame(41, "marker"));
    assert.deepEqual(await a.handler.waitFor(1), [frame(41, "marker")], "a got the marker, not 40's frame");
    assert.deepEqual(await b.handler.waitFor(1), [frame(40, "after unsubscribe")]);
    await a.bus.subscribe(40);
    await c.bus.publish(frame(40, "subscribed again"));
    assert.deepEqual((await a.handler.waitFor(2))[1], frame(40, "subscribed again"));
  });

  test("subscribe() twice is one subscription: each frame arrives once", async (node) => {
    const a = await node("a");
    const b = await node("b");
    await a.bus.subscribe(45);
    await a.bus.subscribe(45);
    // The marker goes to the same user: on a Redis Cluster two users' channels may sit on two shards, whose
    // frames arrive in either order; one channel keeps its order everywhere.
    await b.bus.publish(frame(45, "once"));
    await b.bus.publish(frame(45, "marker"));
    assert.deepEqual(await a.handler.waitFor(2), [frame(45, "once"), frame(45, "marker")]);
  });

  test("publish() resolves when a receiving node's handler throws; delivery goes on", async (node) => {
    const a = await node("a");
    const b = await node("b");
    const received: BusMessage[] = [];
    a.bus.setHandler({
      onMessage(message) {
        if (message.frame.includes("boom")) throw new Error("boom");
        received.push(message);
        a.handler.onMessage(message);
      },
    });
    await a.bus.subscribe(1);
    await b.bus.publish(frame(1, "boom"));
    await b.bus.publish(frame(1, "fine"));
    await a.handler.waitFor(1);
    assert.deepEqual(received, [frame(1, "fine")]);
  });

  test("close() releases the node's devices and subscriptions for the other nodes", async (node) => {
    const a = await node("a");
    const b = await node("b");
    const c = await node("c");
    await a.bus.claimDevice(1, "phone", 5);
    await a.bus.claimDevice(2, "phone", 5);
    await b.bus.claimDevice(2, "laptop", 5);
    await a.bus.subscribe(1);
    await b.bus.subscribe(1);
    await a.bus.close();
    assert.deepEqual(await c.bus.onlineUsers([1, 2]), new Set([2]));
    assert.deepEqual(await c.bus.claimDevice(1, "phone", 5), { claimed: true, firstDevice: true });
    await c.bus.publish(frame(1, "after close"));
    assert.deepEqual(await b.handler.waitFor(1), [frame(1, "after close")]);
    assert.equal(a.handler.messages.length, 0);
  });

  test("ping() resolves on a started bus", async (node) => {
    await (await node("a")).bus.ping();
  });

  test("close() is idempotent, and asyncDispose closes too", async (node) => {
    const { bus } = await node("a");
    await bus.claimDevice(60, "phone", 5);
    await bus.subscribe(60);
    await Promise.all([bus.close(), bus.close()]);
    await bus.close();
    await bus[Symbol.asyncDispose]();
  });

  test("after close() what would take something on rejects with BusClosedError", async (node) => {
    const { bus, handler } = await node("a");
    await bus.claimDevice(61, "phone", 5);
    await bus.subscribe(61);
    await bus.close();
    await assert.rejects(bus.publish(frame(61, "late")), BusClosedError);
    await assert.rejects(bus.claimDevice(62, "phone", 5), BusClosedError);
    await assert.rejects(bus.subscribe(62), BusClosedError);
    await assert.rejects(bus.onlineUsers([61]), BusClosedError);
    await assert.rejects(bus.ping(), BusClosedError);
    await assert.rejects(bus.start(), BusClosedError);
    assert.equal(handler.messages.length, 0, "no frame reached the handler");
  });

  test("after close() the calls that never reject resolve and do nothing", async (node) => {
    const { bus } = await node("a");
    await bus.claimDevice(63, "phone", 5);
    await bus.subscribe(63);
    await bus.close();
    assert.deepEqual(await bus.releaseDevice(63, "phone"), { lastDevice: false });
    await bus.unsubscribe(63);
  });
}
