/**
 * The cross-node seam, as two narrow interfaces and their composite {@linkcode Bus}:
 *
 * - {@linkcode Broker}: best-effort delivery of opaque frames to the other nodes that subscribed a user;
 * - {@linkcode PresenceLeases}: which live nodes hold a user's devices (claims that die with their node).
 *
 * Implementations: `local_bus.ts` (in process: the embedded default, and several nodes sharing one
 * `LocalHub` in tests) and `redis_bus.ts` (Redis pub/sub and leases, cluster mode).
 *
 * @module
 */

/** A frame travelling between nodes. */
export interface BusMessage {
  /** The recipient. */
  userId: number;
  /** The encoded frame, written as is to the recipient's connections. */
  frame: string;
}

/** What a node does with frames that other nodes published to its users. */
export interface BusHandler {
  /** A frame published by another node to a user this node subscribed to. */
  onMessage(message: BusMessage): void;
}

/** Counters a metrics endpoint can read; they only grow. */
export interface BusCounters {
  /** Frames handed to the backend for the other nodes. */
  published: number;
  /**
   * Publishes that failed (the backend was unreachable): the other nodes' devices get those frames from
   * the store at their next sync.
   */
  publishFailures: number;
  /** Frames from other nodes handed to the handler. */
  received: number;
}

/**
 * Delivery of frames to every node that subscribed a user (centrifuge's `Broker`). A user's devices may
 * be on several nodes, each subscribed; a node never receives its own publishes (it delivers to its own
 * sessions directly).
 *
 * Guarantee: best effort. Every node subscribed to the user while the backend is reachable gets the
 * frame once, and frames from one node to one user arrive in the order they were published. A frame may
 * be lost (the backend was down, or the receiving node died): chat frames are stored before they are
 * published, and the store is the truth a device catches up from (DESIGN.md "Delivery without loss").
 * So {@linkcode Broker.publish} never reports delivery: it logs and counts a failure and resolves.
 */
export interface Broker {
  /** What happened to the frames published so far. */
  readonly counters: BusCounters;
  /** Registers the node's handler; called once, before anything is subscribed. */
  setHandler(handler: BusHandler): void;
  /** Starts receiving frames published to `userId`. Rejects when the backend is unreachable. */
  subscribe(userId: number): Promise<void>;
  /** Stops receiving frames published to `userId`. Never rejects (an implementation retries on its own). */
  unsubscribe(userId: number): Promise<void>;
  /**
   * Publishes to the other nodes subscribed to `message.userId`; see the guarantee above. Resolves once
   * the backend took the frame or the failure was counted; never rejects for the backend's sake.
   */
  publish(message: BusMessage): Promise<void>;
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
   * Releases a claim of this node (no-op resolving `lastDevice: false` when this node does not hold it).
   * Never rejects. Resolves `lastDevice: true` when no live device of the user remains (announce the user
   * offline); while the backend is unreachable, by what this node knows (no other device of the user held
   * here).
   */
  releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }>;
  /** Which of `ids` have a device held by a live node. */
  onlineUsers(ids: number[]): Promise<Set<number>>;
}

/**
 * Cross-node delivery and presence of one node, with its life cycle.
 *
 * Life cycle: `setHandler`, then `start`, then any call, then `close`. After `close`, the calls that
 * would take something on (`start`, `publish`, `subscribe`, `claimDevice`, `onlineUsers`, `ping`) reject
 * with `BusClosedError` (`errors.ts`); the calls documented never to reject (`unsubscribe`,
 * `releaseDevice`) resolve and do nothing, since `close` let go of everything already. A bus with a
 * backend (Redis) also rejects calls before `start` with `BusNotStartedError`.
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
