/**
 * The in-process bus of a single node (the embedded default): presence is a set in memory and a
 * publish reaches this process's own subscriptions only.
 *
 * @module
 */
import type { Bus, BusHandler, BusMessage } from "./bus.ts";
import { BusClosedError } from "./errors.ts";

/**
 * A {@linkcode Bus} within one process. It needs no `start()` (calls work before it), and after `close()`
 * it refuses what would take something on, as every bus does.
 *
 * @example
 * ```ts
 * import { LocalBus } from "./local_bus.ts";
 *
 * const bus = new LocalBus("n1");
 * bus.setHandler({ onMessage: (message) => console.log(message.frame) });
 * await bus.claimUser(7); // true
 * ```
 */
export class LocalBus implements Bus {
  readonly nodeId: string;
  #handler: BusHandler | undefined;
  #closed = false;
  readonly #claimed = new Set<number>();
  readonly #subscribed = new Set<number>();

  /** `nodeId` shows in logs; one process has one node. */
  constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  start(): Promise<void> {
    return this.#whenOpen("start", () => undefined);
  }

  claimUser(userId: number): Promise<boolean> {
    return this.#whenOpen("claimUser", () => {
      if (this.#claimed.has(userId)) return false;
      this.#claimed.add(userId);
      return true;
    });
  }

  releaseUser(userId: number): Promise<void> {
    this.#claimed.delete(userId);
    return Promise.resolve();
  }

  onlineUsers(ids: number[]): Promise<Set<number>> {
    return this.#whenOpen("onlineUsers", () => new Set(ids.filter((id) => this.#claimed.has(id))));
  }

  subscribe(userId: number): Promise<void> {
    return this.#whenOpen("subscribe", () => void this.#subscribed.add(userId));
  }

  unsubscribe(userId: number): Promise<void> {
    this.#subscribed.delete(userId);
    return Promise.resolve();
  }

  publish(message: BusMessage): Promise<boolean> {
    if (this.#closed) return Promise.reject(new BusClosedError("LocalBus", "publish"));
    if (!this.#handler || !this.#subscribed.has(message.userId)) return Promise.resolve(false);
    return Promise.resolve(this.#handler.onMessage(message)).then((taken) => taken !== false);
  }

  /** One process: its `Delivery` orders its own stores and logins without help. */
  beginOfflineStore(_userIds: number[]): Promise<void> {
    return this.#whenOpen("beginOfflineStore", () => undefined);
  }

  endOfflineStore(_userIds: number[]): Promise<void> {
    return Promise.resolve();
  }

  offlineStoresSettled(_userId: number): Promise<void> {
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return this.#whenOpen("ping", () => undefined);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#claimed.clear();
    this.#subscribed.clear();
    return Promise.resolve();
  }

  /** Same as {@linkcode LocalBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** `fn()`'s result, or a rejection once closed (a promise either way: callers await, never catch a throw). */
  #whenOpen<T>(call: string, fn: () => T): Promise<T> {
    if (this.#closed) return Promise.reject(new BusClosedError("LocalBus", call));
    return Promise.resolve(fn());
  }
}
