/**
 * Fills holes in what a device was handed live (DESIGN.md "Delivery without loss", step 5: the bus is best
 * effort). A hole is a seq that never arrived while later ones did: lost with a Redis outage, or still on its
 * way from another node. After a short wait, so that a frame merely overtaken arrives on its own, the
 * missing messages are read from the store and handed to the device, and its cursor moves over them. A
 * v1 client cannot ask for what it missed, so the server does it.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Store } from "../store/store.ts";
import type { Session } from "./session.ts";

/** How long a hole may stay open before the store is asked (a frame overtaken across nodes arrives sooner). */
const DEFAULT_WAIT_MS = 1000;
/** Messages read per fill; a larger hole is filled in several rounds. */
const FILL_LIMIT = 500;

/** Counters a metrics endpoint can read. */
export interface GapFillerCounters {
  /** Holes that were still open after the wait and were read from the store. */
  fills: number;
  /** Messages handed from the store into holes. */
  filled: number;
  failures: number;
}

/**
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const gaps = new GapFiller(store, new Logger({ level: "silent" }));
 * // session.onHole = gaps.report;
 * ```
 */
export class GapFiller {
  readonly #store: Pick<Store, "messagesAfter" | "deviceCursors">;
  readonly #log: Logger;
  readonly #waitMs: number;
  /** Holes waiting for their timer: per session, per conversation. */
  readonly #waiting = new Map<Session, Map<string, ReturnType<typeof setTimeout>>>();
  readonly counters: GapFillerCounters = { fills: 0, filled: 0, failures: 0 };

  constructor(store: Pick<Store, "messagesAfter" | "deviceCursors">, log: Logger, waitMs = DEFAULT_WAIT_MS) {
    this.#store = store;
    this.#log = log;
    this.#waitMs = waitMs;
  }

  /** A session's cursor in `conv` is stuck below a hole (`Session.onHole`); one timer per hole. */
  readonly report = (session: Session, conv: string): void => {
    let timers = this.#waiting.get(session);
    if (timers?.has(conv)) return;
    if (!timers) this.#waiting.set(session, timers = new Map());
    const timer = setTimeout(() => {
      this.#forget(session, conv);
      void this.fill(session, conv);
    }, this.#waitMs);
    Deno.unrefTimer(timer);
    timers.set(conv, timer);
  };

  /**
   * Fills every open hole of the session now (a logout: what the device was missing goes out before the
   * login ends, so that its saved cursor does not stay below frames it already has). Never rejects.
   */
  async fillAll(session: Session): Promise<void> {
    this.forget(session);
    await Promise.all(session.cursors.holes().map((conv) => this.fill(session, conv)));
    this.forget(session);
  }

  /** Drops a session's waiting holes (its login ended). */
  forget(session: Session): void {
    for (const timer of this.#waiting.get(session)?.values() ?? []) clearTimeout(timer);
    this.#waiting.delete(session);
  }

  /** Drops every waiting hole (shutdown). */
  stop(): void {
    for (const session of [...this.#waiting.keys()]) this.forget(session);
  }

  /** Reads the hole of `conv` from the store and hands it to the session (now, without waiting). */
  async fill(session: Session, conv: string): Promise<void> {
    const user = session.user;
    const hole = session.cursors.hole(conv);
    if (!user || !hole) return;
    this.counters.fills++;
    try {
      const after = Math.max(hole.after, await this.#groupFloor(user.id, session.device, conv));
      const messages = await this.#store.messagesAfter(conv, after, FILL_LIMIT, hole.upTo);
      if (session.user !== user) return;
      for (const message of messages) session.fill(message);
      this.counters.filled += messages.length;
      // Read to the end: whatever is still missing up to `upTo` is gone (retention) or was never stored.
      if (messages.length < FILL_LIMIT) session.skipTo(conv, hole.upTo);
      if (session.cursors.hole(conv)) this.report(session, conv);
    } catch (error) {
      this.counters.failures++;
      // The cursor stays below the hole: the device gets the messages at its next login.
      this.#log.warn("filling a delivery gap failed", { user: user.id, conv, error });
    }
  }

  #forget(session: Session, conv: string): void {
    const timers = this.#waiting.get(session);
    timers?.delete(conv);
    if (timers?.size === 0) this.#waiting.delete(session);
  }

  /**
   * Where a group's hole may start for this device: never before the user (re)joined, so that a member who
   * left and came back is not handed what was said while they were away. 0 for a one-to-one conversation.
   */
  async #groupFloor(userId: number, device: string, conv: string): Promise<number> {
    if (!conv.startsWith("g:")) return 0;
    return (await this.#store.deviceCursors(userId, device)).get(conv)?.cursor ?? 0;
  }
}
