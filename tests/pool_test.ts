import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import type { Clock } from "../lib/db/clock.ts";
import { type Lease, Pool, type PoolFactory, type PoolOptions } from "../lib/db/pool.ts";
import {
  AcquireTimeoutError,
  CloseTimeoutError,
  DoubleReleaseError,
  PoolClosedError,
  PoolCloseError,
  PoolFullError,
} from "../lib/db/errors.ts";
import { FakeClock } from "./harness/fake_clock.ts";

/** A stand-in for a database connection: an id, and the error listeners the pool attached. */
class FakeConnection {
  readonly listeners = new Set<(error: unknown) => void>();
  constructor(readonly id: number) {}
  /** Simulates the server dropping this connection. */
  fail(error: unknown): void {
    for (const listener of [...this.listeners]) listener(error);
  }
}

interface CreateRequest {
  readonly signal: AbortSignal;
  resolve(): FakeConnection;
  reject(error: unknown): void;
}

/**
 * A factory whose creates either resolve on their own (`manual: false`) or wait in `requests` until the
 * test resolves or rejects them. Manual creates reject with the signal's reason when it aborts, unless
 * `ignoreAbort` is set.
 */
class FakeFactory implements PoolFactory<FakeConnection> {
  readonly requests: CreateRequest[] = [];
  readonly created: FakeConnection[] = [];
  readonly destroyed: FakeConnection[] = [];
  /** Set to make destroy() of these ids throw. */
  failDestroy = new Set<number>();
  isFatal?: (error: unknown) => boolean;
  #next = 1;

  constructor(readonly options: { manual?: boolean; ignoreAbort?: boolean } = {}) {}

  create(signal: AbortSignal): Promise<FakeConnection> {
    const open = () => {
      const connection = new FakeConnection(this.#next++);
      this.created.push(connection);
      return connection;
    };
    if (!this.options.manual) return Promise.resolve().then(open);
    const deferred = Promise.withResolvers<FakeConnection>();
    if (!this.options.ignoreAbort) signal.addEventListener("abort", () => deferred.reject(signal.reason));
    this.requests.push({
      signal,
      resolve: () => {
        const connection = open();
        deferred.resolve(connection);
        return connection;
      },
      reject: deferred.reject,
    });
    return deferred.promise;
  }

  destroy(connection: FakeConnection): Promise<void> {
    this.destroyed.push(connection);
    if (this.failDestroy.has(connection.id)) {
      return Promise.reject(new Error(`cannot close #${connection.id}`));
    }
    return Promise.resolve();
  }

  onError(connection: FakeConnection, listener: (error: unknown) => void): () => void {
    connection.listeners.add(listener);
    return () => connection.listeners.delete(listener);
  }
}

type Counts = { size: number; idle: number; inUse: number; waiting: number; pending: number };

function assertCounts(pool: Counts, expected: Counts): void {
  const { size, idle, inUse, waiting, pending } = pool;
  assert.deepEqual({ size, idle, inUse, waiting, pending }, expected);
}

const tick = () => delay(0);

async function assertStillPending(promise: Promise<unknown>): Promise<void> {
  const marker = Symbol("pending");
  const settled = await Promise.race([
    promise.then(() => "settled", () => "settled"),
    tick().then(() => marker),
  ]);
  assert.equal(settled, marker, "expected the promise to be still pending");
}

function poolTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/**
 * A pool over fake connections on a fake clock: time moves only through `clock.advance()`, so timeouts and
 * the reaper are driven step by step (pass `clock: undefined` in `options` for real time).
 */
function setup(options: PoolOptions = {}, factoryOptions: ConstructorParameters<typeof FakeFactory>[0] = {}) {
  const factory = new FakeFactory(factoryOptions);
  const clock = new FakeClock();
  return { clock, factory, pool: new Pool(factory, { clock, ...options }) };
}

/** Counts abort listeners added and removed on every AbortSignal while alive. */
function spyAbortListeners() {
  const { addEventListener, removeEventListener } = EventTarget.prototype;
  const spy = { added: 0, removed: 0, [Symbol.dispose]: () => {} };
  EventTarget.prototype.addEventListener = function (this: EventTarget, type, listener, options) {
    if (type === "abort") spy.added++;
    return addEventListener.call(this, type, listener, options);
  };
  EventTarget.prototype.removeEventListener = function (this: EventTarget, type, listener, options) {
    if (type === "abort") spy.removed++;
    return removeEventListener.call(this, type, listener, options);
  };
  spy[Symbol.dispose] = () => Object.assign(EventTarget.prototype, { addEventListener, removeEventListener });
  return spy;
}

poolTest("Pool.acquire() serves waiters in FIFO order", async () => {
  const { pool } = setup({ max: 1 });
  const first = await pool.acquire();
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });

  const order: string[] = [];
  const leases = ["a", "b", "c"].map((name) => pool.acquire().then((lease) => (order.push(name), lease)));
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 3, pending: 0 });

  let current: Lease<FakeConnection> = first;
  for (const [index, name] of ["a", "b", "c"].entries()) {
    current.release();
    current = await leases[index];
    assert.deepEqual(order.at(-1), name);
    assert.equal(current.connection, first.connection);
    assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 2 - index, pending: 0 });
  }
  assert.deepEqual(order, ["a", "b", "c"]);
  current.release();
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest("Pool.acquire() opens at most one connection per waiter and never more than max", async () => {
  const { factory, pool } = setup({ max: 2 }, { manual: true });
  const acquires = [pool.acquire(), pool.acquire(), pool.acquire()];
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 3, pending: 2 });
  assert.equal(factory.requests.length, 2);

  factory.requests[0].resolve();
  const a = await acquires[0];
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 2, pending: 1 });
  a.release();
  const b = await acquires[1];
  assert.equal(b.connection, a.connection);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 1 });
  factory.requests[1].resolve();
  const c = await acquires[2];
  assertCounts(pool, { size: 2, idle: 0, inUse: 2, waiting: 0, pending: 0 });
  b.release();
  c.release();
  assertCounts(pool, { size: 2, idle: 2, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.requests.length, 2);
  await pool.close();
});

poolTest(
  "Pool.acquire() rejects with AcquireTimeoutError carrying the last create error as cause",
  async () => {
    const { clock, factory, pool } = setup({ acquireTimeout: 30 }, { manual: true });
    const acquired = pool.acquire();
    assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 1 });

    const refused = new Error("connect ECONNREFUSED");
    factory.requests[0].reject(refused);
    await tick();
    // Rolled back, and no immediate retry against a server that just refused.
    assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 0 });
    assert.equal(factory.requests.length, 1);

    clock.advance(29);
    await assertStillPending(acquired);
    clock.advance(1);
    const error = await acquired.catch((error) => error);
    assert.ok(error instanceof AcquireTimeoutError);
    assert.equal(error.timeout, 30);
    assert.match(error.message, /timed out after 30 ms/);
    assert.equal(error.cause, refused);
    assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
    await pool.close();
  },
);

poolTest("Pool.acquire() times out without a cause when the pool is merely busy, on real time", async () => {
  // The one test on the default clock: its timer fires for real and the sanitizers see it go.
  const { pool } = setup({ max: 1, acquireTimeout: 20, clock: undefined });
  const lease = await pool.acquire();
  const error = await pool.acquire().catch((error) => error);
  assert.ok(error instanceof AcquireTimeoutError);
  assert.equal("cause" in error, false);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  lease.release();
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest("Pool.acquire() rejects with the caller's abort reason", async () => {
  const { pool } = setup({ max: 1 });
  const lease = await pool.acquire();
  const controller = new AbortController();
  const acquired = pool.acquire({ signal: controller.signal });
  await assertStillPending(acquired);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 0 });

  const reason = new Error("request cancelled");
  controller.abort(reason);
  await assert.rejects(acquired, (error) => error === reason);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });

  // An already aborted signal rejects at once, even with an idle connection.
  lease.release();
  await assert.rejects(pool.acquire({ signal: controller.signal }), (error) => error === reason);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest(
  "Pool.acquire() hands a connection that opens after its waiter timed out to the next waiter",
  async () => {
    const { clock, factory, pool } = setup({ max: 1, acquireTimeout: 20 }, { manual: true });
    const first = pool.acquire();
    clock.advance(20);
    await assert.rejects(first, AcquireTimeoutError);
    assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 1 });

    const next = pool.acquire({ signal: AbortSignal.timeout(5_000) });
    // The create still in flight covers the new waiter: no second one.
    assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 1 });
    assert.equal(factory.requests.length, 1);

    const connection = factory.requests[0].resolve();
    const lease = await next;
    assert.equal(lease.connection, connection);
    assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
    lease.release();
    await pool.close();
  },
);

poolTest("Pool.acquire() keeps a connection that opens after its waiter gave up as idle", async () => {
  const { factory, pool } = setup({}, { manual: true });
  const controller = new AbortController();
  const acquired = pool.acquire({ signal: controller.signal });
  controller.abort();
  await assert.rejects(acquired, { name: "AbortError" });
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 1 });

  factory.requests[0].resolve();
  await tick();
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  const lease = await pool.acquire();
  assert.equal(lease.connection, factory.created[0]);
  assert.equal(factory.requests.length, 1);
  lease.release();
  await pool.close();
  assert.deepEqual(factory.destroyed, factory.created);
});

poolTest("Pool.acquire() rolls back a failed create and still serves the next waiter", async () => {
  const { clock, factory, pool } = setup({ max: 1 }, { manual: true });
  const controller = new AbortController();
  const first = pool.acquire({ signal: controller.signal });
  const second = pool.acquire();
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 2, pending: 1 });

  factory.requests[0].reject(new Error("handshake failed"));
  await tick();
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 2, pending: 0 });
  controller.abort();
  await assert.rejects(first, { name: "AbortError" });
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 0 });

  // The retry comes after a pause of 100 ms and serves the remaining waiter.
  clock.advance(99);
  assert.equal(factory.requests.length, 1);
  clock.advance(1);
  assert.equal(factory.requests.length, 2);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 1 });
  factory.requests[1].resolve();
  const lease = await second;
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  lease.release();
  await pool.close();
});

poolTest("Pool.acquire() rejects at once with PoolFullError beyond maxWaiters", async () => {
  const { pool } = setup({ max: 1, maxWaiters: 1 });
  const lease = await pool.acquire();
  const queued = pool.acquire();
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 0 });

  const error = await pool.acquire().catch((error) => error);
  assert.ok(error instanceof PoolFullError);
  assert.match(error.message, /maxWaiters: 1/);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 0 });

  lease.release();
  (await queued).release();
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest("Pool.acquire() with maxWaiters 0 still opens connections up to max", async () => {
  const { pool } = setup({ max: 2, maxWaiters: 0 });
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  assertCounts(pool, { size: 2, idle: 0, inUse: 2, waiting: 0, pending: 0 });
  await assert.rejects(pool.acquire(), PoolFullError);
  a.release();
  const c = await pool.acquire();
  assertCounts(pool, { size: 2, idle: 0, inUse: 2, waiting: 0, pending: 0 });
  b.release();
  c.release();
  await pool.close();
});

poolTest("Pool.acquire() removes its abort listener when served, aborted or timed out", async () => {
  const { clock, pool } = setup({ max: 1, acquireTimeout: 20 });
  using spy = spyAbortListeners();
  const lease = await pool.acquire({ signal: new AbortController().signal });
  assert.ok(spy.added > 0);
  assert.equal(spy.removed, spy.added);

  const controller = new AbortController();
  const aborted = pool.acquire({ signal: controller.signal });
  const timedOut = pool.acquire();
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 2, pending: 0 });
  controller.abort();
  await assert.rejects(aborted, { name: "AbortError" });
  clock.advance(20);
  await assert.rejects(timedOut, AcquireTimeoutError);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  assert.equal(spy.removed, spy.added);

  const served = pool.acquire({ signal: new AbortController().signal });
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 0 });
  lease.release();
  (await served).release();

  // Served on the spot from the idle list: no clock, no listener at all.
  const added = spy.added;
  (await pool.acquire({ signal: new AbortController().signal })).release();
  assert.equal(spy.added, added);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(spy.removed, spy.added);
  await pool.close();
});

poolTest(
  "Pool.acquire() cancels its timeout when the waiter is served while the timer is being set",
  async () => {
    // In a Deno test process the first setTimeout can run pending microtasks, which may serve the waiter
    // before schedule() returns; here a release during schedule() does the same on purpose.
    const fake = new FakeClock();
    let duringSchedule: (() => void) | undefined;
    const clock: Clock = {
      now: () => fake.now(),
      schedule(callback, delay) {
        const hook = duringSchedule;
        duringSchedule = undefined;
        hook?.();
        return fake.schedule(callback, delay);
      },
    };
    const { pool } = setup({ max: 1, clock });
    const first = await pool.acquire();
    duringSchedule = () => first.release();
    const second = await pool.acquire();
    assert.equal(second.connection, first.connection);
    assert.equal(fake.pending, 0, "the timeout of a served waiter stayed armed");
    fake.advance(60_000);
    second.release();
    await pool.close();
  },
);

poolTest("Pool removes a connection that fails while idle", async () => {
  const { factory, pool } = setup();
  (await pool.acquire()).release();
  const [connection] = factory.created;
  assert.equal(connection.listeners.size, 1);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });

  connection.fail(new Error("server has gone away"));
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, [connection]);
  assert.equal(connection.listeners.size, 0);
  await pool.close();
});

poolTest("Pool.acquire() reuses the most recently released connection", async () => {
  const { pool } = setup();
  const [a, b] = await Promise.all([pool.acquire(), pool.acquire()]);
  a.release();
  b.release();
  // The least recently used one is left to age out under the reaper.
  const lease = await pool.acquire();
  assert.equal(lease.connection, b.connection);
  assertCounts(pool, { size: 2, idle: 1, inUse: 1, waiting: 0, pending: 0 });
  lease.release();
  await pool.close();
});

poolTest("Lease.release() destroys a connection that failed while leased", async () => {
  const { factory, pool } = setup();
  const lease = await pool.acquire();
  lease.connection.fail(new Error("server has gone away"));
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  lease.release();
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, [lease.connection]);
  await pool.close();
});

poolTest("Lease.release() with an error destroys the connection", async () => {
  const { factory, pool } = setup();
  const lease = await pool.acquire();
  lease.release(new Error("protocol out of sync"));
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, [lease.connection]);
  await tick();
  await pool.close();
});

poolTest("Lease.release() throws DoubleReleaseError on a second call", async () => {
  const { pool } = setup({ max: 1 });
  const lease = await pool.acquire();
  lease.release();
  const other = await pool.acquire();
  assert.throws(() => lease.release(), DoubleReleaseError);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  other.release();
  await pool.close();
});

poolTest("Lease releases its connection at the end of an await using block", async () => {
  const { pool } = setup();
  {
    await using lease = await pool.acquire();
    assert.ok(lease.connection instanceof FakeConnection);
    assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  }
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  {
    // Disposal after an explicit release is a no-op, not a double release.
    await using lease = await pool.acquire();
    lease.release();
  }
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest("Pool.withConnection() releases on success and destroys on a fatal error only", async () => {
  const { factory, pool } = setup();
  factory.isFatal = (error) => (error as { fatal?: boolean }).fatal === true;

  assert.equal(await pool.withConnection((connection) => Promise.resolve(connection.id)), 1);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });

  const duplicate = Object.assign(new Error("ER_DUP_ENTRY"), { fatal: false });
  await assert.rejects(pool.withConnection(() => Promise.reject(duplicate)), (error) => error === duplicate);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, []);

  const lost = Object.assign(new Error("PROTOCOL_CONNECTION_LOST"), { fatal: true });
  await assert.rejects(pool.withConnection(() => Promise.reject(lost)), (error) => error === lost);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, [factory.created[0]]);
  await pool.close();
});

poolTest("Pool.withConnection() destroys on any error without isFatal", async () => {
  const { factory, pool } = setup();
  await assert.rejects(pool.withConnection(() => Promise.reject(new Error("boom"))), /boom/);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.destroyed.length, 1);
  await pool.close();
});

poolTest("Pool keeps min connections, opened lazily after first use", async () => {
  const { factory, pool } = setup({ min: 2 });
  await tick();
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  const lease = await pool.acquire();
  await tick();
  assertCounts(pool, { size: 2, idle: 1, inUse: 1, waiting: 0, pending: 0 });
  lease.release(new Error("broken"));
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 1 });
  await tick();
  assertCounts(pool, { size: 2, idle: 2, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.created.length, 3);
  await pool.close();
});

poolTest("Pool reaper closes idle connections oldest first, never below min", async () => {
  const { clock, factory, pool } = setup({ min: 1, max: 3, idleTimeout: 60, reapInterval: 5 });
  const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  const [oldest, middle, newest] = leases.map((lease) => lease.connection);
  leases[0].release(); // idle since 0
  clock.advance(40);
  leases[1].release(); // both idle since 40
  leases[2].release();
  assertCounts(pool, { size: 3, idle: 3, inUse: 0, waiting: 0, pending: 0 });

  // The reaper looks every 5 ms; the oldest reaches its 60 ms at 60, not one look earlier.
  clock.advance(19);
  assert.deepEqual(factory.destroyed, []);
  clock.advance(1);
  assert.deepEqual(factory.destroyed, [oldest]);
  assertCounts(pool, { size: 2, idle: 2, inUse: 0, waiting: 0, pending: 0 });

  // The other two reach 60 ms together at 100; only one goes, since one must stay for min.
  clock.advance(39);
  assert.deepEqual(factory.destroyed, [oldest]);
  clock.advance(1);
  assert.deepEqual(factory.destroyed, [oldest, middle]);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(clock.pending, 0, "at min the reaper keeps no timer");
  clock.advance(1_000);
  assert.deepEqual(factory.destroyed, [oldest, middle]);

  const lease = await pool.acquire();
  assert.equal(lease.connection, newest);
  lease.release();
  await pool.close();
  assert.deepEqual(factory.destroyed, [oldest, middle, newest]);
});

poolTest("Pool reaper counts idle time from the last release, not from the open", async () => {
  const { clock, factory, pool } = setup({ idleTimeout: 50, reapInterval: 10 });
  const lease = await pool.acquire();
  clock.advance(500); // leased all along: not idle
  lease.release();
  clock.advance(40);
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  (await pool.acquire()).release(); // used again at 540: its clock starts over
  clock.advance(40);
  assert.deepEqual(factory.destroyed, []);
  clock.advance(10);
  assert.deepEqual(factory.destroyed, factory.created);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  await pool.close();
});

poolTest("Pool reaper stops by itself once the pool is empty", async () => {
  // No close() here on purpose: nothing may be left for it to stop.
  const { clock, factory, pool } = setup({ idleTimeout: 10, reapInterval: 5 });
  (await pool.acquire()).release();
  assertCounts(pool, { size: 1, idle: 1, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(clock.pending, 1, "the reaper's timer");
  clock.advance(10);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.destroyed.length, 1);
  assert.equal(clock.pending, 0, "the reaper outlived the connections");
});

poolTest("Pool reaper timer goes as soon as the last idle connection fails", async () => {
  const { clock, factory, pool } = setup({ idleTimeout: 1_000, reapInterval: 500 });
  (await pool.acquire()).release();
  assert.equal(clock.pending, 1);
  factory.created[0].fail(new Error("server has gone away"));
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(clock.pending, 0, "the reaper timer stayed armed");
});

poolTest("Pool reaper keeps no timer while every connection is leased", async () => {
  const { clock, pool } = setup({ idleTimeout: 1_000, reapInterval: 500 });
  (await pool.acquire()).release();
  assert.equal(clock.pending, 1);
  const lease = await pool.acquire();
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  assert.equal(clock.pending, 0, "the reaper timer stayed armed");
  lease.release();
  assert.equal(clock.pending, 1, "the reaper is back with an idle connection");
  await pool.close();
});

poolTest("Pool constructor opens nothing and starts no timer", async () => {
  // Never closed: there is nothing to close.
  const { clock, factory } = setup({ min: 3 });
  await tick();
  assert.equal(factory.created.length, 0);
  assert.equal(clock.pending, 0);
});

poolTest("Pool.close() stops the reaper", async () => {
  const { clock, factory, pool } = setup({ idleTimeout: 1_000, reapInterval: 500 });
  (await pool.acquire()).release();
  assert.equal(clock.pending, 1);
  await pool.close();
  assert.equal(clock.pending, 0);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.destroyed.length, 1);
});

poolTest("Pool.close() waits for an outstanding lease", async () => {
  const { factory, pool } = setup();
  const lease = await pool.acquire();
  (await pool.acquire()).release();
  assertCounts(pool, { size: 2, idle: 1, inUse: 1, waiting: 0, pending: 0 });
  const closed = pool.close();
  await assertStillPending(closed);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  assert.equal(factory.destroyed.length, 1);

  lease.release();
  await closed;
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.equal(factory.destroyed.length, 2);
});

poolTest("Pool.close() destroys leases still out at its deadline", async () => {
  const { clock, factory, pool } = setup();
  const lease = await pool.acquire();
  const closed = pool.close({ timeout: 20 }).catch((error) => error);
  clock.advance(19);
  await assertStillPending(closed);
  assert.deepEqual(factory.destroyed, []);
  clock.advance(1);
  const error = await closed;
  assert.ok(error instanceof PoolCloseError);
  assert.ok(error instanceof AggregateError);
  assert.equal(error.errors.length, 1);
  assert.ok(error.errors[0] instanceof CloseTimeoutError);
  assert.equal(error.errors[0].leases, 1);
  assert.equal(error.errors[0].opening, 0);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
  assert.deepEqual(factory.destroyed, [lease.connection]);

  lease.release(); // late, and harmless
  assert.throws(() => lease.release(), DoubleReleaseError);
  assert.equal(factory.destroyed.length, 1);
});

poolTest("Pool.close() rejects waiters and later acquires with PoolClosedError", async () => {
  const { pool } = setup({ max: 1 });
  const lease = await pool.acquire();
  const waiter = pool.acquire();
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 1, pending: 0 });
  const closed = pool.close();
  await assert.rejects(waiter, PoolClosedError);
  assertCounts(pool, { size: 1, idle: 0, inUse: 1, waiting: 0, pending: 0 });
  await assert.rejects(pool.acquire(), PoolClosedError);
  await assert.rejects(pool.withConnection(() => Promise.resolve()), PoolClosedError);
  lease.release();
  await closed;
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
});

poolTest("Pool.close() aborts connections still opening and destroys late arrivals", async () => {
  const { factory, pool } = setup({}, { manual: true });
  const first = pool.acquire();
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 1, pending: 1 });
  await pool.close();
  await assert.rejects(first, PoolClosedError);
  assert.equal(factory.requests[0].signal.aborted, true);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });

  const stubborn = setup({}, { manual: true, ignoreAbort: true });
  const second = stubborn.pool.acquire();
  const closed = stubborn.pool.close();
  await assert.rejects(second, PoolClosedError);
  await assertStillPending(closed);
  assertCounts(stubborn.pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 1 });
  const late = stubborn.factory.requests[0].resolve();
  await closed;
  assert.deepEqual(stubborn.factory.destroyed, [late]);
  assertCounts(stubborn.pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
});

poolTest("Pool.close() reports every destroy failure together", async () => {
  const { factory, pool } = setup();
  const leases = await Promise.all([pool.acquire(), pool.acquire(), pool.acquire()]);
  for (const lease of leases) lease.release();
  factory.failDestroy = new Set([1, 3]);
  const error = await pool.close().catch((error) => error);
  assert.ok(error instanceof PoolCloseError);
  assert.deepEqual(error.errors.map((e: Error) => e.message), ["cannot close #1", "cannot close #3"]);
  assert.equal(factory.destroyed.length, 3);
  assertCounts(pool, { size: 0, idle: 0, inUse: 0, waiting: 0, pending: 0 });
});

poolTest("Pool.close() is idempotent", async () => {
  const { factory, pool } = setup();
  (await pool.acquire()).release();
  const first = pool.close();
  assert.equal(pool.close(), first);
  await first;
  await pool.close();
  await pool[Symbol.asyncDispose]();
  assert.equal(factory.destroyed.length, 1);
});

poolTest("Pool constructor validates options with precise RangeErrors", async () => {
  const factory = new FakeFactory();
  const cases: [PoolOptions, RegExp][] = [
    [{ min: -1 }, /^Pool option "min" must be an integer from 0 to 2147483647, got -1$/],
    [{ max: 0 }, /^Pool option "max" must be an integer from 1 to 2147483647, got 0$/],
    [{ max: 1.5 }, /"max" .* got 1\.5$/],
    [{ min: 3, max: 2 }, /^Pool option "min" \(3\) must not exceed "max" \(2\)$/],
    [{ maxWaiters: -1 }, /^Pool option "maxWaiters" must be Infinity or an integer from 0 .* got -1$/],
    [{ acquireTimeout: 0 }, /"acquireTimeout" .* got 0$/],
    [{ acquireTimeout: 2 ** 31 }, /"acquireTimeout" .* got 2147483648$/],
    [{ idleTimeout: NaN }, /"idleTimeout" .* got NaN$/],
    [{ reapInterval: Infinity }, /^Pool option "reapInterval" must be an integer .* got Infinity$/],
  ];
  for (const [options, message] of cases) {
    assert.throws(
      () => new Pool(factory, options),
      (error) => error instanceof RangeError && message.test(error.message),
    );
  }
  const pool = new Pool(factory, { maxWaiters: Infinity, acquireTimeout: Infinity, idleTimeout: Infinity });
  await assert.rejects(pool.close({ timeout: -1 }), /^RangeError: close\(\) option "timeout" must be/);
  await pool.close();
});
