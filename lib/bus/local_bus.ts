/**
 * The in-process bus of a single node (the embedded default): presence is a set in memory and a
 * publish reaches this process's own subscriptions only.
 */
import type { Bus, BusHandler, BusMessage } from "./bus.ts";

/**
 * @example
 * ```ts
 * const bus = new LocalBus("n1");
 * bus.setHandler({ onMessage: (message) => console.log(message.frame) });
 * await bus.claimUser(7); // true
 * ```
 */
export class LocalBus implements Bus {
  readonly nodeId: string;
  #handler: BusHandler | undefined;
  readonly #claimed = new Set<number>();
  readonly #subscribed = new Set<number>();

  constructor(nodeId: string) {
    this.nodeId = nodeId;
  }

  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  claimUser(userId: number): Promise<boolean> {
    if (this.#claimed.has(userId)) return Promise.resolve(false);
    this.#claimed.add(userId);
    return Promise.resolve(true);
  }

  releaseUser(userId: number): Promise<void> {
    this.#claimed.delete(userId);
    return Promise.resolve();
  }

  onlineUsers(ids: number[]): Promise<Set<number>> {
    return Promise.resolve(new Set(ids.filter((id) => this.#claimed.has(id))));
  }

  subscribe(userId: number): Promise<void> {
    this.#subscribed.add(userId);
    return Promise.resolve();
  }

  unsubscribe(userId: number): Promise<void> {
    this.#subscribed.delete(userId);
    return Promise.resolve();
  }

  publish(message: BusMessage): Promise<boolean> {
    if (!this.#handler || !this.#subscribed.has(message.userId)) return Promise.resolve(false);
    return Promise.resolve(this.#handler.onMessage(message)).then((taken) => taken !== false);
  }

  /** One process: its `Delivery` orders its own stores and logins without help. */
  beginOfflineStore(_userIds: number[]): Promise<void> {
    return Promise.resolve();
  }

  endOfflineStore(_userIds: number[]): Promise<void> {
    return Promise.resolve();
  }

  offlineStoresSettled(_userId: number): Promise<void> {
    return Promise.resolve();
  }

  ping(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.#claimed.clear();
    this.#subscribed.clear();
    return Promise.resolve();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
