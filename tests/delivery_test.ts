/**
 * `Delivery`, the no-loss algorithm (DESIGN.md "Delivery without loss"), driven directly: real sessions on
 * fake connections, the in-process bus (two `Delivery`s on one `LocalBus` stand for two nodes) and an
 * in-memory SQLite store.
 */
import assert from "node:assert/strict";
import type { BusMessage } from "../lib/bus/bus.ts";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { line } from "../lib/protocol/encode.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { Delivery } from "../lib/service/delivery.ts";
import { hashPassword } from "../lib/service/password.ts";
import { Session } from "../lib/service/session.ts";
import { SessionRegistry } from "../lib/service/session_registry.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import type { OfflineEntry, OfflineMessage } from "../lib/store/store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

/** These tests own timers and stores: nothing may outlive a case. */
const sanitized = { sanitizeOps: true, sanitizeResources: true };

const chat = (msg: string) => JSON.stringify({ msgid: 6, id: 1, name: "alice", toid: 7, msg, time: "t" });
const PRESENCE = JSON.stringify({ msgid: 15, id: 1, state: "online" });

/**
 * A store whose first `storeOffline` call waits for {@linkcode GatedStore.open} (a slow insert on one pooled
 * connection); later calls go straight through, as they would on other connections.
 */
interface GatedStore {
  store: SqliteStore;
  /** Every `storeOffline` call, in call order. */
  calls: OfflineEntry[][];
  open(): void;
}

function gate(store: SqliteStore): GatedStore {
  const opened = Promise.withResolvers<void>();
  const calls: OfflineEntry[][] = [];
  const gated = new Proxy(store, {
    get(target, key) {
      if (key === "storeOffline") {
        return async (entries: OfflineEntry[]) => {
          calls.push(entries);
          if (calls.length === 1) await opened.promise;
          return target.storeOffline(entries);
        };
      }
      const value = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return {
    store: gated,
    calls,
    open: () => opened.resolve(),
  };
}

/** A `LocalBus` that can fail and that records the offline-store fence. */
class ProbeBus extends LocalBus {
  readonly fence: string[] = [];
  publishFails = false;
  announceFails = false;
  /** Runs when a store is announced, before it is made (a login that starts at that moment). */
  onAnnounce: () => void = () => {};

  override publish(message: BusMessage): Promise<boolean> {
    if (this.publishFails) return Promise.reject(new Error("bus unreachable"));
    return super.publish(message);
  }

  override beginOfflineStore(userIds: number[]): Promise<void> {
    this.onAnnounce();
    if (this.announceFails) return Promise.reject(new Error("bus unreachable"));
    this.fence.push(`begin ${userIds}`);
    return super.beginOfflineStore(userIds);
  }

  override endOfflineStore(userIds: number[]): Promise<void> {
    this.fence.push(`end ${userIds}`);
    return super.endOfflineStore(userIds);
  }
}

/** One node's delivery, on a bus and a store that nodes may share. */
class Node {
  readonly sessions = new SessionRegistry<Session>();
  readonly log = new RecordingLogger();
  readonly delivery: Delivery;

  constructor(readonly bus: ProbeBus, store: SqliteStore) {
    this.delivery = new Delivery({ sessions: this.sessions, bus, store, log: this.log });
  }

  /** Makes this node the one the bus hands frames to (a `LocalBus` has one handler). */
  receive(): this {
    this.bus.setHandler({ onMessage: (message) => this.delivery.onBusMessage(message) });
    return this;
  }

  /** A session of `userId` on this node: bound and, unless `holding`, past its login. */
  login(userId: number, options: { version?: 1 | 2; holding?: boolean } = {}) {
    const connection = new RecordingConnection();
    const session = new Session(connection);
    session.version = options.version ?? 2;
    session.bind({ id: userId, name: `user${userId}` });
    if (!options.holding) session.release();
    this.sessions.add(userId, session);
    return { session, connection };
  }
}

async function memoryStore(): Promise<SqliteStore> {
  const store = SqliteStore.open(":memory:");
  await store.migrate();
  return store;
}

async function offline(store: SqliteStore, userId: number): Promise<string[]> {
  return (await store.readOffline(userId, 1000)).map((message: OfflineMessage) => message.frame);
}

/** Whether `promise` has settled once everything already queued (no timers) has run. */
async function hasSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(() => settled = true, () => settled = true);
  await new Promise((resolve) => setTimeout(resolve, 0));
  return settled;
}

Deno.test(
  "Delivery.toUser() writes to the user's session on this node and stores nothing",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    const { connection } = node.login(7);
    await node.delivery.toUser(7, chat("hi"), true);
    assert.deepEqual(connection.sent, [line(chat("hi"))]);
    assert.deepEqual(connection.tags, [{ userId: 7, frame: chat("hi") }], "durable: comes back if unsent");
    assert.deepEqual(await offline(store, 7), []);
    assert.deepEqual([node.delivery.counters.live, node.delivery.counters.published], [1, 0]);
  },
);

Deno.test(
  "Delivery.toUser() sends presence to v2 sessions only, untagged, and never stores it",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    const v1 = node.login(7, { version: 1 });
    const v2 = node.login(8);
    await node.delivery.toUser(7, PRESENCE, false);
    await node.delivery.toUser(8, PRESENCE, false);
    await node.delivery.toUser(9, PRESENCE, false);
    assert.deepEqual(v1.connection.sent, [], "a v1 client knows no PRESENCE");
    assert.deepEqual(v2.connection.sent, [line(PRESENCE)]);
    assert.deepEqual(v2.connection.tags, [undefined], "nothing to store if it never reaches the socket");
    assert.deepEqual(await offline(store, 9), [], "an offline user's presence is dropped");
    assert.equal(node.delivery.counters.storedOffline, 0);
  },
);

Deno.test(
  "Delivery.toUser() hands a frame for a user on another node to that node through the bus",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const bus = new ProbeBus("shared");
    const here = new Node(bus, store);
    const there = new Node(bus, store).receive();
    const { connection } = there.login(7);
    await bus.subscribe(7);
    await here.delivery.toUser(7, chat("across"), true);
    assert.deepEqual(connection.sent, [line(chat("across"))]);
    assert.deepEqual(await offline(store, 7), []);
    assert.deepEqual([here.delivery.counters.published, here.delivery.counters.publishedToNobody], [1, 0]);
    assert.equal(there.delivery.counters.live, 1);
  },
);

Deno.test(
  "Delivery.toUser() stores a frame for a user nobody holds, announced to every node first",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    await node.delivery.toUser(7, chat("later"), true);
    assert.deepEqual(await offline(store, 7), [chat("later")]);
    assert.deepEqual(node.bus.fence, ["begin 7", "end 7"]);
    assert.equal(node.delivery.counters.storedOffline, 1);
    assert.ok(node.delivery.counters.publishedToNobody >= 1);
  },
);

Deno.test(
  "Delivery.toUser() stores a frame that the subscribed node declined (its user left meanwhile)",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const bus = new ProbeBus("shared");
    const here = new Node(bus, store);
    const there = new Node(bus, store).receive();
    // Still subscribed, but the session is gone: that node declines, so the publisher stores.
    await bus.subscribe(7);
    await here.delivery.toUser(7, chat("declined"), true);
    assert.deepEqual(await offline(store, 7), [chat("declined")], "stored once, by the publisher");
    assert.equal(here.delivery.counters.storedOffline, 1);
    assert.equal(there.delivery.counters.storedOffline, 0);
  },
);

Deno.test(
  "Delivery.onBusMessage() stores behind its own pending stores for the user, in order",
  sanitized,
  async () => {
    const gated = gate(await memoryStore());
    await using store = gated.store;
    const bus = new ProbeBus("shared");
    const here = new Node(bus, store);
    const there = new Node(bus, gated.store).receive();
    await bus.subscribe(7);
    // The node still stores what a dropped connection of user 7 never wrote...
    const earlier = there.delivery.storeOffline([{ userId: 7, frame: chat("first") }]);
    // ...when a newer frame arrives for that user: it must not overtake.
    const newer = here.delivery.toUser(7, chat("second"), true);
    assert.equal(await hasSettled(newer), false, "the publisher hears of it once the row is committed");
    gated.open();
    await Promise.all([earlier, newer]);
    assert.deepEqual(await offline(store, 7), [chat("first"), chat("second")]);
    assert.equal(here.delivery.counters.storedOffline, 0, "the receiving node took it");
    assert.deepEqual(bus.fence, ["begin 7", "end 7"], "the receiving node announced its store");
  },
);

Deno.test(
  "Delivery holds a frame that arrives during login behind the offline rows the login sends",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    const { session, connection } = node.login(7, { holding: true });
    await node.delivery.toUser(7, chat("live"), true);
    assert.deepEqual(connection.sent, [], "held while the login hands over offline messages");
    session.reply(chat("offline"));
    session.release();
    assert.deepEqual(connection.sent, [line(chat("offline")), line(chat("live"))]);
    assert.deepEqual(await offline(store, 7), []);
  },
);

Deno.test(
  "Delivery.storeOffline() keeps the held durable frames of a login that ended early",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    const { session } = node.login(7, { holding: true });
    await node.delivery.toUser(7, chat("one"), true);
    await node.delivery.toUser(7, PRESENCE, false);
    await node.delivery.toUser(7, chat("two"), true);
    await node.delivery.storeOffline(session.unbind());
    assert.deepEqual(await offline(store, 7), [chat("one"), chat("two")], "presence is not stored");
  },
);

Deno.test(
  "Delivery offers a frame once more after announcing its store: a login that began takes it live",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    let login: ReturnType<Node["login"]> | undefined;
    node.bus.onAnnounce = () => login = node.login(7, { holding: true });
    await node.delivery.toUser(7, chat("raced"), true);
    assert.ok(login);
    assert.deepEqual(await offline(store, 7), [], "not stored: the login would have read its rows already");
    login.session.release();
    assert.deepEqual(login.connection.sent, [line(chat("raced"))]);
  },
);

Deno.test("Delivery.toUser() stores the frame when the bus is unreachable", sanitized, async () => {
  await using store = await memoryStore();
  const node = new Node(new ProbeBus("n1"), store).receive();
  node.bus.publishFails = true;
  await node.delivery.toUser(7, chat("kept"), true);
  assert.deepEqual(await offline(store, 7), [chat("kept")]);
  assert.ok(node.delivery.counters.busErrors >= 1);
  assert.ok(
    node.log.entries.some((entry) =>
      entry.level === "warn" && entry.event === "bus publish failed; storing offline" &&
      entry.fields.user === 7
    ),
  );
});

Deno.test(
  "Delivery.toUser() still stores when the bus cannot announce the store, and does not end it",
  sanitized,
  async () => {
    await using store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    node.bus.announceFails = true;
    await node.delivery.toUser(7, chat("kept"), true);
    assert.deepEqual(await offline(store, 7), [chat("kept")]);
    assert.deepEqual(node.bus.fence, [], "no end without a begin");
    assert.ok(node.log.entries.some((entry) => entry.event === "bus could not announce an offline store"));
  },
);

Deno.test(
  "Delivery.toUser() rejects when the frame must be stored and the store is unreachable",
  sanitized,
  async () => {
    const store = await memoryStore();
    const node = new Node(new ProbeBus("n1"), store).receive();
    await store.close();
    await assert.rejects(node.delivery.toUser(7, chat("nowhere"), true), StoreUnavailableError);
    await node.delivery.toUser(7, PRESENCE, false);
    assert.deepEqual(node.bus.fence, ["begin 7", "end 7"], "the announced store is ended anyway");
  },
);

Deno.test(
  "Delivery.toUsers() writes to local members, publishes to remote ones, stores the rest once",
  sanitized,
  async () => {
    const gated = gate(await memoryStore());
    gated.open();
    await using store = gated.store;
    const bus = new ProbeBus("shared");
    const here = new Node(bus, store);
    const there = new Node(bus, store).receive();
    const local = here.login(1);
    const remote = there.login(2);
    await bus.subscribe(2);
    const frame = JSON.stringify({ msgid: 10, id: 9, name: "carol", groupid: 1, msg: "群 😀", time: "t" });
    await here.delivery.toUsers([1, 2, 3, 4], frame);
    assert.deepEqual(local.connection.sent, [line(frame)]);
    assert.deepEqual(local.connection.tags, [{ userId: 1, frame }]);
    assert.deepEqual(remote.connection.sent, [line(frame)]);
    assert.deepEqual([await offline(store, 3), await offline(store, 4)], [[frame], [frame]]);
    assert.deepEqual(gated.calls, [[{ userId: 3, frame }, { userId: 4, frame }]], "one store call");
  },
);

Deno.test(
  "Delivery.storeOffline() stores one user's frames in call order; other users do not wait",
  sanitized,
  async () => {
    const gated = gate(await memoryStore());
    await using store = gated.store;
    const node = new Node(new ProbeBus("n1"), store);
    const first = node.delivery.storeOffline([{ userId: 7, frame: chat("a") }]);
    const second = node.delivery.storeOffline([{ userId: 7, frame: chat("b") }]);
    const settled = node.delivery.offlineStored(7);
    assert.equal(await hasSettled(settled), false, "a login of user 7 waits for this node's stores");
    assert.equal(await hasSettled(node.delivery.storeOffline([{ userId: 8, frame: chat("c") }])), true);
    assert.deepEqual(await offline(store, 7), [], "user 7's first store is still waiting");
    gated.open();
    await Promise.all([first, second, settled]);
    assert.deepEqual(await offline(store, 7), [chat("a"), chat("b")]);
    assert.deepEqual(await offline(store, 8), [chat("c")]);
    assert.equal(node.delivery.counters.storedOffline, 3);
  },
);

Deno.test("Delivery.offlineStored() resolves at once when nothing is being stored", sanitized, async () => {
  await using store = await memoryStore();
  const node = new Node(new ProbeBus("n1"), store);
  await node.delivery.offlineStored(7);
});

/** A service on an in-memory store and a local bus, with one registered user. */
async function serviceWithUser() {
  const store = await memoryStore();
  const bus = new LocalBus("n1");
  const log = new RecordingLogger();
  const service = new ChatService({ store, bus, log });
  const id = await store.createUser("bob", await hashPassword("pw"));
  const connection = new RecordingConnection();
  service.onOpen(connection);
  return {
    store,
    service,
    connection,
    id,
    login: () => service.onFrame(connection, JSON.stringify({ msgid: 1, v: 2, id, password: "pw" })),
    async [Symbol.asyncDispose]() {
      await service.endAllLogins();
      await bus.close();
      await store.close();
    },
  };
}

Deno.test(
  "ChatService.onClose() stores the durable frames a closed connection never wrote",
  sanitized,
  async () => {
    await using fixture = await serviceWithUser();
    const { service, connection, id, store } = fixture;
    await fixture.login();
    assert.equal(connection.frames()[0].errno, 0);
    await service.context.delivery.toUser(id, chat("unsent"), true);
    await service.context.delivery.toUser(id, PRESENCE, false);
    connection.close();
    const unsent = connection.tags.filter((tag) => tag !== undefined);
    service.onClose(connection, unsent);
    await service.endAllLogins();
    assert.deepEqual(await offline(store, id), [chat("unsent")]);
    assert.equal(service.context.sessions.has(id), false, "the login ended");
  },
);

Deno.test(
  "ChatService login: a live frame sent while offline rows are read follows them, once",
  sanitized,
  async () => {
    await using fixture = await serviceWithUser();
    const { service, connection, id, store } = fixture;
    await store.storeOffline([{ userId: id, frame: chat("stored") }]);
    const readOffline = store.readOffline.bind(store);
    let raced = false;
    store.readOffline = (userId, limit) => {
      if (!raced) {
        raced = true;
        void service.context.delivery.toUser(id, chat("live"), true);
      }
      return readOffline(userId, limit);
    };
    await fixture.login();
    assert.ok(raced);
    const [ack, ...rest] = connection.frames();
    assert.deepEqual(ack.offlinemsg, [JSON.parse(chat("stored"))]);
    assert.deepEqual(rest, [JSON.parse(chat("live"))]);
    assert.deepEqual(await offline(store, id), [], "handed over, then deleted");
  },
);
