/**
 * Which sessions each logged-in user has on this node: the only place that knows. Handlers add a session
 * when a login binds it and remove it when the login ends; delivery reads a user's sessions.
 */

/** Options for {@linkcode SessionRegistry}. */
export interface SessionRegistryOptions {
  /**
   * Sessions one user may hold here at once (default 1: one login per user, as PROTOCOL.md requires
   * until devices arrive).
   */
  maxPerUser?: number;
}

/** Thrown by {@linkcode SessionRegistry.add} past the per-user limit: the login should have refused first. */
export class SessionLimitError extends Error {
  constructor(userId: number, limit: number) {
    super(`user ${userId} already has ${limit} session(s) on this node`);
    this.name = "SessionLimitError";
  }
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * A user's sessions are kept as an array that is replaced, never changed in place, so a caller may iterate
 * over what {@linkcode SessionRegistry.ofUser} returned while sessions come and go (delivery does), and the
 * hot path (one chat frame to one user) allocates nothing.
 *
 * @example
 * ```ts
 * const registry = new SessionRegistry<string>();
 * registry.add(7, "alice's phone");
 * registry.ofUser(7); // ["alice's phone"]
 * registry.remove(7, "alice's phone"); // true
 * registry.has(7); // false
 * ```
 */
export class SessionRegistry<S> {
  readonly #byUser = new Map<number, readonly S[]>();
  readonly #maxPerUser: number;
  #size = 0;

  constructor(options: SessionRegistryOptions = {}) {
    const maxPerUser = options.maxPerUser ?? 1;
    if (!Number.isSafeInteger(maxPerUser) || maxPerUser < 1) {
      throw new RangeError(`maxPerUser must be a positive integer, got ${maxPerUser}`);
    }
    this.#maxPerUser = maxPerUser;
  }

  /** Sessions, all users together. */
  get size(): number {
    return this.#size;
  }

  /** Users with at least one session. */
  get userCount(): number {
    return this.#byUser.size;
  }

  /** Whether `userId` has a session here. */
  has(userId: number): boolean {
    return this.#byUser.has(userId);
  }

  /** Whether one more session of `userId` fits under the per-user limit. */
  hasRoom(userId: number): boolean {
    return this.ofUser(userId).length < this.#maxPerUser;
  }

  /** The sessions of `userId`, oldest first (empty when none). Never changes after it was returned. */
  ofUser(userId: number): readonly S[] {
    return this.#byUser.get(userId) ?? NONE;
  }

  /**
   * Registers `session` for `userId`. Adding a session twice is a no-op. Throws
   * {@linkcode SessionLimitError} past the per-user limit: check {@linkcode hasRoom} (and claim the user)
   * before.
   */
  add(userId: number, session: S): void {
    const sessions = this.ofUser(userId);
    if (sessions.includes(session)) return;
    if (sessions.length >= this.#maxPerUser) throw new SessionLimitError(userId, this.#maxPerUser);
    // Not `[...sessions, session]`: a spread leaves room for 16 more (~130 B per logged-in user, for good).
    this.#byUser.set(userId, sessions.concat([session]));
    this.#size++;
  }

  /** Unregisters `session` of `userId`; `false` when it was not registered (removing is idempotent). */
  remove(userId: number, session: S): boolean {
    const sessions = this.ofUser(userId);
    const index = sessions.indexOf(session);
    if (index < 0) return false;
    if (sessions.length === 1) this.#byUser.delete(userId);
    else this.#byUser.set(userId, sessions.toSpliced(index, 1));
    this.#size--;
    return true;
  }

  /** Every session, a snapshot (shutdown ends them all while they remove themselves). */
  all(): S[] {
    const all: S[] = [];
    for (const sessions of this.#byUser.values()) all.push(...sessions);
    return all;
  }
}
