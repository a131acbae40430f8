/**
 * Group commit for chat messages (DESIGN.md "Delivery without loss", step 1): every accepted chat message
 * is stored before it is acknowledged, and many share one transaction. Messages that arrive while a
 * commit is running wait for the next one, so under load a batch holds whatever arrived during the
 * previous commit, and a lone message waits for nothing but its own commit.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Logger } from "../log.ts";
import type { AppendResult, NewMessage, Store } from "../store/store.ts";

/** Messages per transaction at most: bounds a transaction's locks and the latency of its first message. */
const DEFAULT_MAX_BATCH = 500;

interface Pending {
  message: NewMessage;
  resolve(stored: AppendResult): void;
  reject(error: unknown): void;
}

/** Counters a metrics endpoint can read. */
export interface MessageWriterCounters {
  /** Messages stored (duplicates by cmid, and messages refused for a block, not counted). */
  stored: number;
  /** Transactions committed. */
  commits: number;
}

/**
 * @example
 * ```ts
 * import { Logger } from "../log.ts";
 * import { SqliteStore } from "../store/sqlite_store.ts";
 * import { oneChatFrame } from "../protocol/encode.ts";
 *
 * const store = SqliteStore.open(":memory:");
 * await store.migrate();
 * const writer = new MessageWriter(store, new Logger({ level: "silent" }));
 * const stored = await writer.append({
 *   conv: "u:1:2",
 *   senderId: 1,
 *   mid: "m1",
 *   ts: Date.now(),
 *   frame: (seq) =>
 *     oneChatFrame({ conv: "u:1:2", seq, id: 1, name: "a", toid: 2, msg: "hi", time: "t", mid: "m1", ts: 1 }),
 * });
 * if (!("blocked" in stored)) stored.seq; // 1
 * ```
 */
export class MessageWriter {
  readonly #store: Store;
  readonly #log: Logger;
  readonly #maxBatch: number;
  #queue: Pending[] = [];
  #running = false;
  readonly counters: MessageWriterCounters = { stored: 0, commits: 0 };

  constructor(store: Store, log: Logger, maxBatch = DEFAULT_MAX_BATCH) {
    this.#store = store;
    this.#log = log;
    this.#maxBatch = maxBatch;
  }

  /**
   * Stores one message (with the messages that arrive meanwhile) and resolves once its transaction
   * committed, with what the store did with it (stored, a dup, or refused: the recipient blocks the sender). Rejects with the store's error (StoreUnavailableError: the caller answers errno 11) when
   * the transaction failed: then nothing of it was stored.
   */
  append(message: NewMessage): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ message, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // After this turn's I/O: frames read in the same turn (other connections) join this batch.
        // setImmediate, not setTimeout(0), which waits at least 1 ms: a chat round trip crosses two commits,
        // and that wait halved a closed loop of 100 pairs (about 22k against 41k msg/s measured here).
        setImmediate(() => this.#drain());
      }
    });
  }

  /**
   * Commits batches until the queue is empty; one commit at a time keeps each conversation's order. More at
   * once was measured slower (cluster pingpong, 4 at once: 4.3k against 5.6k msg/s): not lock waits (a
   * BEGIN, which locks nothing, took as long as the upserts), but batches half as large, so twice the
   * statements per message on a host whose CPUs the nodes, MariaDB and nginx already share to the full.
   */
  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.length <= this.#maxBatch ? this.#queue : this.#queue.slice(0, this.#maxBatch);
      this.#queue = batch === this.#queue ? [] : this.#queue.slice(this.#maxBatch);
      try {
        const stored = await this.#store.appendMessages(batch.map((pending) => pending.message));
        this.counters.commits++;
        for (let i = 0; i < batch.length; i++) {
          const result = stored[i];
          if (!("blocked" in result) && !result.dup) this.counters.stored++;
          batch[i].resolve(result);
        }
      } catch (error) {
        this.#log.warn("storing chat messages failed", { count: batch.length, error });
        for (const pending of batch) pending.reject(error);
      }
    }
    this.#running = false;
  }
}
