/**
 * RedisBus against a real Redis started for this file: the shared bus suite, and what takes a crash, a
 * Redis restart or a network partition.
 *
 * Two RedisBus instances with different node ids on one Redis are two nodes. Every cluster gets its own
 * key prefix, so the cases share the server without seeing each other's keys and channels. A node that dies
 * is a real process killed with SIGKILL: this file run with `deno run` is that node (see the end of the
 * file).
 *
 * The server starts before the first case and stops after the last (`Deno.test.beforeAll/afterAll`). Cases
 * that restart it, cut the network, spawn a node or move large replies keep Deno's default (sanitizers off):
 * the restarted server outlives them, and redis-parser (under ioredis) shrinks its shared buffer after a
 * reply split across reads with a module-wide interval, which Deno cannot tell from a leak. The other cases
 * run with sanitizers on. Every bus is closed before its case ends.
 */

import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { Redis } from "ioredis";
import type { BusMessage } from "../lib/bus/bus.ts";
import {
  BusAlreadyStartedError,
  BusClosedError,
  BusConnectError,
  BusNotStartedError,
  NodeIdInUseError,
} from "../lib/bus/errors.ts";
import { RedisBus, type RedisBusOptions } from "../lib/bus/redis_bus.ts";
import { devicesKey } from "../lib/bus/redis_wire.ts";
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

/** A key prefix no other case uses: a private namespace on the shared server. */
function freshPrefix(): string {
  return `test${++prefixes}.${Date.now()}:`;
}

/** Resolves once both of the bus's connections logged that they are down. */
async function bothConnectionsDown(log: MemoryLogger): Promise<void> {
  const down = (conn: string) => (line: LogLine) =>
    line.fields.conn === conn &&
    (line.event === "bus connection lost" || line.event === "bus connection error");
  await Promise.all([log.waitFor(down("command")), log.waitFor(down("subscriber"))]);
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

function frame(userId: number, text: string): BusMessage {
  return { userId, frame: JSON.stringify({ msgid: 6, msg: text }) };
}

/** A plain client of the shared server, for looking at the bus's keys. */
async function inspect<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
  const client = new Redis(redis().url, { lazyConnect: true });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.quit();
  }
}

busSuite(
  "RedisBus",
  () => {
    const keyPrefix = freshPrefix();
    return (nodeId) =>
      Promise.resolve(
        // Silent: one case makes a handler throw on purpose.
        new RedisBus({
          url: redis().url,
          nodeId,
          log: new Logger({ level: "silent" }),
          leaseMs: LEASE_MS,
          keyPrefix,
        }),
      );
  },
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
    assert.throws(() => new RedisBus({ url, nodeId: "n", log, leaseMs: 1.5 }), /leaseMs .* got 1.5/);
    assert.throws(
      () => new RedisBus({ url, nodeId: "n", log, leaseMs: 1000, renewMs: 1000 }),
      /renewMs .* got 1000/,
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
    const bus = new RedisBus({
      url: redis().url,
      nodeId: "n",
      log: new MemoryLogger(),
      keyPrefix: freshPrefix(),
    });
    try {
      await assert.rejects(bus.publish(frame(1, "early")), BusNotStartedError);
      await assert.rejects(
        bus.claimDevice(1, "phone", 5),
        /start\(\) was not called: claimDevice\(\) refused/,
      );
      await assert.rejects(bus.subscribe(1), BusNotStartedError);
      await assert.rejects(bus.onlineUsers([1]), BusNotStartedError);
      await assert.rejects(bus.ping(), BusNotStartedError);
      assert.deepEqual(await bus.releaseDevice(1, "phone"), { lastDevice: false }, "never rejects");
      await bus.unsubscribe(1);
      await bus.start();
      await assert.rejects(bus.start(), BusAlreadyStartedError);
    } finally {
      await bus.close();
    }
    await assert.rejects(bus.publish(frame(1, "late")), BusClosedError);
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
    const error = await bus.start().then(() => undefined, (error: Error) => error);
    assert.ok(error instanceof BusConnectError, `start() rejected with ${error}`);
    assert.match(error.message, new RegExp(`redis://alice:\\*\\*\\*@127\\.0\\.0\\.1:${port}/0`));
    const seen = `${error.message} ${String(error.cause)} ${log.text()}`;
    assert.ok(!seen.includes("s3cr3t"), seen);
    assert.ok(log.lines.some((line) => line.level === "warn" && line.event === "bus connection error"));
    await bus.close(); // start() closed it already; close() stays idempotent
  },
});

Deno.test({
  name: "RedisBus keeps a node's devices alive past the lease while it renews them",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      assert.equal((await a.bus.claimDevice(7, "phone", 5)).claimed, true);
      // A wait for something NOT to happen (the lease lapsing), so it has no event to wait on.
      await delay(LEASE_MS * 2);
      assert.deepEqual(await b.bus.claimDevice(7, "phone", 5), { claimed: false, reason: "taken" });
      assert.deepEqual(await b.bus.onlineUsers([7, 8]), new Set([7]));
      const entry = await inspect((client) => client.hget(devicesKey(keyPrefix, 7), "phone"));
      assert.match(entry ?? "", /^\d+\|[0-9a-f-]{36}\|a$/, "expiry, owner token and node id");
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus leases: a node killed with SIGKILL loses its devices within the lease time",
  async fn() {
    const keyPrefix = freshPrefix();
    const b = await startNode("b", { keyPrefix });
    const doomed = await DoomedNode.start(keyPrefix, "doomed", [11, 12]);
    try {
      assert.deepEqual(await b.bus.claimDevice(11, "phone", 5), { claimed: false, reason: "taken" });
      assert.deepEqual(await b.bus.onlineUsers([11, 12, 13]), new Set([11, 12]));
      await b.bus.publish(frame(11, "to child"));
      await eventually(() => doomed.handled.includes(frame(11, "to child").frame), {
        what: "the child got it",
      });

      await doomed.kill();
      const killedAt = performance.now();
      // Its subscriptions die with its sockets (publish still resolves); its devices only with its lease.
      await b.bus.publish(frame(11, "after kill"));
      assert.equal(b.bus.counters.publishFailures, 0, "Redis took it: nobody is subscribed, which is fine");
      assert.deepEqual(await b.bus.claimDevice(11, "phone", 5), { claimed: false, reason: "taken" });
      await eventually(async () => (await b.bus.claimDevice(11, "phone", 5)).claimed, {
        what: "device 11/phone claimable",
        timeoutMs: LEASE_MS * 3,
      });
      const elapsed = performance.now() - killedAt;
      assert.ok(elapsed <= LEASE_MS + 500, `claimable after ${Math.round(elapsed)} ms`);
      assert.deepEqual(await b.bus.onlineUsers([11, 12]), new Set([11]), "12 is offline, 11 is b's now");
      // The dead node's entries are deleted as scripts read them, and a hash nobody renews expires.
      assert.deepEqual(await inspect((client) => client.hkeys(devicesKey(keyPrefix, 11))), ["phone"]);
      assert.deepEqual(await inspect((client) => client.hkeys(devicesKey(keyPrefix, 12))), []);
      const ttl = await inspect((client) => client.pttl(devicesKey(keyPrefix, 11)));
      assert.ok(ttl > 0 && ttl <= LEASE_MS, `the hash expires a lease after its last write (PTTL ${ttl})`);
    } finally {
      await doomed.kill();
      await b.bus.close();
    }
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
      assert.deepEqual(await again.bus.claimDevice(21, "phone", 5), { claimed: true, firstDevice: true });
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
      assert.equal((await live.bus.claimDevice(1, "phone", 5)).claimed, true);
      assert.equal((await live.bus.claimDevice(2, "phone", 5)).claimed, true);
      await live.bus.subscribe(1);
      const error = await second.start().then(() => undefined, (error: Error) => error);
      assert.ok(error instanceof NodeIdInUseError, `start() rejected with ${error}`);
      assert.equal(error.nodeId, "same");
      assert.match(error.message, /node id "same" is in use by a live node/);
      // The refused bus closed itself; closing it again deletes nothing of the live node's.
      await second.close();
      assert.deepEqual(
        await other.bus.onlineUsers([1, 2]),
        new Set([1, 2]),
        "the live node's users stay online",
      );
      assert.deepEqual(await other.bus.claimDevice(1, "phone", 5), { claimed: false, reason: "taken" });
      await other.bus.publish(frame(1, "still here"));
      assert.deepEqual(await live.handler.waitFor(1), [frame(1, "still here")]);
      // Its lease is its own still: renewals never saw another process's token.
      assert.ok(
        !live.log.lines.some((line) => line.event.startsWith("bus lease renewed by another process")),
      );
    } finally {
      await Promise.all([live.bus.close(), other.bus.close(), second.close()]);
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

Deno.test({
  name:
    "RedisBus survives a Redis restart: claims reject and publishes are counted while down, then it re-claims",
  async fn() {
    const server = redis();
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix });
    const b = await startNode("b", { keyPrefix });
    try {
      assert.equal((await a.bus.claimDevice(5, "phone", 5)).claimed, true);
      assert.equal((await a.bus.claimDevice(5, "laptop", 5)).claimed, true);
      await a.bus.subscribe(5);
      await server.stop();
      try {
        await bothConnectionsDown(b.log);
        // Nothing waits for a Redis that is gone: each call settles at once, as the command connection is down.
        await b.bus.publish(frame(5, "while down")); // resolves: best effort
        await b.bus.publish(frame(5, "while down, again"));
        assert.equal(b.bus.counters.publishFailures, 2);
        assert.equal(b.bus.counters.published, 0);
        const warnings = b.log.lines.filter((line) => line.event.startsWith("bus publish failed"));
        assert.equal(warnings.length, 1, "an outage is logged once, not per frame");
        assert.equal(warnings[0].fields.failures, 1);
        await assert.rejects(a.bus.claimDevice(6, "phone", 5));
        await assert.rejects(b.bus.onlineUsers([5]));
        await assert.rejects(a.bus.subscribe(6));
        await assert.rejects(a.bus.ping(), BusConnectError);
        assert.deepEqual(
          await a.bus.releaseDevice(5, "laptop"),
          { lastDevice: false },
          "phone is still here",
        );
        assert.deepEqual(await a.bus.releaseDevice(99, "phone"), { lastDevice: false }, "never rejects");
      } finally {
        await server.restart();
      }
      // The restarted server is empty: a's subscription and device come back without the service's help.
      await eventually(async () => (await b.bus.onlineUsers([5])).has(5), { what: "user 5 online again" });
      assert.deepEqual(await b.bus.claimDevice(5, "phone", 5), { claimed: false, reason: "taken" });
      assert.deepEqual(
        await b.bus.claimDevice(5, "laptop", 5),
        { claimed: true, firstDevice: false },
        "the release made while down was not undone",
      );
      await eventually(async () => {
        await b.bus.publish(frame(5, "after restart"));
        return a.handler.messages.length > 0;
      }, { what: "publish reaches a again" });
      assert.equal(a.handler.messages.at(-1)?.frame, frame(5, "after restart").frame);
      assert.deepEqual(await a.bus.claimDevice(6, "phone", 5), { claimed: true, firstDevice: true });
      assert.ok(a.log.lines.some((line) => line.event === "bus connection lost" && line.level === "warn"));
      assert.ok(a.log.lines.some((line) => line.event === "bus reconnected"));
      assert.ok(a.log.lines.some((line) => line.event === "bus lease had expired; claims re-asserted"));
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus.claimDevice() that timed out releases the claim should Redis have run it after all",
  async fn() {
    const keyPrefix = freshPrefix();
    // Renewals (which retry the release) only every 3 s: the claim's run is seen before it is released.
    const a = await startNode("a", { keyPrefix, leaseMs: 10_000, renewMs: 3_000 });
    const key = devicesKey(keyPrefix, 9);
    try {
      await a.bus.claimDevice(8, "phone", 5); // Redis knows the script now: EVALSHA alone will run it
      // Redis holds every write for longer than the bus's 2 s command timeout, then runs them.
      await inspect((client) => client.call("CLIENT", "PAUSE", "2500", "WRITE"));
      await assert.rejects(a.bus.claimDevice(9, "phone", 5), /timed out/i);
      await eventually(() => inspect(async (client) => await client.hexists(key, "phone") === 1), {
        what: "the claim ran once the pause ended",
      });
      await eventually(() => inspect(async (client) => await client.hexists(key, "phone") === 0), {
        what: "the bus released the claim nobody uses",
        timeoutMs: 10_000,
      });
      assert.deepEqual(await a.bus.claimDevice(9, "phone", 5), { claimed: true, firstDevice: true });
    } finally {
      await a.bus.close();
    }
  },
});

Deno.test({
  name: "RedisBus.close() while Redis is down resolves promptly",
  async fn() {
    const server = redis();
    const a = await startNode("a", { keyPrefix: freshPrefix() });
    await a.bus.claimDevice(1, "phone", 5);
    await a.bus.subscribe(1);
    await server.stop();
    try {
      await bothConnectionsDown(a.log);
      await a.bus.close();
      const warning = a.log.lines.find((line) => line.event.startsWith("bus could not release its devices"));
      assert.equal(warning?.fields.count, 1, "it says how many devices are left to expire with the lease");
      await assert.rejects(a.bus.claimDevice(2, "phone", 5), BusClosedError);
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
      await a.bus.claimDevice(31, "phone", 5);
      await a.bus.claimDevice(32, "phone", 5);
      await a.bus.subscribe(31);
      proxy.cut();
      await bothConnectionsDown(a.log);
      await a.bus.unsubscribe(31);
      assert.deepEqual(await a.bus.releaseDevice(31, "phone"), { lastDevice: true }, "as far as a knows");
      assert.deepEqual(await b.bus.claimDevice(31, "phone", 5), { claimed: false, reason: "taken" });
      proxy.heal();
      await eventually(async () => (await b.bus.claimDevice(31, "phone", 5)).claimed, {
        what: "release applied",
      });
      assert.deepEqual(await b.bus.onlineUsers([32]), new Set([32]), "a's lease never lapsed");
      // ioredis subscribed the channel again on reconnecting; the retried unsubscribe ends it.
      const channel = `${keyPrefix}user:{u:31}`;
      await eventually(async () => {
        const [, count] = await inspect((client) => client.pubsub("NUMSUB", channel)) as [string, number];
        return count === 0;
      }, { what: "a's stale subscription ended" });
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus partition longer than the lease: devices may log in elsewhere; the rest are re-claimed",
  async fn() {
    const server = redis();
    await using proxy = new PartitionProxy(server.port);
    const keyPrefix = freshPrefix();
    const a = await startNode("a", { keyPrefix, url: `redis://127.0.0.1:${proxy.port}` });
    const b = await startNode("b", { keyPrefix });
    try {
      await a.bus.claimDevice(41, "phone", 5);
      await a.bus.claimDevice(42, "phone", 5);
      await a.bus.claimDevice(43, "phone", 1);
      proxy.cut();
      await eventually(async () => (await b.bus.claimDevice(41, "phone", 5)).claimed, {
        what: "a's lease lapsed",
        timeoutMs: LEASE_MS * 3,
      });
      assert.deepEqual(await b.bus.onlineUsers([41, 42]), new Set([41]));
      // Another device fills the room a's phone of user 43 had: a cannot claim that one again.
      assert.deepEqual(await b.bus.claimDevice(43, "laptop", 1), { claimed: true, firstDevice: true });
      proxy.heal();
      await eventually(async () => (await b.bus.onlineUsers([42])).has(42), { what: "42 re-claimed by a" });
      assert.deepEqual(await b.bus.claimDevice(42, "phone", 5), { claimed: false, reason: "taken" });
      await a.log.waitFor((line) => line.event === "bus users claimed elsewhere while the lease was lost");
      assert.deepEqual(await b.bus.releaseDevice(41, "phone"), { lastDevice: true }, "b kept 41's phone");
      const warned = (event: string) =>
        a.log.lines.some((line) => line.level === "warn" && line.event === event);
      assert.ok(warned("bus lease lapsed: this node's users look offline and may log in elsewhere"));
      const lost = a.log.lines.find((line) =>
        line.event === "bus users claimed elsewhere while the lease was lost"
      );
      assert.deepEqual(lost?.fields.devices, [{ user: 41, device: "phone" }, { user: 43, device: "phone" }]);
      assert.deepEqual(await a.bus.releaseDevice(41, "phone"), { lastDevice: false }, "not a's any more");
    } finally {
      await Promise.all([a.bus.close(), b.bus.close()]);
    }
  },
});

Deno.test({
  name: "RedisBus handles 10,000 users on one node: claims, subscriptions, onlineUsers() in one call",
  async fn() {
    const keyPrefix = freshPrefix();
    // A lease of seconds, not the file's 600 ms: a's renewal of 10,000 users waits in its connection's
    // pipeline behind thousands of commands, which on a busy machine takes longer than 600 ms.
    const a = await startNode("a", { keyPrefix, leaseMs: 10_000 });
    const b = await startNode("b", { keyPrefix, leaseMs: 10_000 });
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
      const claimed = await inChunks((id) => a.bus.claimDevice(id, "phone", 5));
      assert.ok(claimed.every((claim) => claim.claimed && claim.firstDevice));
      await inChunks((id) => a.bus.subscribe(id));
      const online = await b.bus.onlineUsers([...ids, 20_001]);
      assert.equal(online.size, 10_000);
      await inChunks((userId) => b.bus.publish(frame(userId, "x")));
      assert.equal(b.bus.counters.published, 10_000);
      await a.handler.waitFor(10_000, 30_000);
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
 * A node in a child process (this file under `deno run`) that holds the device "phone" of some users until
 * it is killed. Its handler writes every frame it receives to stdout, one per line.
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
  static async start(keyPrefix: string, nodeId: string, users: number[]): Promise<DoomedNode> {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--quiet",
        "--config",
        CONFIG,
        "--allow-net=127.0.0.1",
        "--allow-env",
        THIS_FILE,
        JSON.stringify({ url: redis().url, keyPrefix, nodeId, users, leaseMs: LEASE_MS }),
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

  /** The frames its handler received, in order. Complete once `kill()` resolved. */
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
    if (!(await bus.claimDevice(id, "phone", 5)).claimed) throw new Error(`could not claim ${id}`);
    await bus.subscribe(id);
  }
  console.log("ready");
  setInterval(() => {}, 60_000);
}
