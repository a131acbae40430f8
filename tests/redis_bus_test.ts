/**
 * RedisBus against a real Redis started for this file: the shared bus suite, and what takes two nodes, a
 * crash, a Redis restart or a network partition.
 *
 * Two RedisBus instances with different node ids on one Redis are two nodes. Every bus gets its own key
 * prefix, so the cases share the server without seeing each other's keys and channels. A node that dies is
 * a real process killed with SIGKILL: this file run with `deno run` is that node (see the end of the file).
 *
 * The server starts before the first case and stops after the last (`Deno.test.beforeAll/afterAll`). Cases
 * that restart it, cut the network, spawn a node or move large replies keep Deno's default (sanitizers off):
 * the restarted server outlives them, and redis-parser (under ioredis) shrinks its shared buffer after a
 * reply split across reads with a module-wide interval, which Deno cannot tell from a leak. The other cases
 * run with sanitizers on. Every bus is closed before its case ends.
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import type { BusMessage } from "../lib/bus/bus.ts";
import {
  BusAlreadyStartedError,
  BusClosedError,
  BusConnectError,
  BusNotStartedError,
  NodeIdInUseError,
} from "../lib/bus/errors.ts";
import { RedisBus, type RedisBusOptions } from "../lib/bus/redis_bus.ts";
import { ReliablePublisher } from "../lib/bus/redis_publisher.ts";
import { Receiver } from "../lib/bus/redis_receiver.ts";
import { NACK } from "../lib/bus/redis_wire.ts";
import { Logger } from "../lib/log.ts";
import { busSuite, RecordingHandler } from "./bus_suite.ts";
import { eventually } from "./harness/eventually.ts";
import { RedisServer } from "./harness/redis.ts";

const LEASE_MS = 600;

let server: RedisServer | undefined;
let prefixes = 0;

Deno.test.beforeAll(async () => {
  server = await RedisServer.start();
});

Deno.test.afterAll(async () => {
  await server?.close();
});

/** The server of this file (started before the first case). */
function redis(): RedisServer {
  if (!server) throw new Error("the Redis server of this file did not start");
  return server;
}

/** A logger that keeps what it is told, for assertions (and prints nothing). */
class MemoryLogger extends Logger {
  readonly lines: LogLine[] = [];
  readonly #waiters: { match: (line: LogLine) => boolean; resolve: () => void }[] = [];
  constructor() {
    super({ level: "silent" });
  }
  override debug(event: string, fields: Record<string, unknown> = {}): void {
    this.#push({ level: "debug", event, fields });
  }
  override info(event: string, fields: Record<string, unknown> = {}): void {
    this.#push({ level: "info", event, fields });
  }
  override warn(event: string, fields: Record<string, unknown> = {}): void {
    this.#push({ level: "warn", event, fields });
  }
  override error(event: string, fields: Record<string, unknown> = {}): void {
    this.#push({ level: "error", event, fields });
  }
  text(): string {
    return JSON.stringify(this.lines);
  }

  /** Resolves once a line matching `match` has been logged (at once if one was). */
  waitFor(match: (line: LogLine) => boolean): Promise<void> {
    if (this.lines.some(match)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ match, resolve });
    return promise;
  }

  #push(line: LogLine): void {
    this.lines.push(line);
    for (const waiter of this.#waiters.filter((waiter) => waiter.match(line))) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }
}

interface LogLine {
  level: string;
  event: string;
  fields: Record<string, unknown>;
}

/** Resolves once both of the bus's connections logged that they are down. */
async function bothConnectionsDown(log: MemoryLogger): Promise<void> {
  const down = (conn: string) => (line: LogLine) =>
    line.fields.conn === conn &&
    (line.event === "bus connection lost" || line.event === "bus connection error");
  await Promise.all([log.waitFor(down("command")), log.waitFor(down("subscriber"))]);
}

/** A key prefix no other case uses: a private namespace on the shared server. */
function freshPrefix(): string {
  return `test${++prefixes}.${Date.now()}:`;
}

interface Node {
  bus: RedisBus;
  handler: RecordingHandler;
  log: MemoryLogger;
}

/** A started node on `url` (the shared server by default) with a short lease. */
async function startNode(
  nodeId: string,
  options: Partial<RedisBusOptions> & { keyPrefix: string },
): Promise<Node> {
  const log = new MemoryLogger();
  const bus = new RedisBus({ url: redis().url, nodeId, log, leaseMs: LEASE_MS, ...options });
  const handler = new RecordingHandler();
  bus.setHandler(handler);
  await bus.start();
  return { bus, handler, log };
}

function frame(text: string): BusMessage {
  return { userId: 0, frame: JSON.stringify({ msgid: 6, msg: text }), durable: true };
}

busSuite(
  "RedisBus",
  (nodeId) =>
    Promise.resolve(
      new RedisBus({
        url: redis().url,
        nodeId,
        log: new Logger({ level: "silent" }),
        leaseMs: LEASE_MS,
        keyPrefix: freshPrefix(),
      }),
    ),
  // redis-parser (under ioredis) shrinks its shared buffer after a large reply with a module-wide interval.
  { sanitize: false },
);

Deno.test({
  name: "RedisBus rejects a bad configuration with an error naming the value",
  sanitizeOps: true,
  sanitizeResources: true,
  fn() {
    const log = new Logger({ level: "silent" });
    const url = "redis://127.0.0.1:1";
    assert.throws(() => new RedisBus({ url, nodeId: "n", log, leaseMs: 50 }), /leaseMs .* got 50/);
    assert.throws(
      () => new RedisBus({ url, nodeId: "n", log, leaseMs: 1000, renewMs: 1000 }),
      /renewMs .* got 1000/,
    );
    assert.throws(
      () => new RedisBus({ url, nodeId: "n", log, ackTimeoutMs: 1.5 }),
      /ackTimeoutMs .* got 1.5/,
    );
    assert.throws(() => new RedisBus({ url, nodeId: "", log }), TypeError);
    assert.throws(() => new RedisBus({ url, nodeId: "node one", log }), /got "node one"/);
  },
});

Deno.test({
  name: "RedisBus refuses calls before start() and a second start()",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const bus = new RedisBus({ url: redis().url, nodeId: "n", log: new MemoryLogger() });
    try {
      await assert.rejects(bus.publish(frame("early")), BusNotStartedError);
      await assert.rejects(bus.claimUser(1), /start\(\) was not called: claimUser\(\) refused/);
      await bus.start();
      await assert.rejects(bus.start(), BusAlreadyStartedError);
    } finally {
      await bus.close();
    }
    await assert.rejects(bus.publish(frame("late")), BusClosedError);
    await assert.rejects(bus.start(), /RedisBus is closed: start\(\) refused/);
  },
});

Deno.test({
  name: "RedisBus.start() fails within seconds on an unreachable server, without the password",
  // Sanitizers stay off: ioredis's disconnect() while reconnecting arms a 2 s timer that waits for the close
  // of a socket that has closed already; it only delays a process exit.
  async fn() {
    const log = new MemoryLogger();
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (closed.addr as Deno.NetAddr).port;
    closed.close();
    const bus = new RedisBus({ url: `redis://alice:s3cr3t-pw@127.0.0.1:${port}/0`, nodeId: "n", log });
    const started = performance.now();
    const error = await bus.start().then(() => undefined, (error: Error) => error);
    assert.ok(error instanceof BusConnectError, `start() rejected with ${error}`);
    assert.ok(performance.now() - started < 3_000, `took ${Math.round(performance.now() - started)} ms`);
    assert.match(error.message, new RegExp(`redis://alice:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`));
    const seen = `${error.message} ${String(error.cause)} ${log.text()}`;
    assert.ok(!seen.includes("s3cr3t"), seen);
    assert.ok(log.lines.some((line) => line.level === "warn" && line.event === "bus connection error"));
    await bus.close(); // start() closed it already; close() stays idempotent
  },
});

Deno.test({
  name: "RedisBus.publish() reaches the node that subscribed the user, in order, across nodes",
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      await a.bus.subscribe(1);
      assert.equal(await b.bus.publish({ userId: 1, frame: '{"msg":"hi 👋"}', durable: true }), true);
      assert.deepEqual(await a.handler.waitFor(1), [{ userId: 1, frame: '{"msg":"hi 👋"}', durable: true }]);

      const frames = Array.from({ length: 1000 }, (_, i) => JSON.stringify({ msgid: 6, msg: `m${i}` }));
      const results = await Promise.all(
        frames.map((frame) => b.bus.publish({ userId: 1, frame, durable: true })),
      );
      assert.ok(results.every((received) => received));
      assert.deepEqual((await a.handler.waitFor(1001)).slice(1).map((message) => message.frame), frames);
      assert.equal(b.handler.messages.length, 0, "the publisher does not receive its own frames");
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.publish() of a durable frame is false when the handler threw; delivery goes on",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const a = await startNode("a", { keyPrefix: freshPrefix(), ackTimeoutMs: 30_000 });
    try {
      const handler = new RecordingHandler();
      a.bus.setHandler({
        onMessage(message) {
          if (message.frame.includes("boom")) throw new Error("boom");
          handler.onMessage(message);
        },
      });
      await a.bus.subscribe(1);
      const started = performance.now();
      assert.equal(
        await a.bus.publish({ ...frame("boom"), userId: 1 }),
        false,
        "not taken: the caller stores it",
      );
      const waited = performance.now() - started;
      // A failed handler declines the frame: the publisher hears it at once, not after its ack timeout.
      assert.ok(waited < 10_000, `waited ${Math.round(waited)} ms`);
      assert.equal(
        await a.bus.publish({ ...frame("boom"), userId: 1, durable: false }),
        true,
        "no ack for transient",
      );
      assert.equal(await a.bus.publish({ ...frame("fine"), userId: 1 }), true);
      assert.deepEqual((await handler.waitFor(1)).map((message) => message.frame), [frame("fine").frame]);
      assert.ok(a.log.lines.some((line) => line.level === "error" && line.event === "bus handler failed"));
    } finally {
      await a.bus.close();
    }
  },
});

Deno.test({
  name: "RedisBus.publish() of a durable frame resolves once a handler's promise settles",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const a = await startNode("a", { keyPrefix: freshPrefix(), ackTimeoutMs: 500 });
    try {
      const stored: string[] = [];
      a.bus.setHandler({
        // What a node that stores a stray frame offline would return: acknowledged only once stored.
        async onMessage(message) {
          await delay(100); // the store's own time: not synchronisation, the publisher must wait it out
          if (message.frame.includes("fails")) throw new Error("store unavailable");
          stored.push(message.frame);
        },
      });
      await a.bus.subscribe(1);
      const started = performance.now();
      assert.equal(await a.bus.publish({ ...frame("stored"), userId: 1 }), true);
      assert.ok(performance.now() - started >= 90, "waited for the handler");
      assert.deepEqual(stored, [frame("stored").frame]);
      assert.equal(await a.bus.publish({ ...frame("fails"), userId: 1 }), false);
    } finally {
      await a.bus.close();
    }
  },
});

Deno.test({
  name: "RedisBus.publish() to a user two nodes subscribed reaches both and resolves true once",
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    const c = await startNode("c", { keyPrefix });
    try {
      await Promise.all([a.bus.subscribe(1), b.bus.subscribe(1)]);
      assert.equal(await c.bus.publish({ ...frame("both"), userId: 1 }), true);
      await Promise.all([a.handler.waitFor(1), b.handler.waitFor(1)]);
    } finally {
      await Promise.all([a.bus.close(), b.bus.close(), c.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.publish() is false at once when every receiving node declines, true when one takes it",
  async fn() {
    const keyPrefix = freshPrefix();
    // A long ack timeout: a false that came from waiting it out would fail the time check below.
    const a = await startNode("a", { keyPrefix, ackTimeoutMs: 30_000 });
    const b = await startNode("b", { keyPrefix, ackTimeoutMs: 30_000 });
    const c = await startNode("c", { keyPrefix, ackTimeoutMs: 30_000 });
    try {
      await Promise.all([a.bus.subscribe(1), b.bus.subscribe(1)]);
      a.handler.declined.add(1);
      // The user left node a (a stray subscription declines) and logged in on b: b takes it.
      assert.equal(await c.bus.publish({ ...frame("taken by b"), userId: 1 }), true);
      b.handler.declined.add(1);
      const started = performance.now();
      assert.equal(await c.bus.publish({ ...frame("declined by both"), userId: 1 }), false);
      assert.ok(performance.now() - started < 10_000, "answered by the declines, not the ack timeout");
      assert.equal((await a.handler.waitFor(2)).length, 2);
      assert.equal((await b.handler.waitFor(2)).length, 2);
    } finally {
      await Promise.all([a.bus.close(), b.bus.close(), c.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.offlineStoresSettled() waits for stores another node announced, until they end or expire",
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      await a.bus.beginOfflineStore([5]);
      let settled = false;
      const waiting = b.bus.offlineStoresSettled(5).then(() => settled = true);
      // Checks that something does NOT happen, so no event can end the wait: 200 ms in which it could.
      await delay(200);
      assert.equal(settled, false, "b waits while a's store is announced");
      await a.bus.endOfflineStore([5]);
      await waiting;
      // An announcing node that dies (never ends its store) holds a login up only for a bounded time.
      const dead = await startNode("dead", { keyPrefix });
      await dead.bus.beginOfflineStore([6]);
      await dead.bus.close();
      const started = performance.now();
      await b.bus.offlineStoresSettled(6);
      assert.ok(performance.now() - started > 1_000, "it did wait for the dead node's store");
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.claimUser() refuses a user held by another live node until that node releases it",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      const claims = await Promise.all([a.bus.claimUser(7), b.bus.claimUser(7)]);
      assert.deepEqual(claims.filter(Boolean).length, 1, "exactly one of two simultaneous claims wins");
      const [winner, loser] = claims[0] ? [a, b] : [b, a];
      assert.equal(await loser.bus.claimUser(7), false);
      // Leases are renewed: still refused well after the lease time. A wait for something NOT to happen
      // (the lease lapsing), so it has no event to wait on.
      await delay(LEASE_MS * 2);
      assert.equal(await loser.bus.claimUser(7), false);
      assert.deepEqual(await loser.bus.onlineUsers([7, 8]), new Set([7]));
      await winner.bus.releaseUser(7);
      assert.deepEqual(await loser.bus.onlineUsers([7]), new Set());
      assert.equal(await loser.bus.claimUser(7), true);
      await loser.bus.releaseUser(7);
      await winner.bus.releaseUser(7); // not its claim any more: must not drop the other node's
      assert.equal(await winner.bus.claimUser(7), true);
      await loser.bus.releaseUser(7); // a release by a node that does not hold it
      assert.deepEqual(await loser.bus.onlineUsers([7]), new Set([7]));
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.close() unsubscribes and releases the node's claims at once",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      for (const id of [1, 2, 3]) {
        assert.equal(await a.bus.claimUser(id), true);
        await a.bus.subscribe(id);
      }
      await a.bus.releaseUser(3);
      await a.bus.close();
      assert.deepEqual(await b.bus.onlineUsers([1, 2, 3]), new Set());
      assert.equal(await b.bus.publish({ ...frame("x"), userId: 1 }), false);
      assert.equal(await b.bus.claimUser(1), true);
      assert.equal(await b.bus.claimUser(2), true);
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus leases: a node killed with SIGKILL stops holding its users within the lease time",
  async fn() {
    const keyPrefix = freshPrefix();
    const b = await startNode("b", { keyPrefix });
    const doomed = await DoomedNode.start(keyPrefix, "doomed", [11, 12]);
    try {
      assert.equal(await b.bus.claimUser(11), false, "held by the live child");
      assert.deepEqual(await b.bus.onlineUsers([11, 12, 13]), new Set([11, 12]));
      assert.equal(await b.bus.publish({ ...frame("to child"), userId: 11 }), true);

      await doomed.kill();
      const killedAt = performance.now();
      // Its subscriptions die with its sockets; its claims only with its lease.
      assert.equal(await b.bus.publish({ ...frame("after kill"), userId: 11 }), false);
      assert.equal(await b.bus.claimUser(11), false, "the lease is still running");
      await eventually(() => b.bus.claimUser(11), { what: "user 11 claimable", timeoutMs: LEASE_MS * 3 });
      const elapsed = performance.now() - killedAt;
      assert.ok(elapsed <= LEASE_MS + 300, `claimable after ${Math.round(elapsed)} ms`);
      assert.deepEqual(await b.bus.onlineUsers([11, 12]), new Set([11]), "12 is offline, 11 is b's now");
    } finally {
      await doomed.kill();
      await b.bus.close();
    }
  },
});

Deno.test({
  name: "RedisBus.publish() is true only for frames a node took before it was killed with SIGKILL",
  async fn() {
    const keyPrefix = freshPrefix();
    const b = await startNode("b", { keyPrefix, ackTimeoutMs: 500 });
    // Several rounds: the kill lands at a different point of the stream each time.
    for (let round = 0; round < 3; round++) {
      // A user per round: the previous round's claim lives on until its lease expires.
      const user = 15 + round;
      const doomed = await DoomedNode.start(keyPrefix, `doomed${round}`, [user]);
      try {
        const confirmed: string[] = [];
        let stop = false;
        const sending = (async () => {
          for (let i = 0; !stop; i++) {
            const message = { ...frame(`r${round}.${i}`), userId: user };
            if (await b.bus.publish(message)) confirmed.push(message.frame);
            if (i % 4 === 0) await delay(1);
          }
        })();
        // Mid-stream, and later in each round.
        await eventually(() => confirmed.length > 20 + 40 * round, {
          what: `${20 + 40 * round} frames confirmed before the kill`,
          timeoutMs: 10_000,
        });
        await doomed.kill();
        stop = true;
        await sending;
        const handled = new Set(doomed.handled);
        const lost = confirmed.filter((frame) => !handled.has(frame));
        assert.deepEqual(lost, [], "confirmed but never handled");
      } finally {
        await doomed.kill();
      }
    }
    await b.bus.close();
  },
});

Deno.test({
  name: "RedisBus.start() takes over the node id of a killed earlier run once its lease expired",
  async fn() {
    const keyPrefix = freshPrefix();
    const b = await startNode("b", { keyPrefix });
    const doomed = await DoomedNode.start(keyPrefix, "restarting", [21, 22]);
    let again: Node | undefined;
    try {
      await doomed.kill();
      assert.deepEqual(await b.bus.onlineUsers([21, 22]), new Set([21, 22]), "its lease still runs");
      again = await startNode("restarting", { keyPrefix });
      assert.ok(
        again.log.lines.some((line) => line.event.startsWith("bus node id lease held by another process")),
        "it waited for the old lease instead of taking it at once",
      );
      assert.deepEqual(await b.bus.onlineUsers([21, 22]), new Set(), "not online before they log in again");
      assert.equal(await again.bus.claimUser(21), true);
      assert.ok(again.log.lines.some((line) => line.event === "bus dropped claims of an earlier run"));
    } finally {
      await doomed.kill();
      await Promise.all([b.bus.close(), again?.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.start() refuses a node id a live node holds and changes none of its claims",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const keyPrefix = freshPrefix();
    const live = await startNode("same", { keyPrefix });
    const other = await startNode("other", { keyPrefix });
    const log = new MemoryLogger();
    const second = new RedisBus({ url: redis().url, nodeId: "same", log, leaseMs: LEASE_MS, keyPrefix });
    try {
      assert.equal(await live.bus.claimUser(1), true);
      assert.equal(await live.bus.claimUser(2), true);
      await live.bus.subscribe(1);
      const error = await second.start().then(() => undefined, (error: Error) => error);
      assert.ok(error instanceof NodeIdInUseError, `start() rejected with ${error}`);
      assert.equal(error.nodeId, "same");
      assert.match(error.message, /node id "same" is in use by a live node/);
      assert.ok(!log.lines.some((line) => line.event === "bus dropped claims of an earlier run"));
      // The refused bus closed itself; closing it again deletes nothing of the live node's.
      await second.close();
      assert.deepEqual(
        await other.bus.onlineUsers([1, 2]),
        new Set([1, 2]),
        "the live node's users stay online",
      );
      assert.equal(await other.bus.claimUser(1), false, "and stay claimed");
      assert.equal(await other.bus.publish({ ...frame("still here"), userId: 1 }), true);
      assert.deepEqual((await live.handler.waitFor(1)).map((message) => message.frame), [
        frame("still here").frame,
      ]);
      // Its lease is its own still: renewals never saw another process's token.
      assert.ok(
        !live.log.lines.some((line) => line.event.startsWith("bus lease renewed by another process")),
      );
      assert.deepEqual(await live.bus.onlineUsers([1, 2]), new Set([1, 2]));
    } finally {
      await Promise.all([live.bus.close(), other.bus.close(), second.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus survives a Redis restart: fails fast while down, then resubscribes and re-claims",
  async fn() {
    const server = redis();
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    // A frame sent just as the connection died may have arrived: it waits for a resend, at most the ack
    // timeout plus the lease (900 + 600 ms), within the 2 s that every call below gets.
    const b = await startNode("b", { keyPrefix, ackTimeoutMs: 900 });
    try {
      assert.equal(await a.bus.claimUser(5), true);
      await a.bus.subscribe(5);
      await server.stop();
      try {
        const timed = async <T>(call: () => Promise<T>): Promise<T | Error> => {
          const started = performance.now();
          const outcome = await call().catch((error: Error) => error);
          const elapsed = performance.now() - started;
          assert.ok(elapsed < 2_000, `took ${Math.round(elapsed)} ms`);
          return outcome;
        };
        const published = await timed(() => b.bus.publish({ ...frame("while down"), userId: 5 }));
        assert.ok(published !== true, "publish() rejects or resolves false: the caller stores offline");
        assert.ok(await timed(() => a.bus.claimUser(6)) instanceof Error);
        assert.ok(await timed(() => b.bus.onlineUsers([5])) instanceof Error);
        assert.ok(await timed(() => a.bus.ping()) instanceof Error);
        await a.bus.releaseUser(99); // never rejects
      } finally {
        await server.restart();
      }
      // The restarted server is empty: a's subscription and claim come back without the service's help.
      await eventually(() => b.bus.publish({ ...frame("after restart"), userId: 5 }), {
        what: "publish reaches a again",
      });
      assert.equal((await a.handler.waitFor(1)).at(-1)?.frame, frame("after restart").frame);
      await eventually(async () => (await b.bus.onlineUsers([5])).has(5), { what: "user 5 online again" });
      assert.equal(await b.bus.claimUser(5), false);
      assert.equal(await a.bus.claimUser(6), true, "the claim that failed while down left nothing behind");
      assert.ok(a.log.lines.some((line) => line.event === "bus connection lost" && line.level === "warn"));
      assert.ok(a.log.lines.some((line) => line.event === "bus reconnected"));
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.close() while Redis is down resolves promptly",
  async fn() {
    const server = redis();
    const a = await startNode("a", { keyPrefix: freshPrefix() });
    await a.bus.claimUser(1);
    await a.bus.subscribe(1);
    await server.stop();
    try {
      await bothConnectionsDown(a.log);
      const started = performance.now();
      await a.bus.close();
      assert.ok(performance.now() - started < 1_000, `took ${Math.round(performance.now() - started)} ms`);
      const warning = a.log.lines.find((line) => line.event.startsWith("bus could not release its claims"));
      assert.equal(warning?.fields.count, 1, "it says how many claims are left to expire with the lease");
      await assert.rejects(a.bus.claimUser(2), BusClosedError);
    } finally {
      await server.restart();
    }
  },
});

Deno.test({
  name: "RedisBus partition shorter than the lease: a release that failed is applied once Redis is reachable",
  async fn() {
    const server = redis();
    await using proxy = new PartitionProxy(server.port);
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix, url: `redis://127.0.0.1:${proxy.port}` });
    const b = await startNode("b", { keyPrefix });
    try {
      await a.bus.claimUser(31);
      await a.bus.claimUser(32);
      await a.bus.subscribe(31);
      proxy.cut();
      await bothConnectionsDown(a.log);
      const started = performance.now();
      await a.bus.unsubscribe(31);
      await a.bus.releaseUser(31);
      assert.ok(performance.now() - started < 500, "neither waits for Redis");
      assert.equal(await b.bus.claimUser(31), false, "Redis has not heard of the release yet");
      proxy.heal();
      await eventually(() => b.bus.claimUser(31), { what: "release applied" });
      assert.deepEqual(await b.bus.onlineUsers([32]), new Set([32]), "a's lease never lapsed");
      await eventually(async () => !await b.bus.publish({ ...frame("x"), userId: 31 }), {
        what: "a's stale subscription ended",
      });
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.publish() resends frames whose ack a dropped connection lost: each taken once, in order",
  async fn() {
    const server = redis();
    await using proxy = new PartitionProxy(server.port);
    const keyPrefix = freshPrefix();
    const publisher = await startNode("p", {
      keyPrefix,
      url: `redis://127.0.0.1:${proxy.port}`,
      ackTimeoutMs: 5_000,
    });
    const receiver = await startNode("r", { keyPrefix });
    try {
      const taken: string[] = [];
      receiver.bus.setHandler({
        onMessage(message) {
          taken.push(message.frame);
          // The publisher loses its connections after this frame reached the receiver and before the
          // ack can reach the publisher; frames behind it are anywhere between the two.
          if (message.frame === frame("m50").frame) {
            proxy.cut();
            setTimeout(() => proxy.heal(), 200);
          }
        },
      });
      await receiver.bus.subscribe(1);
      const frames = Array.from({ length: 200 }, (_, i) => frame(`m${i}`).frame);
      const results = await Promise.all(
        frames.map((text) => publisher.bus.publish({ userId: 1, frame: text, durable: true })),
      );
      assert.deepEqual(results, frames.map(() => true), "every frame confirmed");
      assert.deepEqual(taken, frames, "each taken exactly once, in order");
      assert.ok(
        publisher.log.lines.some((line) => line.event === "bus connection lost"),
        "the connection did drop",
      );
      assert.equal(await publisher.bus.publish({ ...frame("after"), userId: 1 }), true);
    } finally {
      await Promise.all([publisher.bus.close(), receiver.bus.close()]);
    }
  },
});

/**
 * A receiver handler that stops Redis on the frame `trigger`, after the frame arrived and before its ack can
 * go out (a receiver acknowledges once the handler's promise settles, and that promise is the stop), and
 * starts it again `outageMs` later. `taken` lists every frame the handler took.
 */
function outageOnFrame(trigger: string, outageMs: number) {
  const server = redis();
  const taken: string[] = [];
  let outage: Promise<void> | undefined;
  return {
    taken,
    /** Resolves once Redis is back (at once when the trigger never came). */
    over: () => outage ?? Promise.resolve(),
    handler: {
      onMessage(message: BusMessage): Promise<void> | boolean {
        taken.push(message.frame);
        if (message.frame !== trigger || outage) return true;
        const stopped = server.stop();
        // The outage's length: part of the scenario, not a wait for something to happen.
        outage = stopped.then(() => delay(outageMs)).then(() => server.restart());
        return stopped;
      },
    },
  };
}

Deno.test({
  name:
    "RedisBus.publish() of a frame whose ack a Redis restart lost is true once both nodes are back: taken once",
  async fn() {
    const keyPrefix = freshPrefix();
    // The outage (1 s, plus the reconnects) outlasts the ack timeout (500 ms): the frame's ack clock must not
    // run while its ack cannot come. Leases of the default length: the grace for an outage is one lease.
    const publisher = await startNode("p", { keyPrefix, ackTimeoutMs: 500, leaseMs: 5_000 });
    const receiver = await startNode("r", { keyPrefix, leaseMs: 5_000 });
    const outage = outageOnFrame(frame("m0").frame, 1_000);
    try {
      receiver.bus.setHandler(outage.handler);
      await receiver.bus.subscribe(1);
      assert.equal(
        await publisher.bus.publish({ ...frame("m0"), userId: 1 }),
        true,
        "taken: not stored offline",
      );
      assert.deepEqual(outage.taken, [frame("m0").frame], "taken once: the resend was only acknowledged");
      await outage.over();
      assert.ok(receiver.log.lines.some((line) => line.event === "bus reconnected"), "Redis did go away");
      assert.equal(await publisher.bus.publish({ ...frame("m1"), userId: 1 }), true);
      assert.deepEqual(outage.taken, [frame("m0").frame, frame("m1").frame]);
    } finally {
      await outage.over();
      await Promise.all([publisher.bus.close(), receiver.bus.close()]);
    }
  },
});

Deno.test({
  name:
    "RedisBus.publish() of a frame whose receiving node is gone after a Redis restart is false within bounds",
  async fn() {
    const keyPrefix = freshPrefix();
    const ackTimeoutMs = 500;
    const leaseMs = 1_500;
    const publisher = await startNode("p", { keyPrefix, ackTimeoutMs, leaseMs });
    const receiver = await startNode("r", { keyPrefix, leaseMs });
    const outage = outageOnFrame(frame("m0").frame, 1_000);
    try {
      receiver.bus.setHandler(outage.handler);
      await receiver.bus.subscribe(1);
      const started = performance.now();
      const published = publisher.bus.publish({ ...frame("m0"), userId: 1 });
      // The receiving node goes away during the outage: nobody will acknowledge the frame's resends.
      await receiver.log.waitFor((line) =>
        line.event === "bus connection lost" || line.event === "bus connection error"
      );
      await receiver.bus.close();
      // Taken, then not acknowledged: the caller stores it (a duplicate, never a loss), after a bounded wait.
      assert.equal(await published, false);
      const waited = performance.now() - started;
      assert.ok(waited < ackTimeoutMs + leaseMs + 2_000, `waited ${Math.round(waited)} ms`);
      assert.deepEqual(outage.taken, [frame("m0").frame]);
    } finally {
      await outage.over();
      await Promise.all([publisher.bus.close(), receiver.bus.close()]);
    }
  },
});

Deno.test({
  name:
    "RedisBus.publish() of a frame whose ack the receiving node's dropped connection lost is true once it is back",
  async fn() {
    const server = redis();
    await using proxy = new PartitionProxy(server.port);
    const keyPrefix = freshPrefix();
    // The publisher's connections stay up: it sees no outage, resends nothing, and waits for the ack (2 s).
    const publisher = await startNode("p", { keyPrefix, leaseMs: 5_000 });
    const receiver = await startNode("r", {
      keyPrefix,
      leaseMs: 5_000,
      url: `redis://127.0.0.1:${proxy.port}`,
    });
    try {
      const taken: string[] = [];
      receiver.bus.setHandler({
        onMessage(message) {
          taken.push(message.frame);
          if (taken.length > 1) return true;
          // The receiving node's connections drop after the frame arrived and before its ack can go out
          // (it is sent once this promise settles); the network is back 200 ms later.
          proxy.cut();
          setTimeout(() => proxy.heal(), 200);
          return bothConnectionsDown(receiver.log);
        },
      });
      await receiver.bus.subscribe(1);
      assert.equal(
        await publisher.bus.publish({ ...frame("m0"), userId: 1 }),
        true,
        "taken: not stored offline",
      );
      assert.deepEqual(taken, [frame("m0").frame]);
      assert.ok(
        !publisher.log.lines.some((line) => line.event === "bus connection lost"),
        "publisher stayed up",
      );
      await eventually(() => receiver.bus.ping().then(() => true), {
        what: "the receiving node reconnected",
      });
      assert.equal(await publisher.bus.publish({ ...frame("m1"), userId: 1 }), true);
      assert.deepEqual(taken, [frame("m0").frame, frame("m1").frame]);
    } finally {
      await Promise.all([publisher.bus.close(), receiver.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus partition longer than the lease: users may log in elsewhere; the rest are re-claimed",
  async fn() {
    const server = redis();
    await using proxy = new PartitionProxy(server.port);
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix, url: `redis://127.0.0.1:${proxy.port}` });
    const b = await startNode("b", { keyPrefix });
    try {
      await a.bus.claimUser(41);
      await a.bus.claimUser(42);
      proxy.cut();
      await eventually(() => b.bus.claimUser(41), { what: "a's lease lapsed", timeoutMs: LEASE_MS * 3 });
      assert.deepEqual(await b.bus.onlineUsers([41, 42]), new Set([41]));
      proxy.heal();
      await eventually(async () => (await b.bus.onlineUsers([42])).has(42), { what: "42 re-claimed by a" });
      assert.equal(await b.bus.claimUser(42), false);
      assert.deepEqual(await a.bus.onlineUsers([41]), new Set([41]), "b keeps 41");
      const warned = (event: string) =>
        a.log.lines.some((line) => line.level === "warn" && line.event === event);
      assert.ok(warned("bus lease lapsed: this node's users look offline and may log in elsewhere"));
      assert.ok(warned("bus users claimed elsewhere while the lease was lost"));
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus handles 10,000 users on one node: claims, subscriptions, onlineUsers() in one call",
  async fn() {
    const keyPrefix = freshPrefix();
    // A lease of seconds, not the file's 600 ms: a's renewal waits in its connection's pipeline behind
    // thousands of commands, which on a busy machine takes longer than 600 ms. Leases are not what this tests.
    const a = await startNode("a", { keyPrefix, leaseMs: 10_000 });
    const b = await startNode("b", { keyPrefix, leaseMs: 10_000, ackTimeoutMs: 10_000 });
    try {
      const ids = Array.from({ length: 10_000 }, (_, i) => i + 1);
      // 1,000 calls in flight at a time: all 10,000 at once can outlast the bus's 2 s command timeout on a
      // machine shared with other test runs, which says nothing about the bus.
      const inChunks = async <T>(fn: (id: number) => Promise<T>): Promise<T[]> => {
        const results: T[] = [];
        for (let start = 0; start < ids.length; start += 1_000) {
          results.push(...await Promise.all(ids.slice(start, start + 1_000).map(fn)));
        }
        return results;
      };
      const claimed = await inChunks((id) => a.bus.claimUser(id));
      assert.ok(claimed.every(Boolean));
      await inChunks((id) => a.bus.subscribe(id));
      const online = await b.bus.onlineUsers([...ids, 20_001]);
      assert.equal(online.size, 10_000);
      const received = await inChunks((userId) => b.bus.publish({ ...frame("x"), userId }));
      assert.ok(received.every(Boolean));
      await a.handler.waitFor(10_000);
      await a.bus.close();
      assert.deepEqual(await b.bus.onlineUsers(ids), new Set());
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

/**
 * A TCP proxy to 127.0.0.1:`port` that can cut the network: existing connections are dropped and new ones
 * refused (accepted and closed at once) until `heal()`.
 */
class PartitionProxy implements AsyncDisposable {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns = new Set<Deno.Conn>();
  readonly #serving: Promise<void>;
  #cut = false;

  constructor(port: number) {
    this.#serving = (async () => {
      for await (const client of this.#listener) {
        if (this.#cut) {
          client.close();
          continue;
        }
        const upstream = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => undefined);
        if (!upstream) {
          client.close();
          continue;
        }
        this.#conns.add(client).add(upstream);
        this.#pump(client, upstream);
        this.#pump(upstream, client);
      }
    })();
  }

  get port(): number {
    return (this.#listener.addr as Deno.NetAddr).port;
  }

  cut(): void {
    this.#cut = true;
    for (const conn of this.#conns) closeQuietly(conn);
    this.#conns.clear();
  }

  heal(): void {
    this.#cut = false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#serving;
  }

  async #pump(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        let written = 0;
        while (written < n) written += await to.write(buffer.subarray(written, n));
      }
    } catch {
      // Cut.
    }
    for (const conn of [from, to]) {
      if (this.#conns.delete(conn)) closeQuietly(conn);
    }
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

const THIS_FILE = new URL(import.meta.url).pathname;
const CONFIG = new URL("../deno.json", import.meta.url).pathname;

/**
 * A node in a child process (this file under `deno run`) that holds users until it is killed. Its handler
 * writes every frame it takes to stdout before returning (so before it acknowledges), one per line.
 */
class DoomedNode {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #reading: Promise<void>;
  readonly #ready: Promise<boolean>;
  #killed: Promise<void> | undefined;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.#ready = promise;
    this.#reading = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line === "ready") resolve(true);
          else this.#lines.push(line);
        }
      }
      resolve(false);
    })();
  }

  /** Starts the child and resolves once it claimed and subscribed `users`. */
  static async start(
    keyPrefix: string,
    nodeId: string,
    users: number[],
    leaseMs = LEASE_MS,
  ): Promise<DoomedNode> {
    const url = redis().url;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--config",
        CONFIG,
        "--allow-net=127.0.0.1",
        "--allow-env",
        THIS_FILE,
        JSON.stringify({ url, keyPrefix, nodeId, users, leaseMs }),
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const node = new DoomedNode(child);
    if (!await node.#ready) {
      await node.kill();
      throw new Error(`the doomed node did not start: ${JSON.stringify(node.#lines)}`);
    }
    return node;
  }

  /** The frames its handler took, in order. Complete once `kill()` resolved. */
  get handled(): readonly string[] {
    return this.#lines;
  }

  /** SIGKILL, as a crash: no close(), no release. Resolves once it exited and its output is read. Idempotent. */
  kill(): Promise<void> {
    this.#killed ??= (async () => {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited already.
      }
      await this.#child.status;
      await this.#reading;
    })();
    return this.#killed;
  }
}

if (import.meta.main) {
  // The child side of DoomedNode: claim, subscribe, report, then record frames until it is killed.
  const { url, keyPrefix, nodeId, users, leaseMs } = JSON.parse(Deno.args[0]);
  const bus = new RedisBus({ url, nodeId, keyPrefix, leaseMs, log: new Logger({ level: "warn" }) });
  const encoder = new TextEncoder();
  bus.setHandler({
    onMessage(message) {
      const line = encoder.encode(message.frame + "\n");
      for (let written = 0; written < line.length;) written += Deno.stdout.writeSync(line.subarray(written));
    },
  });
  await bus.start();
  for (const id of users) {
    if (!await bus.claimUser(id)) throw new Error(`could not claim ${id}`);
    await bus.subscribe(id);
  }
  console.log("ready");
  setInterval(() => {}, 60_000);
}

/**
 * A stand-in for both of a node's Redis connections, for driving a {@linkcode Receiver} and a
 * {@linkcode ReliablePublisher} without a server: PUBLISH to an ack channel goes to `onAcks`, any other
 * PUBLISH to `onFrame`; `refuse` makes the next PUBLISH fail the way `error` says.
 */
class FakeRedis {
  status = "ready";
  readonly published: { channel: string; payload: string }[] = [];
  onAcks: (payload: string) => void = () => {};
  onFrame: (channel: string, payload: string) => number = () => 1;
  refuse: Error | undefined;
  #wake: (() => void) | undefined;

  publish(channel: string, payload: string): Promise<number> {
    const refused = this.refuse;
    this.refuse = undefined;
    if (refused) return Promise.reject(refused);
    this.published.push({ channel, payload });
    this.#wake?.();
    if (channel.startsWith("chat:ack:")) {
      this.onAcks(payload);
      return Promise.resolve(1);
    }
    return Promise.resolve(this.onFrame(channel, payload));
  }
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  unsubscribe(): Promise<void> {
    return Promise.resolve();
  }

  /** The acks published so far (one entry per sequence, however batched), once there are `count`. */
  async acks(count: number): Promise<string[]> {
    for (;;) {
      const acks = this.published.filter((p) => p.channel.startsWith("chat:ack:"))
        .flatMap((p) => p.payload.split(","));
      if (acks.length >= count) return acks;
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#wake = resolve;
      await promise;
    }
  }
}

function fakeReceiver(redis: FakeRedis): Receiver {
  const conn = redis as unknown as ConstructorParameters<typeof Receiver>[0]["cmd"];
  return new Receiver({
    cmd: conn,
    sub: conn,
    channelPrefix: "chat:user:",
    ackPrefix: "chat:ack:",
    log: new Logger({ level: "silent" }),
  });
}

const PUBLISHER_TOKEN = "00000000-0000-4000-8000-000000000001";

/** A durable payload of `PUBLISHER_TOKEN`'s stream 0. */
function durablePayload(sequence: number, text: string): string {
  return `d${PUBLISHER_TOKEN}0:${sequence} ${JSON.stringify({ msgid: 6, msg: text })}`;
}

Deno.test({
  name: "Receiver declines a frame whose handler's promise rejected, and declines its resend again",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const redis = new FakeRedis();
    const receiver = fakeReceiver(redis);
    let calls = 0;
    // The node was storing the user's earlier frames, and its offline store failed (database down).
    receiver.setHandler({
      onMessage: () => {
        calls++;
        return Promise.reject(new Error("store down"));
      },
    });
    await receiver.subscribe(7);
    receiver.onMessage("chat:user:7", durablePayload(1, "a"));
    assert.deepEqual(await redis.acks(1), [`${NACK}1`], "declined: the publisher stores it itself");
    // The publisher's connection dropped before the decline came: it resends the frame.
    receiver.onMessage("chat:user:7", durablePayload(1, "a"));
    assert.deepEqual(await redis.acks(2), [`${NACK}1`, `${NACK}1`], "never a positive ack");
    assert.equal(calls, 1, "the resend is answered with the first outcome");
  },
});

Deno.test({
  name: "Receiver answers a resend that comes while the handler still runs with the handler's outcome",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const redis = new FakeRedis();
    const receiver = fakeReceiver(redis);
    const stores: PromiseWithResolvers<void>[] = [];
    receiver.setHandler({
      onMessage: () => {
        const store = Promise.withResolvers<void>();
        stores.push(store);
        return store.promise;
      },
    });
    await receiver.subscribe(7);
    receiver.onMessage("chat:user:7", durablePayload(1, "a"));
    receiver.onMessage("chat:user:7", durablePayload(2, "b"));
    receiver.onMessage("chat:user:7", durablePayload(1, "a")); // resent while its handler runs
    receiver.onMessage("chat:user:7", durablePayload(2, "b"));
    assert.equal(stores.length, 2, "the resends are not handled again");
    stores[1].resolve();
    stores[0].reject(new Error("store down"));
    assert.deepEqual((await redis.acks(4)).sort(), [`${NACK}1`, `${NACK}1`, "2", "2"]);
    // Taken once: a later resend of 2 is only acknowledged again; 1 is still declined.
    receiver.onMessage("chat:user:7", durablePayload(2, "b"));
    receiver.onMessage("chat:user:7", durablePayload(1, "a"));
    const later = (await redis.acks(6)).slice(4).sort();
    assert.deepEqual(later, [`${NACK}1`, "2"]);
  },
});

Deno.test({
  name: "Receiver resends an ack whose PUBLISH failed while its connection stayed up",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const redis = new FakeRedis();
    const receiver = fakeReceiver(redis);
    receiver.setHandler({ onMessage: () => true });
    await receiver.subscribe(7);
    const failed = Promise.withResolvers<void>();
    redis.refuse = new Error("Command timed out");
    const publish = redis.publish.bind(redis);
    redis.publish = (channel, payload) => {
      const reply = publish(channel, payload);
      reply.catch(() => failed.resolve());
      return reply;
    };
    receiver.onMessage("chat:user:7", durablePayload(1, "a"));
    await failed.promise;
    // The bus calls this with every lease renewal (the connection stayed "ready": no reconnect to wait for).
    await Promise.resolve();
    receiver.resendAcks();
    assert.deepEqual(await redis.acks(1), ["1"]);
  },
});

/** A publisher and a receiver joined by one {@linkcode FakeRedis}; `taken` lists the frames handled. */
function fakePair(options: { ackTimeoutMs: number }) {
  const redis = new FakeRedis();
  const conn = redis as unknown as ConstructorParameters<typeof Receiver>[0]["cmd"];
  const receiver = fakeReceiver(redis);
  const taken: string[] = [];
  receiver.setHandler({
    onMessage: (message) => {
      taken.push(message.frame);
      return true;
    },
  });
  const publisher = new ReliablePublisher({
    cmd: conn,
    sub: conn,
    token: PUBLISHER_TOKEN,
    ackPrefix: "chat:ack:",
    ackTimeoutMs: options.ackTimeoutMs,
    outageGraceMs: options.ackTimeoutMs,
    log: new Logger({ level: "silent" }),
  });
  redis.onAcks = (payload) => publisher.onAcks(payload);
  redis.onFrame = (channel, payload) => {
    receiver.onMessage(channel, payload);
    return 1;
  };
  return { redis, receiver, publisher, taken };
}

Deno.test({
  name:
    "ReliablePublisher resends a frame Redis refused with an error reply so that it is delivered, not just acked",
  async fn() {
    const { redis, receiver, publisher, taken } = fakePair({ ackTimeoutMs: 60_000 });
    try {
      await receiver.subscribe(7);
      await publisher.subscribeAcks();
      const refused = new Error("OOM command not allowed when used memory > 'maxmemory'");
      refused.name = "ReplyError";
      redis.refuse = refused;
      const first = publisher.publish("chat:user:7", { userId: 7, frame: "first", durable: true });
      // A later frame of the same stream goes through before the refused one is resent.
      assert.equal(
        await publisher.publish("chat:user:7", { userId: 7, frame: "second", durable: true }),
        true,
      );
      assert.equal(await first, true);
      assert.deepEqual(taken, ["second", "first"], "the resend reached the handler");
    } finally {
      publisher.close();
    }
  },
});

Deno.test({
  name: "ReliablePublisher counts a decline of a resend that overtook the resend's PUBLISH reply",
  async fn() {
    const redis = new FakeRedis();
    const conn = redis as unknown as ConstructorParameters<typeof Receiver>[0]["cmd"];
    // The ack timeout is far away: the decline alone must settle the frame.
    const publisher = new ReliablePublisher({
      cmd: conn,
      sub: conn,
      token: PUBLISHER_TOKEN,
      ackPrefix: "chat:ack:",
      ackTimeoutMs: 60_000,
      outageGraceMs: 60_000,
      log: new Logger({ level: "silent" }),
    });
    const resent = Promise.withResolvers<void>();
    let sends = 0;
    redis.onFrame = (_channel, payload) => {
      if (++sends === 2) {
        // The receiver declines the resend; its decline arrives before the PUBLISH reply.
        publisher.onAcks(NACK + payload.slice(payload.indexOf(":") + 1, payload.indexOf(" ")));
        resent.resolve();
        return 1;
      }
      // Two nodes had the user subscribed at first; one is gone by the resend.
      return 2;
    };
    let outcome: boolean | undefined;
    try {
      await publisher.subscribeAcks();
      const publish = publisher.publish("chat:user:7", { userId: 7, frame: "x", durable: true });
      void publish.then((received) => outcome = received);
      publisher.connectionLost(); // no ack yet: resent once connected (at once: the fake stays ready)
      await resent.promise;
      // Not a wait for time: one macrotask turn runs every microtask the resend's reply queued.
      await delay(0);
      assert.equal(outcome, false, "settled by the decline, not left to the ack timeout");
    } finally {
      publisher.close();
    }
  },
});

Deno.test({
  name: "RedisBus.start() rejects with BusClosedError when closed while waiting for the node id's lease",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const keyPrefix = freshPrefix();
    const live = await startNode("held", { keyPrefix, leaseMs: 5_000 });
    const log = new MemoryLogger();
    const second = new RedisBus({ url: redis().url, nodeId: "held", log, leaseMs: 5_000, keyPrefix });
    try {
      const starting = second.start().then(() => undefined, (error: Error) => error);
      await log.waitFor((line) => line.event.startsWith("bus node id lease held by another process"));
      await second.close();
      const error = await starting;
      assert.ok(error instanceof BusClosedError, `start() settled with ${error}`);
    } finally {
      await Promise.all([live.bus.close(), second.close()]);
    }
  },
});
