/**
 * The shared contract test of {@linkcode Bus}: every implementation runs exactly these cases
 * (`tests/local_bus_test.ts`, `tests/redis_bus_test.ts`). One bus per case, so only what a single node can
 * observe is checked here; what takes two nodes is in the Redis test.
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
  /** Users this node no longer holds: their frames are recorded, then declined (the handler returns false). */
  readonly declined = new Set<number>();
  #wake: (() => void) | undefined;

  onMessage(message: BusMessage): boolean {
    this.messages.push(message);
    this.#wake?.();
    return !this.declined.has(message.userId);
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

/** Options for {@linkcode busSuite}. */
export interface BusSuiteOptions {
  /**
   * Fail a case that leaves a socket, timer or pending op behind (default true). Off for a driver whose
   * library keeps module-wide timers, which Deno cannot tell from a leak; such a bus's cases still close it.
   */
  sanitize?: boolean;
}

/**
 * Registers the shared {@linkcode Bus} cases as `Deno.test`s named `${name}: <method> <criteria>`.
 * `open` returns a bus that is not started yet; the case sets its handler, starts it (the order of
 * `server.ts`) and closes it.
 *
 * @example
 * ```ts
 * busSuite("LocalBus", (nodeId) => Promise.resolve(new LocalBus(nodeId)));
 * ```
 */
export function busSuite(
  name: string,
  open: (nodeId: string) => Promise<Bus>,
  options: BusSuiteOptions = {},
): void {
  function test(title: string, fn: (bus: Bus, handler: RecordingHandler) => Promise<void>): void {
    Deno.test({
      name: `${name}: ${title}`,
      // A bus owns sockets and timers in some implementations; a case must leave nothing open.
      sanitizeOps: options.sanitize ?? true,
      sanitizeResources: options.sanitize ?? true,
      async fn() {
        await using bus = await open("suite-node");
        const handler = new RecordingHandler();
        bus.setHandler(handler);
        await bus.start();
        await fn(bus, handler);
      },
    });
  }

  test("nodeId is the id it was opened with", (bus) => {
    assert.equal(bus.nodeId, "suite-node");
    return Promise.resolve();
  });

  test("claimUser() claims a free user once and refuses a second claim until it is released", async (bus) => {
    assert.equal(await bus.claimUser(1), true);
    assert.equal(await bus.claimUser(1), false, "a duplicate login on the same node");
    assert.equal(await bus.claimUser(2), true, "another user is independent");
    await bus.releaseUser(1);
    assert.equal(await bus.claimUser(1), true);
  });

  test("releaseUser() of a user this node does not hold is a no-op", async (bus) => {
    await bus.releaseUser(3);
    assert.equal(await bus.claimUser(3), true);
    await bus.releaseUser(3);
    await bus.releaseUser(3);
    assert.deepEqual(await bus.onlineUsers([3]), new Set());
  });

  test("onlineUsers() returns exactly the claimed ids among those asked", async (bus) => {
    assert.deepEqual(await bus.onlineUsers([]), new Set());
    await bus.claimUser(10);
    await bus.claimUser(12);
    assert.deepEqual(await bus.onlineUsers([10, 11, 12, 12, 13]), new Set([10, 12]));
    await bus.releaseUser(10);
    assert.deepEqual(await bus.onlineUsers([10, 11, 12]), new Set([12]));
  });

  test(
    "publish() to a subscribed user resolves true and hands over the exact frame",
    async (bus, handler) => {
      await bus.subscribe(20);
      for (const frame of AWKWARD_FRAMES) {
        assert.equal(
          await bus.publish({ userId: 20, frame, durable: true }),
          true,
        );
      }
      const received = await handler.waitFor(AWKWARD_FRAMES.length);
      assert.deepEqual(received, AWKWARD_FRAMES.map((frame) => ({ userId: 20, frame, durable: true })));
    },
  );

  test("publish() carries the durable flag both ways", async (bus, handler) => {
    await bus.subscribe(21);
    assert.equal(await bus.publish({ userId: 21, frame: '{"msgid":15}', durable: false }), true);
    assert.equal(await bus.publish({ userId: 21, frame: '{"msgid":6}', durable: true }), true);
    assert.deepEqual(await handler.waitFor(2), [
      { userId: 21, frame: '{"msgid":15}', durable: false },
      { userId: 21, frame: '{"msgid":6}', durable: true },
    ]);
  });

  test("publish() to a user nobody subscribed resolves false and calls no handler", async (bus, handler) => {
    await bus.subscribe(30);
    await bus.claimUser(31); // a claim alone does not receive frames
    assert.equal(await bus.publish({ userId: 31, frame: "{}", durable: true }), false);
    assert.equal(await bus.publish({ userId: 32, frame: "{}", durable: false }), false);
    assert.equal(await bus.publish({ userId: 30, frame: '{"to":30}', durable: true }), true);
    assert.deepEqual(await handler.waitFor(1), [{ userId: 30, frame: '{"to":30}', durable: true }]);
  });

  test("unsubscribe() stops delivery: publish() resolves false afterwards", async (bus, handler) => {
    await bus.subscribe(40);
    await bus.subscribe(41);
    await bus.unsubscribe(40);
    await bus.unsubscribe(42); // never subscribed: a no-op
    assert.equal(await bus.publish({ userId: 40, frame: "{}", durable: true }), false);
    assert.equal(await bus.publish({ userId: 41, frame: "{}", durable: true }), true);
    await handler.waitFor(1);
    assert.deepEqual(handler.messages.map((message) => message.userId), [41]);
    await bus.subscribe(40);
    assert.equal(await bus.publish({ userId: 40, frame: "{}", durable: true }), true);
  });

  test("publish() keeps the order of 1000 frames sent to one user without waiting", async (bus, handler) => {
    await bus.subscribe(50);
    const frames = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ msgid: 6, msg: `m${i}` }));
    const results = await Promise.all(
      frames.map((frame) => bus.publish({ userId: 50, frame, durable: true })),
    );
    assert.ok(results.every((received) => received));
    assert.deepEqual((await handler.waitFor(1000)).map((message) => message.frame), frames);
  });

  test("publish() of a durable frame the handler declines resolves false", async (bus, handler) => {
    await bus.subscribe(70);
    await bus.subscribe(71);
    handler.declined.add(70);
    assert.equal(await bus.publish({ userId: 70, frame: '{"to":70}', durable: true }), false);
    assert.equal(await bus.publish({ userId: 71, frame: '{"to":71}', durable: true }), true);
    assert.deepEqual((await handler.waitFor(2)).map((message) => message.userId), [70, 71]);
  });

  test("offlineStoresSettled() resolves once every announced store has ended", async (bus) => {
    await bus.beginOfflineStore([80, 81]);
    await bus.beginOfflineStore([80]);
    let settled = false;
    const waiting = bus.offlineStoresSettled(80).then(() => settled = true);
    await bus.endOfflineStore([80, 81]);
    await bus.endOfflineStore([80]);
    await waiting;
    assert.equal(settled, true);
    await bus.offlineStoresSettled(81);
    await bus.offlineStoresSettled(82); // never announced
  });

  test("ping() resolves on a started bus", async (bus) => {
    await bus.ping();
  });

  test("close() is idempotent, and asyncDispose closes too", async (bus) => {
    await bus.claimUser(60);
    await bus.subscribe(60);
    await Promise.all([bus.close(), bus.close()]);
    await bus.close();
    await bus[Symbol.asyncDispose]();
  });

  test("after close() what would take something on rejects with BusClosedError", async (bus, handler) => {
    await bus.claimUser(61);
    await bus.subscribe(61);
    await bus.close();
    await assert.rejects(bus.publish({ userId: 61, frame: "{}", durable: true }), BusClosedError);
    await assert.rejects(bus.publish({ userId: 61, frame: "{}", durable: false }), BusClosedError);
    await assert.rejects(bus.claimUser(62), BusClosedError);
    await assert.rejects(bus.subscribe(62), BusClosedError);
    await assert.rejects(bus.onlineUsers([61]), BusClosedError);
    await assert.rejects(bus.beginOfflineStore([61]), BusClosedError);
    await assert.rejects(bus.ping(), BusClosedError);
    await assert.rejects(bus.start(), BusClosedError);
    assert.equal(handler.messages.length, 0, "no frame reached the handler");
  });

  test("after close() the calls that never reject resolve and do nothing", async (bus) => {
    await bus.claimUser(63);
    await bus.subscribe(63);
    await bus.close();
    await bus.releaseUser(63);
    await bus.unsubscribe(63);
    await bus.endOfflineStore([63]);
    await bus.offlineStoresSettled(63);
  });
}
