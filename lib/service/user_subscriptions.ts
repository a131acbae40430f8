/**
 * One bus subscription per user on this node, however many of the user's devices are logged in here: the
 * first login subscribes, the last logout unsubscribes. Calls for one user run in order, so an
 * unsubscribe of a leaving device never overtakes the subscribe of a device arriving at the same time.
 *
 * @module
 */
import type { Broker } from "../bus/bus.ts";

/**
 * @example
 * ```ts
 * import { LocalBus } from "../bus/local_bus.ts";
 *
 * const subscriptions = new UserSubscriptions(new LocalBus("n1"));
 * await subscriptions.acquire(7); // subscribes
 * await subscriptions.acquire(7); // a second device: nothing to do
 * await subscriptions.release(7);
 * await subscriptions.release(7); // the last one: unsubscribes
 * ```
 */
export class UserSubscriptions {
  readonly #broker: Pick<Broker, "subscribe" | "unsubscribe">;
  readonly #holders = new Map<number, number>();
  /** The last subscribe or unsubscribe of each user, settled or not. */
  readonly #last = new Map<number, Promise<void>>();

  constructor(broker: Pick<Broker, "subscribe" | "unsubscribe">) {
    this.#broker = broker;
  }

  /** Resolves once the user is subscribed; rejects when the bus is unreachable (still call `release`). */
  acquire(userId: number): Promise<void> {
    const holders = (this.#holders.get(userId) ?? 0) + 1;
    this.#holders.set(userId, holders);
    if (holders > 1) return this.#last.get(userId) ?? Promise.resolve();
    return this.#then(userId, () => this.#broker.subscribe(userId));
  }

  /** Lets go of one holder's subscription; the last one unsubscribes. Never rejects. */
  release(userId: number): Promise<void> {
    const holders = (this.#holders.get(userId) ?? 0) - 1;
    if (holders > 0) {
      this.#holders.set(userId, holders);
      return Promise.resolve();
    }
    this.#holders.delete(userId);
    return this.#then(userId, () => this.#broker.unsubscribe(userId)).catch(() => {});
  }

  #then(userId: number, step: () => Promise<void>): Promise<void> {
    const previous = this.#last.get(userId) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(step);
    this.#last.set(userId, next);
    const forget = () => {
      if (this.#last.get(userId) === next) this.#last.delete(userId);
    };
    next.then(forget, forget);
    return next;
  }
}
