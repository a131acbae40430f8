/**
 * The cross-node seam: delivery of opaque frames to users held by other nodes, and presence
 * (which node holds a user). Implementations: `local_bus.ts` (one process, the embedded default) and
 * `redis_bus.ts` (Redis pub/sub and leases, cluster mode).
 *
 * Delivery guarantee: {@linkcode Bus.publish} resolves `true` only when some node subscribed to the
 * user received the frame; that node's {@linkcode BusHandler} then either writes it to the user's
 * connection or, if it no longer holds the user, stores it offline (when durable). `false` or a
 * rejection means nobody took it: the caller stores it offline itself.
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

/** Cross-node delivery and presence. */
export interface Bus extends AsyncDisposable {
  /** This node's id (in logs and presence entries). */
  readonly nodeId: string;
  /** Registers the node's handler; called once, before anything is subscribed. */
  setHandler(handler: BusHandler): void;
  /** Starts whatever the bus needs (connections, lease renewal). */
  start(): Promise<void>;

  /**
   * Claims `userId` for this node. Resolves `false` when a live session elsewhere (or here) holds it.
   * A claim of a node that died expires within the lease time.
   */
  claimUser(userId: number): Promise<boolean>;
  /** Releases a claim of this node (no-op when this node does not hold it). */
  releaseUser(userId: number): Promise<void>;
  /** Which of `ids` are held by a live node. */
  onlineUsers(ids: number[]): Promise<Set<number>>;

  /** Starts receiving frames published to `userId`. */
  subscribe(userId: number): Promise<void>;
  /** Stops receiving frames published to `userId`. */
  unsubscribe(userId: number): Promise<void>;
  /** Publishes to the node holding `message.userId`; see the delivery guarantee above. */
  publish(message: BusMessage): Promise<boolean>;

  /**
   * Announces offline stores for `userIds` that this node is about to make, to every node (a login on
   * another node waits for them in {@linkcode offlineStoresSettled}); {@linkcode endOfflineStore} ends
   * them. Rejects when the backend is unreachable. See `Delivery` for the algorithm these serve.
   */
  beginOfflineStore(userIds: number[]): Promise<void>;
  /** Ends what {@linkcode beginOfflineStore} began, once the rows are committed. Never rejects. */
  endOfflineStore(userIds: number[]): Promise<void>;
  /**
   * Resolves once no node announces an offline store for `userId` (or a bounded wait has passed: an
   * announcement of a node that died expires). Never rejects.
   */
  offlineStoresSettled(userId: number): Promise<void>;

  /** Cheap reachability check for health; throws when the bus's backend is unreachable. */
  ping(): Promise<void>;
  /** Idempotent: releases this node's claims and closes connections. */
  close(): Promise<void>;
}
