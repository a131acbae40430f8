/**
 * The cross-node seam, as three narrow interfaces and their composite {@linkcode Bus}:
 *
 * - {@linkcode Broker}: delivery of opaque frames to the node that subscribed a user;
 * - {@linkcode PresenceLeases}: which live nodes hold a user's devices (claims that die with their node).
 *
 * Implementations: `local_bus.ts` (one process, the embedded default) and `redis_bus.ts` (Redis pub/sub
 * and leases, cluster mode).
 *
 * @module
 */

/** A frame travelling between nodes. */
export interface BusMessage {
  /** The recipient. */
  userId: number;
  /** The encoded frame, written as is to the recipient's connection. */
  frame: string;
  /** Durable frames (chat) must be stored offline when they cannot be delivered; others (presence) may be dropped. */
  durable: boolean;
}

/**
 * What a handler did with a frame: `false` declines it (this node no longer holds the user), so the
 * publisher keeps the responsibility and stores it offline itself; anything else takes it. A promise
 * takes it once it settles.
 */
export type BusHandlerResult = boolean | void | Promise<unknown>;

/** What a node does with frames that arrive for its users. */
export interface BusHandler {
  /** A frame published to a user this node subscribed to. */
  onMessage(message: BusMessage): BusHandlerResult;
}

/**
 * Delivery of frames to every node that subscribed a user (centrifuge's `Broker`). A user's devices may
 * be on several nodes, each subscribed; a node never receives its own publishes (it delivers to its own
 * sessions directly).
 *
 * Guarantee: {@linkcode Broker.publish} resolves `true` only when some node subscribed to the user
 * received the frame and, for a durable frame, its {@linkcode BusHandler} took it (wrote it to the user's
 * connection, or stored it offline because that node no longer holds the user). `false` or a rejection
 * means nobody took it: the caller stores it offline itself. A frame may in rare cases be both taken and
 * `false` (a receiving node died, or stayed cut off from the backend, before it could say so; see
 * `redis_publisher.ts` for the exact cases): a duplicate, never a loss. Frames from one
 * publisher to one user arrive in the order they were published.
 */
export interface Broker {
  /** Registers the node's handler; called once, before anything is subscribed. */
  setHandler(handler: BusHandler): void;
  /** Starts receiving frames published to `userId`. Rejects when the backend is unreachable. */
  subscribe(userId: number): Promise<void>;
  /** Stops receiving frames published to `userId`. Never rejects (an implementation retries on its own). */
  unsubscribe(userId: number): Promise<void>;
  /** Publishes to the other nodes subscribed to `message.userId`; see the guarantee above. */
  publish(message: BusMessage): Promise<boolean>;
}

/** The answer to {@linkcode PresenceLeases.claimDevice}. */
export type DeviceClaim =
  /** `firstDevice`: no other live device of the user existed (announce the user online). */
  | { claimed: true; firstDevice: boolean }
  /** `taken`: a live session holds this very device; `full`: the user has `maxDevices` live devices. */
  | { claimed: false; reason: "taken" | "full" };

/**
 * Presence as leases (centrifuge's `PresenceManager`, with an owner), one per device of a user: a user
 * is online while any of their devices is held by a live node (PROTOCOL.md "Devices and resume tokens").
 *
 * Guarantee: {@linkcode PresenceLeases.claimDevice} succeeds for at most one claimer of a (user, device)
 * while the claim lives, and for at most `maxDevices` devices of one user across all nodes; a claim of a
 * node that died (kill -9) expires within the lease time, so a crash never leaves a user "online" for
 * good. {@linkcode PresenceLeases.onlineUsers} reports exactly the users with a device held by a live node.
 */
export interface PresenceLeases {
  /**
   * Claims `device` of `userId` for this node. Rejects when the backend is unreachable (nothing is then
   * claimed).
   */
  claimDevice(userId: number, device: string, maxDevices: number): Promise<DeviceClaim>;
  /**
   * Releases a claim of this node (no-op when this node does not hold it). Never rejects. Resolves
   * `lastDevice: true` when no live device of the user remains (announce the user offline); while the
   * backend is unreachable, by what this node knows (no other device of the user held here).
   */
  releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }>;
  /** Which of `ids` have a device held by a live node. */
  onlineUsers(ids: number[]): Promise<Set<number>>;
}

/**
 * Cross-node delivery and presence of one node, with its life cycle.
 *
 * Life cycle: `setHandler`, then `start`, then any call, then `close`. After `close`, the calls that
 * would take something on (`start`, `publish`, `subscribe`, `claimUser`, `onlineUsers`,
 * `beginOfflineStore`, `ping`) reject with `BusClosedError` (`errors.ts`); the calls documented never to
 * reject (`unsubscribe`, `releaseUser`, `endOfflineStore`, `offlineStoresSettled`) resolve and do nothing,
 * since `close` let go of everything already. A bus with a backend (Redis) also rejects calls before
 * `start` with `BusNotStartedError`.
 */
export interface Bus extends Broker, PresenceLeases, AsyncDisposable {
  /** This node's id (in logs and presence entries). */
  readonly nodeId: string;
  /** Starts whatever the bus needs (connections, lease renewal). */
  start(): Promise<void>;
  /** Cheap reachability check for health; throws when the bus's backend is unreachable. */
  ping(): Promise<void>;
  /** Idempotent: releases this node's claims and closes connections. Resolves when done; never rejects. */
  close(): Promise<void>;
}
