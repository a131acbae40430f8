/**
 * What a device missed, read at login (DESIGN.md "Delivery without loss", steps 3, 4 and 6): first the
 * offline rows a released server left behind (delivered once, to whichever device logs in first, then
 * deleted), then the messages from others past the device's cursors, oldest first, in pages. Nothing is
 * deleted and no cursor moves until {@linkcode OfflineHandover.handed} says the page reached the socket.
 *
 * Only conversations whose cursor was below their last seq when the login read them are read again: a
 * message stored after that read is published after the login subscribed, so it comes live. A reconnect
 * storm is mostly devices with nothing waiting, and they then cost no message query at all.
 *
 * @module
 */
import type { DeviceCursor, Store } from "../store/store.ts";

/** What the hand-over reads and deletes. */
export type HandoverStore = Pick<Store, "readOffline" | "deleteOffline" | "messagesPast">;

/** One page of what the device missed. */
export interface OfflinePage {
  /** Frame texts, oldest first. */
  frames: string[];
  /** Whether more may follow this page. */
  more: boolean;
  /** Legacy offline row ids among `frames`. */
  legacyIds: number[];
  /** Per conversation, the highest seq among `frames`. */
  cursors: Map<string, number>;
  /** Whether this page holds the last legacy rows (none are left once it is handed). */
  legacyEnd: boolean;
}

/**
 * @example
 * ```ts
 * import { SqliteStore } from "../store/sqlite_store.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const cursors = new Map([["u:1:2", { cursor: 3, lastSeq: 5 }]]);
 * const handover = new OfflineHandover(store, 1, cursors, { rows: 100, chars: 1 << 20 });
 * const page = await handover.next();
 * await handover.handed(page);
 * ```
 */
export class OfflineHandover {
  readonly #store: HandoverStore;
  readonly #userId: number;
  /** The cursors of the conversations with something waiting, moved forward page by page as they are handed. */
  readonly #cursors = new Map<string, number>();
  readonly #rows: number;
  readonly #chars: number;
  #legacyDone = false;

  /**
   * `cursors`: the device's cursors and the conversations' last seqs as read after the login subscribed
   * (`Store.deviceCursors`). `rows` and `chars` bound a page (at least one frame per page, however long).
   */
  constructor(
    store: HandoverStore,
    userId: number,
    cursors: ReadonlyMap<string, DeviceCursor>,
    limits: { rows: number; chars: number },
  ) {
    this.#store = store;
    this.#userId = userId;
    for (const [conv, { cursor, lastSeq }] of cursors) if (cursor < lastSeq) this.#cursors.set(conv, cursor);
    this.#rows = limits.rows;
    this.#chars = limits.chars;
  }

  /** The cursors of the conversations that had something waiting, as far as the pages handed moved them. */
  get cursors(): ReadonlyMap<string, number> {
    return this.#cursors;
  }

  /** The next page (empty with `more: false` at the end). */
  async next(): Promise<OfflinePage> {
    const frames: string[] = [];
    const legacyIds: number[] = [];
    const cursors = new Map<string, number>();
    let chars = 0;
    const fits = (frame: string) => frames.length === 0 || chars + frame.length <= this.#chars;
    let legacyEnd = false;
    const page = (more: boolean) => ({ frames, more, legacyIds, cursors, legacyEnd });
    if (!this.#legacyDone) {
      const rows = await this.#store.readOffline(this.#userId, this.#rows);
      for (const row of rows) {
        if (!fits(row.frame)) return page(true);
        frames.push(row.frame);
        legacyIds.push(row.id);
        chars += row.frame.length;
      }
      if (rows.length === this.#rows) return page(true);
      legacyEnd = true;
    }
    if (this.#cursors.size === 0) return page(false);
    const room = this.#rows - frames.length;
    const messages = await this.#store.messagesPast(this.#userId, this.#cursors, room);
    for (const message of messages) {
      if (!fits(message.frame)) return page(true);
      frames.push(message.frame);
      chars += message.frame.length;
      if (message.seq > (cursors.get(message.conv) ?? 0)) cursors.set(message.conv, message.seq);
    }
    return page(messages.length === room);
  }

  /**
   * Records that a page reached the device: its legacy rows are deleted and the cursors move past it for
   * the next page. The caller saves `page.cursors` for the device.
   */
  async handed(page: OfflinePage): Promise<void> {
    if (page.legacyIds.length > 0) await this.#store.deleteOffline(this.#userId, page.legacyIds);
    if (page.legacyEnd) this.#legacyDone = true;
    for (const [conv, seq] of page.cursors) {
      if (seq > (this.#cursors.get(conv) ?? 0)) this.#cursors.set(conv, seq);
    }
  }
}
