/**
 * Saves devices' delivery cursors (DESIGN.md "Delivery without loss", step 3) in batches: live delivery
 * moves a session's cursors in memory on every frame, and this saver writes them a few times a second in
 * one `saveCursors` call for all sessions, each cursor only once its frames were flushed to the socket.
 * A crash loses at most the last interval's moves: those messages come again at the next login (past
 * the saved cursor), never fewer.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { CursorUpdate, Store } from "../store/store.ts";
import type { Session, UndeliveredFrame } from "./session.ts";
import { frameConvSeq } from "../protocol/encode.ts";

/** How often live cursor moves are saved. */
const DEFAULT_INTERVAL_MS = 250;

/** Counters a metrics endpoint can read. */
export interface CursorSaverCounters {
  /** `saveCursors` calls that succeeded. */
  saves: number;
  /** Cursors written by them. */
  cursors: number;
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
 * const saver = new CursorSaver(store, new Logger({ level: "silent" }));
 * saver.add([{ userId: 1, device: "phone", conv: "u:1:2", seq: 3 }]);
 * await saver.flush();
 * saver.stop();
 * ```
 */
export class CursorSaver {
  readonly #store: Pick<Store, "saveCursors">;
  readonly #log: Logger;
  readonly #intervalMs: number;
  /** Sessions that were handed frames since they were last looked at: they may have cursors to save. */
  readonly #sessions = new Set<Session>();
  /** Cursors waiting for the next save, one per (user, device, conv): the highest seq. */
  #pending = new Map<string, CursorUpdate>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #saving: Promise<void> = Promise.resolve();
  readonly counters: CursorSaverCounters = { saves: 0, cursors: 0, failures: 0 };

  constructor(store: Pick<Store, "saveCursors">, log: Logger, intervalMs = DEFAULT_INTERVAL_MS) {
    this.#store = store;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  /**
   * Watches a logged-in session (at login, and again whenever it was handed a message: `Session.onMoved`):
   * what it hands out live is saved with the next batch. A session with nothing moved is let go until it
   * moves again, so idle sessions cost the saver nothing.
   */
  readonly watch = (session: Session): void => {
    this.#sessions.add(session);
    this.#schedule();
  };

  /** Queues cursors that were already flushed to their device (the login's offline hand-over). */
  add(updates: Iterable<CursorUpdate>): void {
    for (const update of updates) {
      const key = `${update.userId}\n${update.device}\n${update.conv}`;
      const known = this.#pending.get(key);
      if (!known || known.seq < update.seq) this.#pending.set(key, update);
    }
    this.#schedule();
  }

  /**
   * Stops watching a session whose login ends, and saves its last cursors: those that moved in the session,
   * except past what its connection gave back as never written (`unsent`; the cursor stays below the
   * first of those).
   * Resolves once saved (never rejects; a failure is logged).
   */
  async finish(session: Session, unsent: UndeliveredFrame[] = []): Promise<void> {
    this.#sessions.delete(session);
    const user = session.user;
    if (!user) return;
    // Only what moved in this session: the rest is stored as it is.
    const handed = session.cursors.changed();
    for (const { frame } of unsent) {
      const position = frameConvSeq(frame);
      if (!position) continue;
      const below = position.seq - 1;
      if (below < (handed.get(position.conv) ?? 0)) handed.set(position.conv, below);
    }
    const flushed = unsent.length > 0 || session.connection.isClosed || await session.connection.flushed();
    if (flushed) this.add(updatesOf(user.id, session.device, handed));
    await this.flush();
  }

  /** Saves everything queued and everything watched sessions flushed so far. */
  async flush(): Promise<void> {
    await this.#collect();
    const previous = this.#saving;
    const next = previous.then(() => this.#save());
    this.#saving = next;
    await next;
  }

  /** Stops the timer (shutdown; call {@linkcode CursorSaver.flush} first). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(): void {
    if (this.#timer !== undefined) return;
    const timer = setTimeout(() => {
      this.#timer = undefined;
      void this.flush().then(() => {
        if (this.#sessions.size > 0 || this.#pending.size > 0) this.#schedule();
      });
    }, this.#intervalMs);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Takes each watched session's moved cursors once its connection flushed them. */
  async #collect(): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const session of this.#sessions) {
      const user = session.user;
      const handed = session.takeHanded();
      if (!user || !handed) {
        this.#sessions.delete(session);
        continue;
      }
      const device = session.device;
      waits.push(
        session.connection.flushed().then((flushed) => {
          if (flushed) this.add(updatesOf(user.id, device, handed));
        }),
      );
    }
    await Promise.all(waits);
  }

  async #save(): Promise<void> {
    if (this.#pending.size === 0) return;
    const updates = [...this.#pending.values()];
    this.#pending = new Map();
    try {
      await this.#store.saveCursors(updates);
      this.counters.saves++;
      this.counters.cursors += updates.length;
    } catch (error) {
      this.counters.failures++;
      // Not put back: the next save of the same session carries newer positions, and a lost save only
      // means the next login hands those messages again.
      this.#log.warn("saving delivery cursors failed", { count: updates.length, error });
    }
  }
}

function updatesOf(userId: number, device: string, handed: ReadonlyMap<string, number>): CursorUpdate[] {
  const updates: CursorUpdate[] = [];
  for (const [conv, seq] of handed) if (seq > 0) updates.push({ userId, device, conv, seq });
  return updates;
}
