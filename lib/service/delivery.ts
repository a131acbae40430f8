/**
 * Delivery without loss (DESIGN.md): write to a local connection, else publish to the node holding the
 * user, else store offline. A promise that resolves means the frame was written, handed to a node that
 * holds the user, or stored; it rejects only when the store is needed and unreachable.
 */
import type { Bus, BusMessage } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import { line } from "../protocol/encode.ts";
import type { OfflineEntry, Store } from "../store/store.ts";
import type { Session } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";

/** Counters a metrics endpoint can read. */
export interface DeliveryCounters {
  live: number;
  published: number;
  publishedToNobody: number;
  storedOffline: number;
  /** Offline messages handed over at login. */
  offlineDelivered: number;
  busErrors: number;
}

/** What {@linkcode Delivery} works with: fakes in tests, the node's own in `ChatService`. */
export interface DeliveryOptions {
  /** The sessions on this node; delivery only reads them. */
  sessions: SessionRegistry<Session>;
  bus: Bus;
  store: Store;
  log: Logger;
}

const DELIVERED = Promise.resolve();
const encoder = new TextEncoder();

/**
 * @example
 * ```ts
 * import { LocalBus } from "../bus/local_bus.ts";
 * import { Logger } from "../log.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * import { SessionRegistry } from "./session_registry.ts";
 * import type { Session } from "./session.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const delivery = new Delivery({
 *   sessions: new SessionRegistry<Session>(),
 *   bus: new LocalBus("n1"),
 *   store,
 *   log: new Logger({ level: "silent" }),
 * });
 * await delivery.toUser(7, '{"msgid":6,"msg":"hi"}', true); // nobody holds user 7: stored offline
 * ```
 */
export class Delivery {
  readonly #sessions: SessionRegistry<Session>;
  readonly #bus: Bus;
  readonly #store: Store;
  readonly #log: Logger;
  /** The latest pending offline store per user, for ordering. */
  readonly #storing = new Map<number, Promise<void>>();
  readonly counters: DeliveryCounters = {
    live: 0,
    published: 0,
    publishedToNobody: 0,
    storedOffline: 0,
    offlineDelivered: 0,
    busErrors: 0,
  };

  constructor(options: DeliveryOptions) {
    this.#sessions = options.sessions;
    this.#bus = options.bus;
    this.#store = options.store;
    this.#log = options.log;
  }

  /** Delivers one frame to one user. */
  toUser(userId: number, frame: string, durable: boolean): Promise<void> {
    // Not an async function: the common case, a recipient on this node, is the hot path of chat.
    if (this.#deliverLocally(userId, frame, durable)) return DELIVERED;
    return this.#toRemoteUser(userId, frame, durable);
  }

  async #toRemoteUser(userId: number, frame: string, durable: boolean): Promise<void> {
    if (await this.#publish({ userId, frame, durable })) return;
    if (durable) await this.#storeUnlessArrived([userId], frame);
  }

  /**
   * Delivers the same frame to many users (group fan-out): encoded to UTF-8 once for every local
   * recipient, and one store round trip for all offline ones.
   */
  async toUsers(userIds: number[], frame: string): Promise<void> {
    const encoded = encoder.encode(line(frame));
    const remote = userIds.filter((userId) => !this.#deliverLocally(userId, frame, true, encoded));
    if (remote.length === 0) return;
    const received = await Promise.all(
      remote.map((userId) => this.#publish({ userId, frame, durable: true })),
    );
    const offline = remote.filter((_, index) => !received[index]);
    if (offline.length > 0) await this.#storeUnlessArrived(offline, frame);
  }

  /**
   * A frame that arrived from the bus: this node was subscribed to the user when it was published.
   * `false` when the user left this node meanwhile: the publisher then stores the frame itself, with
   * the login race handled there (a login elsewhere may already have read the user's offline rows). A
   * promise when this node stores it: the publisher hears of it once the row is committed.
   */
  onBusMessage(message: BusMessage): boolean | Promise<void> {
    if (this.#deliverLocally(message.userId, message.frame, message.durable) || !message.durable) return true;
    if (!this.#storing.has(message.userId)) return false;
    // This node is still storing the user's earlier frames (those a dropped connection never wrote): the
    // frame goes in line behind them, or it could be stored first. Announced before this node releases the
    // user (the request goes out now, on the connection the release will use later), so a login elsewhere
    // waits for it.
    const userIds = [message.userId];
    const announced = this.#bus.beginOfflineStore(userIds).then(() => true, () => false);
    return this.storeOffline([{ userId: message.userId, frame: message.frame }]).finally(async () => {
      if (await announced) void this.#bus.endOfflineStore(userIds);
    });
  }

  /**
   * Stores a frame for users nobody took it for. One of them may be logging in right now, on this node or
   * another, and have read its offline rows already: a row stored after that would wait for the next
   * login, behind newer live messages. So the store is announced first (a login waits for announced
   * stores before it reads), then the frame is offered once more: a login that subscribed before the
   * announcement takes it live (held behind its offline rows), one that subscribes after it waits for the
   * row. On one node, the session check and the start of the store run without a break, and a login
   * waits for this node's stores (`offlineStored`).
   */
  async #storeUnlessArrived(userIds: number[], frame: string): Promise<void> {
    let announced = true;
    await this.#bus.beginOfflineStore(userIds).catch((error) => {
      announced = false;
      this.#log.warn("bus could not announce an offline store", { error });
    });
    try {
      const received = await Promise.all(
        userIds.map((userId) => this.#publish({ userId, frame, durable: true })),
      );
      const offline = userIds.filter((userId, index) =>
        !received[index] && !this.#deliverLocally(userId, frame, true)
      );
      if (offline.length > 0) await this.storeOffline(offline.map((userId) => ({ userId, frame })));
    } finally {
      if (announced) void this.#bus.endOfflineStore(userIds);
    }
  }

  /**
   * Stores frames offline. Stores for one user happen in the order of the calls, even when an earlier
   * call is still waiting for the database (a pool may run two inserts on two connections).
   */
  async storeOffline(entries: OfflineEntry[]): Promise<void> {
    const users = [...new Set(entries.map((entry) => entry.userId))];
    const earlier = users.map((userId) => this.#storing.get(userId)).filter((p) => p !== undefined);
    const stored = (earlier.length ? Promise.all(earlier) : Promise.resolve())
      .then(() => this.#store.storeOffline(entries));
    const settled = stored.then(() => {}, () => {});
    for (const userId of users) this.#storing.set(userId, settled);
    settled.then(() => {
      for (const userId of users) if (this.#storing.get(userId) === settled) this.#storing.delete(userId);
    });
    await stored;
    this.counters.storedOffline += entries.length;
  }

  /**
   * Resolves once the offline stores for `userId` that any node announced, and those this node started,
   * have finished. A login waits for it (after binding the session and subscribing, so every later store
   * is preceded by an offer it receives) before reading the user's offline messages.
   */
  async offlineStored(userId: number): Promise<void> {
    await this.#bus.offlineStoresSettled(userId);
    await this.#storing.get(userId);
  }

  /** Offers the frame to every session of the user here; `true` when one of them took it. */
  #deliverLocally(userId: number, frame: string, durable: boolean, encoded?: Uint8Array): boolean {
    let taken = false;
    const sessions = this.#sessions.ofUser(userId);
    // An indexed loop: no iterator object on the hot path.
    for (let i = 0; i < sessions.length; i++) {
      if (sessions[i].deliver(frame, durable, encoded)) taken = true;
    }
    if (taken) this.counters.live++;
    return taken;
  }

  async #publish(message: BusMessage): Promise<boolean> {
    try {
      const received = await this.#bus.publish(message);
      this.counters.published++;
      if (!received) this.counters.publishedToNobody++;
      return received;
    } catch (error) {
      // The bus is down: an offline copy is the safe answer (DESIGN.md, delivery step 4).
      this.counters.busErrors++;
      this.#log.warn("bus publish failed; storing offline", { user: message.userId, error });
      return false;
    }
  }
}
