/**
 * The in-process bus: the embedded default (one node, one process), and several nodes in one process
 * when they share a {@linkcode LocalHub} (tests of cluster behaviour without Redis).
 *
 * @module
 */
import { describeError } from "../describe_error.ts";
import { Logger } from "../log.ts";
import type { Bus, BusCounters, BusHandler, BusMessage, DeviceClaim } from "./bus.ts";
import { BusClosedError } from "./errors.ts";

/**
 * What the nodes of one process share, as Redis does for a cluster: every user's live devices with the
 * node holding each, and every user's subscribed nodes. A node that closes removes itself; nothing here
 * expires, since an in-process node cannot die without its process.
 *
 * @example
 * ```ts
 * import { LocalBus, LocalHub } from "./local_bus.ts";
 *
 * const hub = new LocalHub();
 * const a = new LocalBus("a", { hub });
 * const b = new LocalBus("b", { hub });
 * await a.claimDevice(7, "phone", 5);
 * await b.onlineUsers([7]); // Set { 7 }
 * ```
 */
export class LocalHub {
  /** Per user: the user's devices, each with the node holding it. */
  readonly devices = new Map<number, readonly DeviceHolder[]>();
  /** Per user: the nodes subscribed to the user's frames. */
  readonly subscribers = new Map<number, readonly LocalBus[]>();
}

/**
 * One live device and the node holding it. A user's holders (as the nodes subscribed to a user) are kept as
 * an array that is replaced, never changed in place, so that the array of a user with one device, the usual
 * case, can be shared with every other such user (see `LocalBus.#alone`): an idle user then costs the hub
 * its map entries only, no Map or Set of its own (memory per connection).
 */
export interface DeviceHolder {
  readonly device: string;
  readonly node: LocalBus;
}

/** Device names whose one-holder array a node shares (names are the clients' choice: the cache is bounded). */
const SHARED_DEVICE_NAMES = 16;

/** Options for {@linkcode LocalBus}. */
export interface LocalBusOptions {
  /** Shared with the other nodes of this process (default: a hub of its own: a single node). */
  hub?: LocalHub;
  /** Where a failing handler is reported (default: a logger at level info). */
  log?: Logger;
}

/**
 * A {@linkcode Bus} within one process. It needs no `start()` (calls work before it), and after `close()`
 * it refuses what would take something on, as every bus does. A publish reaches the handlers of the other
 * nodes on the same hub synchronously, before it resolves.
 *
 * @example
 * ```ts
 * import { LocalBus } from "./local_bus.ts";
 *
 * const bus = new LocalBus("n1");
 * bus.setHandler({ onMessage: (message) => console.log(message.frame) });
 * await bus.claimDevice(7, "default", 5); // { claimed: true, firstDevice: true }
 * ```
 */
export class LocalBus implements Bus {
  readonly nodeId: string;
  readonly counters: BusCounters = { published: 0, publishFailures: 0, received: 0 };
  readonly #hub: LocalHub;
  readonly #log: Logger;
  #handler: BusHandler | undefined;
  #closed = false;
  /** `[this]`: the subscribers of every user that only this node subscribed to. */
  readonly #subscribedAlone: readonly LocalBus[] = [this];
  /** Per device name, `[{ device, node: this }]`: the holders of every user whose only device is that one here. */
  readonly #heldAlone = new Map<string, readonly DeviceHolder[]>();

  /** `nodeId` shows in logs. */
  constructor(nodeId: string, options: LocalBusOptions = {}) {
    this.nodeId = nodeId;
    this.#hub = options.hub ?? new LocalHub();
    this.#log = options.log ?? new Logger();
  }

  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  start(): Promise<void> {
    return this.#whenOpen("start", () => undefined);
  }

  claimDevice(userId: number, device: string, maxDevices: number): Promise<DeviceClaim> {
    return this.#whenOpen("claimDevice", (): DeviceClaim => {
      const holders = this.#hub.devices.get(userId) ?? [];
      if (holders.some((holder) => holder.device === device)) return { claimed: false, reason: "taken" };
      if (holders.length >= maxDevices) return { claimed: false, reason: "full" };
      this.#hub.devices.set(
        userId,
        holders.length === 0 ? this.#holdingAlone(device) : holders.concat({ device, node: this }),
      );
      return { claimed: true, firstDevice: holders.length === 0 };
    });
  }

  releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }> {
    const holders = this.#hub.devices.get(userId) ?? [];
    const held = holders.some((holder) => holder.device === device && holder.node === this);
    if (this.#closed || !held) return Promise.resolve({ lastDevice: false });
    this.#setHolders(userId, holders.filter((holder) => holder.device !== device));
    return Promise.resolve({ lastDevice: holders.length === 1 });
  }

  onlineUsers(ids: number[]): Promise<Set<number>> {
    return this.#whenOpen("onlineUsers", () => new Set(ids.filter((id) => this.#hub.devices.has(id))));
  }

  subscribe(userId: number): Promise<void> {
    return this.#whenOpen("subscribe", () => {
      const nodes = this.#hub.subscribers.get(userId) ?? [];
      if (nodes.includes(this)) return;
      this.#hub.subscribers.set(userId, nodes.length === 0 ? this.#subscribedAlone : nodes.concat(this));
    });
  }

  unsubscribe(userId: number): Promise<void> {
    this.#unsubscribe(userId);
    return Promise.resolve();
  }

  publish(message: BusMessage): Promise<void> {
    return this.#whenOpen("publish", () => {
      this.counters.published++;
      for (const node of this.#hub.subscribers.get(message.userId) ?? []) {
        // The publisher delivered to its own sessions already.
        if (node !== this) node.#receive(message);
      }
    });
  }

  ping(): Promise<void> {
    return this.#whenOpen("ping", () => undefined);
  }

  /** Releases this node's devices and subscriptions on the hub. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const [userId, holders] of [...this.#hub.devices]) {
      if (holders.some((holder) => holder.node === this)) {
        this.#setHolders(userId, holders.filter((holder) => holder.node !== this));
      }
    }
    for (const userId of [...this.#hub.subscribers.keys()]) this.#unsubscribe(userId);
    return Promise.resolve();
  }

  /** Same as {@linkcode LocalBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #unsubscribe(userId: number): void {
    const nodes = this.#hub.subscribers.get(userId) ?? [];
    if (!nodes.includes(this)) return;
    const rest = nodes.filter((node) => node !== this);
    if (rest.length === 0) this.#hub.subscribers.delete(userId);
    else this.#hub.subscribers.set(userId, rest.length === 1 ? rest[0].#subscribedAlone : rest);
  }

  /** Sets a user's holders (none: forgets the user), sharing the array when one device is left. */
  #setHolders(userId: number, holders: readonly DeviceHolder[]): void {
    if (holders.length === 0) {
      this.#hub.devices.delete(userId);
      return;
    }
    const [first] = holders;
    this.#hub.devices.set(userId, holders.length === 1 ? first.node.#holdingAlone(first.device) : holders);
  }

  /** `[{ device, node: this }]`, shared between users while few device names are seen. */
  #holdingAlone(device: string): readonly DeviceHolder[] {
    const shared = this.#heldAlone.get(device);
    if (shared) return shared;
    const holders = [{ device, node: this }];
    if (this.#heldAlone.size < SHARED_DEVICE_NAMES) this.#heldAlone.set(device, holders);
    return holders;
  }

  #receive(message: BusMessage): void {
    if (!this.#handler) return;
    this.counters.received++;
    try {
      this.#handler.onMessage(message);
    } catch (error) {
      // Another node's failure is not the publisher's: its publish still resolves.
      this.#log.error("bus handler failed", { user: message.userId, error: describeError(error) });
    }
  }

  /** `fn()`'s result, or a rejection once closed (a promise either way: callers await, never catch a throw). */
  #whenOpen<T>(call: string, fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new BusClosedError("LocalBus", call));
    return Promise.resolve(fn());
  }
}
