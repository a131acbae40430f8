/**
 * Presence leases on Redis, one entry per device (keys and values in `redis_wire.ts` and
 * `redis_scripts.ts`):
 *
 * - each device this node claimed lives in its user's hash until its expiry, which this node pushes a
 *   lease ahead with every renewal (every `renewMs`). A node that dies (kill -9) stops renewing, and its
 *   devices are dead a lease later at most;
 * - `node:{nodeId}` is this node id's lease, holding this process's token: a second process with the same
 *   node id is refused while the lease is renewed. It lasts `renewMs` longer than a device entry, so a
 *   restarted node that waited it out finds none of its earlier run's devices alive.
 *
 * @module
 */
import type { RedisClient } from "./redis_connection.ts";
import { setTimeout as delay } from "node:timers/promises";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { DeviceClaim, PresenceLeases } from "./bus.ts";
import { NodeIdInUseError } from "./errors.ts";
import { devicesKey } from "./redis_wire.ts";
import {
  CLAIM,
  evalScript,
  LuaScript,
  NODE_LEASE,
  ONLINE,
  RELEASE,
  RENEW_DEVICES,
  RENEW_NODE,
} from "./redis_scripts.ts";

/**
 * How much longer than a held lease's remaining time a starting node waits before it decides whether the
 * lease's process is alive: a live node renews well within it (every third of its lease by default).
 */
const LEASE_CHECK_MARGIN_MS = 250;

/** Options for {@linkcode RedisPresence}. */
export interface RedisPresenceOptions {
  /** The command connection. */
  redis: RedisClient;
  /** This node's id: shown in its device entries, and the name of its lease. */
  nodeId: string;
  /** This process: the owner of its device entries and the value of its node lease. */
  token: string;
  /** Prefix of every key (`"chat:"` by default). */
  keyPrefix: string;
  /** How long this node's devices outlive its last renewal, in ms. */
  leaseMs: number;
  /** How often the owning bus renews, in ms. */
  renewMs: number;
  /** Where warnings about outages go. */
  log: Logger;
}

/**
 * {@linkcode PresenceLeases} as device entries that this node keeps renewing. The owning bus checks that
 * it runs before `claimDevice` and `onlineUsers`, and drives {@linkcode RedisPresence.renew}.
 *
 * Failure behaviour: while Redis is unreachable `claimDevice` and `onlineUsers` reject at once;
 * `releaseDevice` never rejects: its effect is retried with every renewal until Redis confirms it, so a
 * live node never keeps a device it let go.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { RedisPresence } from "./redis_presence.ts";
 *
 * const redis = new Redis("redis://127.0.0.1:6380");
 * const presence = new RedisPresence({
 *   redis,
 *   nodeId: "n1",
 *   token: crypto.randomUUID(),
 *   keyPrefix: "chat:",
 *   leaseMs: 5000,
 *   renewMs: 1666,
 *   log: new Logger(),
 * });
 * await presence.acquireNodeLease();
 * await presence.claimDevice(7, "phone", 5); // { claimed: true, firstDevice: true }
 * ```
 */
export class RedisPresence implements PresenceLeases {
  readonly #redis: RedisClient;
  readonly #nodeId: string;
  readonly #token: string;
  readonly #keyPrefix: string;
  readonly #leaseMs: number;
  readonly #nodeLeaseMs: number;
  readonly #log: Logger;
  readonly #leaseKey: string;
  /** The owner part of this node's entries. */
  readonly #owner: string;

  /** This process holds the node lease: only then may it delete it at close. */
  #leaseHeld = false;
  #lastRenewal = 0;
  #lapseWarned = false;
  #duplicateWarned = false;
  /** Per user, the devices this node claimed and has not released, with the max devices of their claim. */
  readonly #claimed = new Map<number, Map<string, number>>();
  /** Per user, releases Redis has not confirmed (or claims whose outcome is unknown): retried on renewal. */
  readonly #pendingReleases = new Map<number, Set<string>>();

  /** Nothing is sent before {@linkcode RedisPresence.acquireNodeLease}. */
  constructor(options: RedisPresenceOptions) {
    this.#redis = options.redis;
    this.#nodeId = options.nodeId;
    this.#token = options.token;
    this.#keyPrefix = options.keyPrefix;
    this.#leaseMs = options.leaseMs;
    this.#nodeLeaseMs = options.leaseMs + options.renewMs;
    this.#log = options.log;
    this.#leaseKey = `${options.keyPrefix}node:${options.nodeId}`;
    this.#owner = `${options.token}|${options.nodeId}`;
  }

  /**
   * Takes this node id's lease. When another process holds it, waits out its remaining time: a node that
   * died lets it expire and is taken over; a live one renews it, and this rejects with
   * {@linkcode NodeIdInUseError} having changed nothing. Aborting `options.signal` (the bus is closing)
   * ends the wait at once and returns without the lease.
   */
  async acquireNodeLease(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    let lease = await this.#nodeLease(this.#nodeLeaseMs);
    if (!lease.taken) {
      this.#log.info("bus node id lease held by another process; waiting to see whether it is renewed", {
        remainingMs: lease.remainingMs,
      });
      // PTTL -1 (no expiry) is nobody's lease of ours: refused below without waiting.
      if (lease.remainingMs >= 0) {
        // Cancelled by close: a closing bus must not keep the process alive for a lease it will not take.
        await delay(lease.remainingMs + LEASE_CHECK_MARGIN_MS, undefined, { signal }).catch(() => {});
      }
      if (signal?.aborted) return;
      lease = await this.#nodeLease(this.#nodeLeaseMs);
      if (!lease.taken) throw new NodeIdInUseError(this.#nodeId);
    }
    this.#leaseHeld = true;
    this.#lastRenewal = Date.now();
  }

  /**
   * Releases this node's devices and deletes its lease, if this process holds it. Never rejects: what
   * fails expires with the lease.
   */
  async releaseNodeLease(): Promise<void> {
    const releases = this.#allReleases();
    try {
      if (!this.#leaseHeld) return;
      if (this.#redis.status !== "ready") {
        if (releases.length > 0) throw new Error(`not connected (${this.#redis.status})`);
        return;
      }
      const failures = (await Promise.allSettled(releases.map(([id, device]) => this.#release(id, device))))
        .filter((outcome) => outcome.status === "rejected");
      if (failures.length > 0) throw failures[0].reason;
      await this.#nodeLease(undefined);
    } catch (error) {
      this.#log.warn("bus could not release its devices; they expire with the lease", {
        count: releases.length,
        error: describeError(error),
      });
    } finally {
      this.#leaseHeld = false;
      this.#claimed.clear();
      this.#pendingReleases.clear();
    }
  }

  async claimDevice(userId: number, device: string, maxDevices: number): Promise<DeviceClaim> {
    // An unconfirmed release of this device would make the claim look like a second login of it.
    if (this.#pendingReleases.get(userId)?.has(device)) await this.flushReleases();
    let answer: string;
    try {
      answer = await this.#eval(CLAIM, userId, [device, this.#owner, this.#leaseMs, maxDevices]) as string;
    } catch (error) {
      // The script may have run before the reply was lost: a claim nobody uses must not block the device.
      if (!this.#claimed.get(userId)?.has(device)) this.#addPending(userId, device);
      throw error;
    }
    if (answer === "taken" || answer === "full") return { claimed: false, reason: answer };
    const devices = this.#claimed.get(userId) ?? new Map<string, number>();
    devices.set(device, maxDevices);
    this.#claimed.set(userId, devices);
    this.#deletePending(userId, device);
    return { claimed: true, firstDevice: answer === "first" };
  }

  /** Never rejects: an unconfirmed release is retried with the lease renewals. */
  async releaseDevice(userId: number, device: string): Promise<{ lastDevice: boolean }> {
    const devices = this.#claimed.get(userId);
    if (!devices?.delete(device)) return { lastDevice: false };
    if (devices.size === 0) this.#claimed.delete(userId);
    this.#addPending(userId, device);
    if (!this.#leaseHeld) return { lastDevice: devices.size === 0 };
    try {
      return { lastDevice: await this.#release(userId, device) === 0 };
    } catch (error) {
      this.#log.warn("bus release failed; will retry", { user: userId, error: describeError(error) });
      return { lastDevice: devices.size === 0 };
    }
  }

  async onlineUsers(ids: number[]): Promise<Set<number>> {
    const unique = [...new Set(ids)];
    const counts = await Promise.all(unique.map((id) => this.#eval(ONLINE, id, [])));
    return new Set(unique.filter((_, index) => Number(counts[index]) > 0));
  }

  /**
   * Renews the node lease, then every device of this node (claiming again those that Redis lost, see
   * `RENEW_DEVICES`). Rejects when Redis is unreachable.
   */
  async renew(): Promise<void> {
    const state = await evalScript(this.#redis, RENEW_NODE, {
      keys: [this.#leaseKey],
      args: [this.#token, this.#nodeLeaseMs],
    });
    this.#lastRenewal = Date.now();
    this.#lapseWarned = false;
    if (state === 2 && !this.#duplicateWarned) {
      this.#duplicateWarned = true;
      this.#log.warn("bus lease renewed by another process: two live nodes share this node id");
    }
    // Read as each script is sent: a release after this point goes out behind the renewal, never before it.
    const users = [...this.#claimed];
    const outcomes = await Promise.allSettled(
      users.map(([userId, devices]) =>
        this.#eval(RENEW_DEVICES, userId, [this.#token, this.#owner, this.#leaseMs, ...[...devices].flat()])
      ),
    );
    let again = 0;
    const lost: { user: number; device: string }[] = [];
    let failure: unknown;
    outcomes.forEach((outcome, index) => {
      if (outcome.status === "rejected") {
        failure ??= outcome.reason;
        return;
      }
      const userId = users[index][0];
      const [claimedAgain, lostDevices] = outcome.value as [number, string[]];
      again += claimedAgain;
      const devices = this.#claimed.get(userId);
      for (const device of lostDevices) {
        devices?.delete(device);
        lost.push({ user: userId, device });
      }
      if (devices?.size === 0) this.#claimed.delete(userId);
    });
    if (again > 0) this.#log.warn("bus lease had expired; claims re-asserted", { count: again });
    if (lost.length > 0) {
      // Another node logged these devices in meanwhile (or the user had no room left): both sessions
      // receive their frames until one ends.
      this.#log.warn("bus users claimed elsewhere while the lease was lost", { devices: lost });
    }
    if (failure !== undefined) throw failure;
  }

  /** Warns once when renewals have failed for longer than the lease: this node's users look offline. */
  renewalFailed(error: unknown): void {
    const late = Date.now() - this.#lastRenewal;
    if (late > this.#leaseMs && !this.#lapseWarned) {
      this.#lapseWarned = true;
      this.#log.warn("bus lease lapsed: this node's users look offline and may log in elsewhere", {
        lateMs: late,
        error: describeError(error),
      });
    }
  }

  /** Applies the releases Redis has not confirmed yet. Rejects when Redis is unreachable. */
  async flushReleases(): Promise<void> {
    const releases = [...this.#pendingReleases].flatMap(([userId, devices]) =>
      [...devices].filter((device) => !this.#claimed.get(userId)?.has(device)).map((device) =>
        [userId, device] as const
      )
    );
    const outcomes = await Promise.allSettled(
      releases.map(([userId, device]) => this.#release(userId, device)),
    );
    const failed = outcomes.find((outcome) => outcome.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** The number of live devices left; forgets the pending release once Redis confirmed it. */
  async #release(userId: number, device: string): Promise<number> {
    const left = Number(await this.#eval(RELEASE, userId, [device, this.#token]));
    this.#deletePending(userId, device);
    return left;
  }

  /** Every device this node holds or has not confirmed releasing, for close. */
  #allReleases(): (readonly [number, string])[] {
    const all = new Map<number, Set<string>>();
    for (const [userId, devices] of this.#claimed) all.set(userId, new Set(devices.keys()));
    for (const [userId, devices] of this.#pendingReleases) {
      all.set(userId, new Set([...all.get(userId) ?? [], ...devices]));
    }
    return [...all].flatMap(([userId, devices]) => [...devices].map((device) => [userId, device] as const));
  }

  #addPending(userId: number, device: string): void {
    const devices = this.#pendingReleases.get(userId) ?? new Set<string>();
    devices.add(device);
    this.#pendingReleases.set(userId, devices);
  }

  #deletePending(userId: number, device: string): void {
    const devices = this.#pendingReleases.get(userId);
    if (!devices?.delete(device)) return;
    if (devices.size === 0) this.#pendingReleases.delete(userId);
  }

  /**
   * Start (`leaseMs` given) or close (undefined) of this node id's lease; see `NODE_LEASE`. Not `taken`:
   * another process holds the lease, for `remainingMs` more.
   */
  async #nodeLease(leaseMs: number | undefined): Promise<{ taken: boolean; remainingMs: number }> {
    const args: (string | number)[] = [this.#token];
    if (leaseMs !== undefined) args.push(leaseMs);
    const [taken, remainingMs] = await evalScript(this.#redis, NODE_LEASE, {
      keys: [this.#leaseKey],
      args,
    }) as number[];
    return { taken: taken === 1, remainingMs: Number(remainingMs) };
  }

  /** A script on the hash of `userId`'s devices. */
  #eval(script: LuaScript, userId: number, args: (string | number)[]): Promise<unknown> {
    return evalScript(this.#redis, script, { keys: [devicesKey(this.#keyPrefix, userId)], args });
  }
}
