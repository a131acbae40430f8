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
  /** Per user: device → the node holding it. */
  readonly devices = new Map<number, Map<string, LocalBus>>();
  /** Per user: the nodes subscribed to the user's frames. */
  readonly subscribers = new Map<number, Set<LocalBus>>();
}

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
      const devices = this.#hub.devices.get(userId) ?? new Map<string, LocalBus>();
      if (devices.has(device)) return { claimed: false, reason: "taken" };
      if (devices.size >= maxDevices) return { claimed: false, reason: "full" };
      devices.set(device, this);
      this.#hub.devices.set(userId, devices);
      return { claimed: true, firstDevice: devices.size === 1 };
    });
  }

  releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }> {
    const devices = this.#hub.devices.get(userId);
    if (this.#closed || devices?.get(device) !== this) return Promise.resolve({ lastDevice: false });
    devices.delete(device);
    if (devices.size === 0) this.#hub.devices.delete(userId);
    return Promise.resolve({ lastDevice: devices.size === 0 });
  }

  onlineUsers(ids: number[]): Promise<Set<number>> {
    return this.#whenOpen("onlineUsers", () => new Set(ids.filter((id) => this.#hub.devices.has(id))));
  }

  subscribe(userId: number): Promise<void> {
    return this.#whenOpen("subscribe", () => {
      const nodes = this.#hub.subscribers.get(userId) ?? new Set<LocalBus>();
      nodes.add(this);
      this.#hub.subscribers.set(userId, nodes);
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
    for (const [userId, devices] of this.#hub.devices) {
      for (const [device, node] of devices) if (node === this) devices.delete(device);
      if (devices.size === 0) this.#hub.devices.delete(userId);
    }
    for (const userId of [...this.#hub.subscribers.keys()]) this.#unsubscribe(userId);
    return Promise.resolve();
  }

  /** Same as {@linkcode LocalBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #unsubscribe(userId: number): void {
    const nodes = this.#hub.subscribers.get(userId);
    if (!nodes?.delete(this)) return;
    if (nodes.size === 0) this.#hub.subscribers.delete(userId);
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
