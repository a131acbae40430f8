/**
 * Shows each conversation's messages once and in `seq` order (PROTOCOL.md "Conversations and sequence
 * numbers"). Messages from one sender arrive in order, but across senders (and nodes) a later `seq` may
 * overtake an earlier one, and a reconnect may hand over again what was already shown. So the tracker keeps,
 * per conversation, the highest `seq` shown without a gap; a message past a gap waits while the gap is filled
 * with SYNC `{conv, after}`, and a message at or below it is a repeat and is dropped.
 *
 * A conversation starts where this client first meets it (its first message, or the `lastseq` that SYNC
 * listed before any message came, whichever is lower): earlier history is what `history` is for, and
 * the server hands each device what it has not been given yet at login.
 */
import type { ChatMessage } from "./model.ts";

/** What a gap fill gets from the server: messages after a seq, ascending, and whether more follow. */
export interface SyncPage {
  messages: ChatMessage[];
  more: boolean;
}

/** Options for {@linkcode ConversationTracker}. */
export interface ConversationTrackerOptions {
  /** SYNC `{conv, after}`; `undefined` when the request failed (it is then not retried). */
  fetchAfter(conv: string, after: number): Promise<SyncPage | undefined>;
  /** Shows one message; called in `seq` order per conversation, once per `seq`. */
  show(message: ChatMessage): void;
}

/** A message to place: one to show, or `"own"` for one this client sent (its ACK gave the seq). */
export type Entry = ChatMessage | "own";

interface ConvState {
  /** Every seq up to this one has been shown (or skipped as a gap that cannot be filled). */
  shown: number;
  /** Messages past a gap, by seq. */
  waiting: Map<number, Entry>;
  /** The running gap fill, if any. */
  filling?: Promise<void>;
}

/**
 * Orders and deduplicates messages per conversation.
 *
 * @example
 * ```ts
 * const tracker = new ConversationTracker({
 *   fetchAfter: () => Promise.resolve({ messages: [], more: false }),
 *   show: (message) => console.log(message.seq, message.msg),
 * });
 * tracker.accept({ id: 2, name: "bob", toid: 1, msg: "hi", time: "", conv: "u:1:2", seq: 4 });
 * ```
 */
export class ConversationTracker {
  readonly #options: ConversationTrackerOptions;
  readonly #convs = new Map<string, ConvState>();
  /** `lastseq` from a SYNC list for conversations that no message has started yet. */
  readonly #listed = new Map<string, number>();

  constructor(options: ConversationTrackerOptions) {
    this.#options = options;
  }

  /** The highest seq of `conv` shown without a gap; `undefined` for a conversation not met yet. */
  shown(conv: string): number | undefined {
    return this.#convs.get(conv)?.shown;
  }

  /**
   * Places a message (with `conv` and `seq`) or an own message's seq. Shows what is now in order; a gap
   * starts a fill. A message without `conv`/`seq` (kept by a server from before conversations) is shown
   * as it comes.
   */
  accept(message: ChatMessage): void;
  accept(conv: string, seq: number, entry: Entry): void;
  accept(first: ChatMessage | string, seq?: number, entry?: Entry): void {
    if (typeof first !== "string") {
      if (first.conv === undefined || first.seq === undefined) return this.#options.show(first);
      return this.accept(first.conv, first.seq, first);
    }
    const state = this.#place(first, seq!, entry!);
    if (state.waiting.size > 0) this.#fill(first, state);
  }

  /**
   * Takes a conversation's `lastseq` from a SYNC list: for one already met, what lies past the shown seq
   * is fetched (missed while disconnected, or sent from the user's other devices); for one not met yet,
   * it is where the conversation will start.
   */
  listed(conv: string, lastseq: number): void {
    const state = this.#convs.get(conv);
    if (!state) {
      this.#listed.set(conv, lastseq);
      return;
    }
    if (lastseq > state.shown) this.#fill(conv, state);
  }

  /** Resolves once no gap fill is running. */
  async idle(): Promise<void> {
    while (true) {
      const running = [...this.#convs.values()].flatMap((state) => state.filling ?? []);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  /** Forgets everything (another user logged in). */
  clear(): void {
    this.#convs.clear();
    this.#listed.clear();
  }

  #place(conv: string, seq: number, entry: Entry): ConvState {
    let state = this.#convs.get(conv);
    if (!state) {
      state = { shown: Math.min(seq - 1, this.#listed.get(conv) ?? Infinity), waiting: new Map() };
      this.#convs.set(conv, state);
      this.#listed.delete(conv);
    }
    if (seq > state.shown && !state.waiting.has(seq)) {
      state.waiting.set(seq, entry);
      this.#drain(state);
    }
    return state;
  }

  /** Shows the waiting messages that now follow the shown seq without a gap. */
  #drain(state: ConvState): void {
    let next;
    while ((next = state.waiting.get(state.shown + 1)) !== undefined) {
      state.waiting.delete(state.shown + 1);
      state.shown++;
      if (next !== "own") this.#options.show(next);
    }
  }

  /**
   * Fetches what follows the shown seq until the server has no more. A message is stored before it is
   * sent to anyone, so a fetch that brings nothing new means the gap cannot be filled (retention removed
   * it, or the user left the group): the waiting messages are then shown after it rather than held forever.
   */
  #fill(conv: string, state: ConvState): void {
    if (state.filling) return;
    const run = async () => {
      try {
        while (true) {
          const before = state.shown;
          const page = await this.#options.fetchAfter(conv, before).catch(() => undefined);
          if (!page) break;
          for (const message of page.messages) {
            if (message.conv === conv && message.seq !== undefined) this.#place(conv, message.seq, message);
          }
          if (state.shown === before || (!page.more && state.waiting.size === 0)) break;
        }
      } finally {
        this.#skipGaps(state);
        state.filling = undefined;
      }
    };
    state.filling = run();
  }

  #skipGaps(state: ConvState): void {
    while (state.waiting.size > 0) {
      state.shown = Math.min(...state.waiting.keys()) - 1;
      this.#drain(state);
    }
  }
}
