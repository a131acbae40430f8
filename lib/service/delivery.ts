/**
 * Live delivery (DESIGN.md "Delivery without loss", step 2): a frame goes to every session of the user on
 * this node, written to its connection, and is published on the bus for the user's devices on other
 * nodes. Best effort: a chat message is stored before it is delivered, and a device that misses it live
 * gets it from the store at its next login or SYNC (past its cursor). Nothing here stores anything, and
 * nothing here fails for a user who is offline or a bus that is down.
 */
import type { Bus, BusMessage } from "../bus/bus.ts";
import { line } from "../protocol/encode.ts";
import type { Session } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";

/** Counters a metrics endpoint can read (the bus counts its own publishes). */
export interface DeliveryCounters {
  /** Frames written to a local session. */
  live: number;
  /** Offline messages handed over at login (with LOGIN_ACK and the frames after it). */
  offlineDelivered: number;
}

/** What {@linkcode Delivery} works with: fakes in tests, the node's own in `ChatService`. */
export interface DeliveryOptions {
  /** The sessions on this node; delivery only reads them. */
  sessions: SessionRegistry<Session>;
  /** Publishes for the other nodes; best effort, never rejects (`Broker.publish`). */
  bus: Pick<Bus, "publish">;
}

const encoder = new TextEncoder();

/**
 * @example
 * ```ts
 * import { LocalBus } from "../bus/local_bus.ts";
 * import { SessionRegistry } from "./session_registry.ts";
 * import type { Session } from "./session.ts";
 *
 * const delivery = new Delivery({
 *   sessions: new SessionRegistry<Session>(),
 *   bus: new LocalBus("n1"),
 * });
 * await delivery.toUser(7, '{"msgid":15,"id":1,"state":"online"}'); // nobody holds user 7: nothing happens
 * ```
 */
export class Delivery {
  readonly #sessions: SessionRegistry<Session>;
  readonly #bus: Pick<Bus, "publish">;
  readonly counters: DeliveryCounters = { live: 0, offlineDelivered: 0 };

  constructor(options: DeliveryOptions) {
    this.#sessions = options.sessions;
    this.#bus = options.bus;
  }

  /**
   * Delivers one frame to every live device of one user: written to the sessions here (all but `except`,
   * the sending session when a user's own message is copied to their other devices, whose cursor moves
   * over it), and published for the other nodes. Resolves once published; never rejects.
   */
  toUser(userId: number, frame: string, except?: Session): Promise<void> {
    this.#deliverLocally(userId, frame, except);
    // The sender's own message is not for its device: its cursor moves over it.
    except?.noteOwn(frame);
    return this.#publish(userId, frame);
  }

  /**
   * The same frame to many users (group fan-out), encoded to UTF-8 once for every local session. Resolves
   * once published; never rejects.
   */
  async toUsers(userIds: readonly number[], frame: string): Promise<void> {
    // One user (a one-to-one chat): a session encodes the frame itself only if the user has one here.
    const encoded = userIds.length > 1 ? encoder.encode(line(frame)) : undefined;
    for (let i = 0; i < userIds.length; i++) this.#deliverLocally(userIds[i], frame, undefined, encoded);
    await Promise.all(userIds.map((userId) => this.#publish(userId, frame)));
  }

  /** A frame that another node published to a user this node subscribed to. */
  onBusMessage(message: BusMessage): void {
    this.#deliverLocally(message.userId, message.frame);
  }

  /** Writes the frame to every session of the user here except `except`. */
  #deliverLocally(userId: number, frame: string, except?: Session, encoded?: Uint8Array): void {
    const sessions = this.#sessions.ofUser(userId);
    // An indexed loop: no iterator object on the hot path.
    for (let i = 0; i < sessions.length; i++) {
      const session = sessions[i];
      if (session !== except && session.deliver(frame, encoded)) this.counters.live++;
    }
  }

  /** The bus counts and logs its own failures; a closed bus (shutdown) rejects, which no sender should see. */
  #publish(userId: number, frame: string): Promise<void> {
    return this.#bus.publish({ userId, frame }).catch(ignore);
  }
}

function ignore(): void {}
