/**
 * The cross-node seam, as three narrow interfaces and their composite {@linkcode Bus}:
 *
 * - {@linkcode Broker}: delivery of opaque frames to the node that subscribed a user;
 * - {@linkcode PresenceLeases}: which live node holds a user (a claim that dies with its node);
 * - {@linkcode OfflineStoreFence}: ordering of one node's offline stores against a login on another.
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
 * Delivery of frames to whichever node subscribed a user (centrifuge's `Broker`).
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
  /** Publishes to the node holding `message.userId`; see the guarantee above. */
  publish(message: BusMessage): Promise<boolean>;
}

/**
 * Presence as leases (centrifuge's `PresenceManager`, with an owner): at most one live node holds a user.
 *
 * Guarantee: {@linkcode PresenceLeases.claimUser} succeeds for at most one claimer while the claim lives,
 * and a claim of a node that died (kill -9) expires within the lease time, so a crash never leaves a user
 * "online" for good. {@linkcode PresenceLeases.onlineUsers} reports exactly the users held by a live node.
 */
export interface PresenceLeases {
  /**
   * Claims `userId` for this node. Resolves `false` when a live session elsewhere (or here) holds it.
   * Rejects when the backend is unreachable (the user is then not claimed).
   */
  claimUser(userId: number): Promise<boolean>;
  /** Releases a claim of this node (no-op when this node does not hold it). Never rejects. */
  releaseUser(userId: number): Promise<void>;
  /** Which of `ids` are held by a live node. */
  onlineUsers(ids: number[]): Promise<Set<number>>;
}

/**
 * A fence between a node storing frames offline and a login of the same user on another node: the login
 * reads its offline messages only after every announced store has ended, so none is stored behind the
 * login's back. See `Delivery` for the algorithm this serves; with per-device cursors it may go.
 *
 * Guarantee: once {@linkcode OfflineStoreFence.beginOfflineStore} resolved, every node's
 * {@linkcode OfflineStoreFence.offlineStoresSettled} for those users waits until the matching
 * {@linkcode OfflineStoreFence.endOfflineStore}, or for a bounded time (an announcing node that died).
 */
export interface OfflineStoreFence {
  /**
   * Announces offline stores for `userIds` that this node is about to make, to every node. Rejects when the
   * backend is unreachable.
   */
  beginOfflineStore(userIds: number[]): Promise<void>;
  /** Ends what {@linkcode OfflineStoreFence.beginOfflineStore} began, once the rows are committed. Never rejects. */
  endOfflineStore(userIds: number[]): Promise<void>;
  /**
   * Resolves once no node announces an offline store for `userId` (or a bounded wait has passed: an
   * announcement of a node that died expires). Never rejects.
   */
  offlineStoresSettled(userId: number): Promise<void>;
}

/**
 * Cross-node delivery, presence and the offline fence of one node, with its life cycle.
 *
 * Life cycle: `setHandler`, then `start`, then any call, then `close`. After `close`, the calls that
 * would take something on (`start`, `publish`, `subscribe`, `claimUser`, `onlineUsers`,
 * `beginOfflineStore`, `ping`) reject with `BusClosedError` (`errors.ts`); the calls documented never to
 * reject (`unsubscribe`, `releaseUser`, `endOfflineStore`, `offlineStoresSettled`) resolve and do nothing,
 * since `close` let go of everything already. A bus with a backend (Redis) also rejects calls before
 * `start` with `BusNotStartedError`.
 */
export interface Bus extends Broker, PresenceLeases, OfflineStoreFence, AsyncDisposable {
  /** This node's id (in logs and presence entries). */
  readonly nodeId: string;
  /** Starts whatever the bus needs (connections, lease renewal). */
  start(): Promise<void>;
  /** Cheap reachability check for health; throws when the bus's backend is unreachable. */
  ping(): Promise<void>;
  /** Idempotent: releases this node's claims and closes connections. Resolves when done; never rejects. */
  close(): Promise<void>;
}
