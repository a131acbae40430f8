/**
 * Presence leases on Redis (keys under the bus's prefix, `chat:` by default):
 *
 * - `node:{nodeId}`: this node's lease, holding this process's token, set with a TTL of `leaseMs` and
 *   renewed every `renewMs`. A node that dies (kill -9) stops renewing, and everything it claimed is dead
 *   once the key expires. A second process with the same node id is refused while the lease is renewed.
 * - `owner:{userId}`: the id of the node holding the user. It counts only while that node's lease lives,
 *   so it needs no TTL of its own.
 * - `users:{nodeId}`: the users this node claimed, so that a restarted node with the same id (or a closing
 *   one) can drop exactly its own claims without scanning the keyspace.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { setTimeout as delay } from "node:timers/promises";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { PresenceLeases } from "./bus.ts";
import { NodeIdInUseError } from "./errors.ts";
import {
  CLAIM,
  evalScript,
  LuaScript,
  NODE_LEASE,
  ONLINE,
  REASSERT,
  RELEASE,
  RENEW,
} from "./redis_scripts.ts";

/**
 * How much longer than a held lease's remaining time a starting node waits before it decides whether the
 * lease's process is alive: a live node renews well within it (every third of its lease by default).
 */
const LEASE_CHECK_MARGIN_MS = 250;

/** Options for {@linkcode RedisPresence}. */
export interface RedisPresenceOptions {
  /** The command connection. */
  redis: Redis;
  /** This node's id: the value of its users' owner keys. */
  nodeId: string;
  /** This process: the lease's value, telling its renewals from another process's with the same node id. */
  token: string;
  /** Prefix of every key (`"chat:"` by default). */
  keyPrefix: string;
  /** How long this node's claims outlive its last renewal, in ms. */
  leaseMs: number;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
}

/**
 * {@linkcode PresenceLeases} as owner keys that live as long as their node's lease. The owning bus checks
 * that it runs before `claimUser` and `onlineUsers`, and drives {@linkcode RedisPresence.renew}.
 *
 * Failure behaviour: while Redis is unreachable `claimUser` and `onlineUsers` reject at once;
 * `releaseUser` never rejects: its effect is retried with every renewal until Redis confirms it, so a live
 * node never keeps a user it let go.
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
 *   log: new Logger(),
 * });
 * await presence.acquireNodeLease();
 * await presence.claimUser(7); // true
 * ```
 */
export class RedisPresence implements PresenceLeases {
  readonly #redis: Redis;
  readonly #nodeId: string;
  readonly #token: string;
  readonly #leaseMs: number;
  readonly #log: Logger;
  readonly #ownerPrefix: string;
  readonly #leasePrefix: string;
  readonly #leaseKey: string;
  readonly #usersKey: string;

  /** This process holds the node lease: only then may it drop the node id's claims at close. */
  #leaseHeld = false;
  #lastRenewal = 0;
  #lapseWarned = false;
  #duplicateWarned = false;
  /** The lease had expired; set until the claims are re-asserted. */
  #reassertDue = false;
  /** Users this node claimed and has not released: re-asserted when the lease lapsed. */
  readonly #claimed = new Set<number>();
  /** Releases Redis has not confirmed (or claims whose outcome is unknown): retried on every renewal. */
  readonly #pendingReleases = new Set<number>();

  /** Nothing is sent before {@linkcode RedisPresence.acquireNodeLease}. */
  constructor(options: RedisPresenceOptions) {
    this.#redis = options.redis;
    this.#nodeId = options.nodeId;
    this.#token = options.token;
    this.#leaseMs = options.leaseMs;
    this.#log = options.log;
    this.#ownerPrefix = `${options.keyPrefix}owner:`;
    this.#leasePrefix = `${options.keyPrefix}node:`;
    this.#leaseKey = this.#leasePrefix + options.nodeId;
    this.#usersKey = `${options.keyPrefix}users:${options.nodeId}`;
  }

  /**
   * Takes this node id's lease and drops the claims an earlier run of it left behind. When another process
   * holds the lease, waits out its remaining time: a node that died lets it expire and is taken over; a
   * live one renews it, and this rejects with {@linkcode NodeIdInUseError} having changed nothing.
   * Aborting `options.signal` (the bus is closing) ends the wait at once and returns without the lease.
   */
  async acquireNodeLease(options: { signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    let lease = await this.#nodeLease(this.#leaseMs);
    if (!lease.taken) {
      this.#log.info("bus node id lease held by another process; waiting to see whether it is renewed", {
        remainingMs: lease.value,
      });
      // PTTL -1 (no expiry) is nobody's lease of ours: refused below without waiting.
      if (lease.value >= 0) {
        // Cancelled by close: a closing bus must not keep the process alive for a lease it will not take.
        await delay(lease.value + LEASE_CHECK_MARGIN_MS, undefined, { signal }).catch(() => {});
      }
      if (signal?.aborted) return;
      lease = await this.#nodeLease(this.#leaseMs);
      if (!lease.taken) throw new NodeIdInUseError(this.#nodeId);
    }
    this.#leaseHeld = true;
    this.#lastRenewal = Date.now();
    if (lease.value > 0) this.#log.info("bus dropped claims of an earlier run", { count: lease.value });
  }

  /**
   * Drops this node's claims and deletes its lease, if this process holds it. Never rejects: what fails
   * expires with the lease.
   */
  async releaseNodeLease(): Promise<void> {
    const unreleased = this.#claimed.size + this.#pendingReleases.size;
    try {
      if (!this.#leaseHeld) return;
      if (this.#redis.status !== "ready") {
        if (unreleased > 0) throw new Error(`not connected (${this.#redis.status})`);
        return;
      }
      await this.#nodeLease(undefined);
    } catch (error) {
      this.#log.warn("bus could not release its claims; they expire with the lease", {
        count: unreleased,
        error: describeError(error),
      });
    } finally {
      this.#leaseHeld = false;
      this.#claimed.clear();
      this.#pendingReleases.clear();
    }
  }

  async claimUser(userId: number): Promise<boolean> {
    // An unconfirmed release of this user would make the claim look like a duplicate login.
    if (this.#pendingReleases.has(userId)) await this.flushReleases();
    try {
      const claimed = await this.#eval(CLAIM, [this.#ownerPrefix + userId, this.#usersKey], [
        this.#nodeId,
        this.#leasePrefix,
        userId,
      ]) === 1;
      if (claimed) {
        this.#claimed.add(userId);
        this.#pendingReleases.delete(userId);
      }
      return claimed;
    } catch (error) {
      // The script may have run before the reply was lost: a claim nobody uses must not block the user.
      if (!this.#claimed.has(userId)) this.#pendingReleases.add(userId);
      throw error;
    }
  }

  /** Never rejects: an unconfirmed release is retried with the lease renewals. */
  async releaseUser(userId: number): Promise<void> {
    if (!this.#claimed.delete(userId) && !this.#pendingReleases.has(userId)) return;
    this.#pendingReleases.add(userId);
    if (!this.#leaseHeld) return;
    await this.flushReleases().catch((error) =>
      this.#log.warn("bus release failed; will retry", { user: userId, error: describeError(error) })
    );
  }

  async onlineUsers(ids: number[]): Promise<Set<number>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Set();
    const keys = unique.map((id) => this.#ownerPrefix + id);
    const alive = await this.#eval(ONLINE, keys, [this.#leasePrefix]) as number[];
    return new Set(unique.filter((_, index) => alive[index] === 1));
  }

  /** Renews the lease, and claims everything again if it had lapsed. Rejects when Redis is unreachable. */
  async renew(): Promise<void> {
    const state = await this.#eval(RENEW, [this.#leaseKey], [this.#token, this.#leaseMs]);
    this.#lastRenewal = Date.now();
    this.#lapseWarned = false;
    if (state === 0) this.#reassertDue = true;
    if (state === 2 && !this.#duplicateWarned) {
      this.#duplicateWarned = true;
      this.#log.warn("bus lease renewed by another process: two live nodes share this node id");
    }
    if (this.#reassertDue) {
      await this.#reassert();
      this.#reassertDue = false;
    }
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
    const ids = [...this.#pendingReleases].filter((id) => !this.#claimed.has(id));
    if (ids.length === 0) return;
    await this.#eval(RELEASE, [this.#usersKey], [this.#nodeId, this.#ownerPrefix, ...ids]);
    for (const id of ids) this.#pendingReleases.delete(id);
  }

  /** The lease had expired (Redis restarted empty, or a partition outlived it): claim our users again. */
  async #reassert(): Promise<void> {
    const ids = [...this.#claimed];
    const conflicts = ids.length === 0 ? [] : await this.#eval(REASSERT, [this.#usersKey], [
      this.#nodeId,
      this.#leasePrefix,
      this.#ownerPrefix,
      ...ids,
    ]) as string[];
    this.#log.warn("bus lease had expired; claims re-asserted", {
      count: ids.length,
      conflicts: conflicts.length,
    });
    if (conflicts.length > 0) {
      // Another node logged these users in meanwhile; both sessions receive their frames until one ends.
      this.#log.warn("bus users claimed elsewhere while the lease was lost", {
        users: conflicts.map(Number),
      });
    }
  }

  /**
   * Start (`leaseMs` given) or close (undefined) of this node id's lease; see `NODE_LEASE`. `taken`: the
   * script ran, `value` is the number of claims it dropped; otherwise another process holds the lease and
   * `value` is its PTTL.
   */
  async #nodeLease(leaseMs: number | undefined): Promise<{ taken: boolean; value: number }> {
    const args: (string | number)[] = [this.#nodeId, this.#ownerPrefix, this.#token];
    if (leaseMs !== undefined) args.push(leaseMs);
    const [taken, value] = await this.#eval(NODE_LEASE, [this.#usersKey, this.#leaseKey], args) as number[];
    return { taken: taken === 1, value: Number(value) };
  }

  #eval(script: LuaScript, keys: string[], args: (string | number)[]): Promise<unknown> {
    return evalScript(this.#redis, script, { keys, args });
  }
}
