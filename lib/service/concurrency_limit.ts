import type { TimeShare } from "./time_share.ts";

/** Runs a callback in a later turn of the event loop (`NetworkTurns.schedule`, or `setTimeout(0)`). */
export type NextTurn = (callback: () => void) => void;

/** Options for {@linkcode ConcurrencyLimit}. */
export interface ConcurrencyLimitOptions {
  /**
   * `now` (the default): a freed slot passes to the next waiter at once. `one per turn`: at most one task
   * starts per turn of the event loop (the next one in `nextTurn`, after the I/O that is ready then), so that
   * a queue of tasks with little real I/O in them (token logins on the embedded store) cannot run back to back
   * while frames of other connections wait.
   */
  handOff?: "now" | "one per turn";
  /** How `one per turn` waits for the next turn (default `setTimeout(0)`; see `network_turns.ts`). */
  nextTurn?: NextTurn;
  /**
   * A share of real time the tasks may take (see `time_share.ts`): once it is spent, the next waiter starts
   * only when it is refilled (a timer of its clock), so that the rest of the node keeps the other part.
   */
  share?: TimeShare;
}

const timerTurn: NextTurn = (callback) => setTimeout(callback, 0);

/**
 * At most `limit` tasks run at once; the rest wait in FIFO order. Used for password hashing: Deno runs each
 * async scrypt on a thread of its own (the blocking pool has hundreds), so a login storm would otherwise
 * hash on every core at once, starve the event loop that delivers chat, and hold 16 MiB per hash. And for
 * token logins (one started per turn), which a node restart brings all at once.
 */
export class ConcurrencyLimit {
  readonly limit: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #onePerTurn: boolean;
  readonly #nextTurn: NextTurn;
  /** `one per turn`: a task started in this turn, so the next waits for the turn to end. */
  #startedThisTurn = false;
  readonly #share: TimeShare | undefined;
  /** A timer waits for the share to be refilled (one is enough, however many tasks wait). */
  #refillPending = false;

  constructor(limit: number, options: ConcurrencyLimitOptions = {}) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`ConcurrencyLimit: limit must be an integer >= 1, got ${limit}`);
    }
    this.limit = limit;
    this.#onePerTurn = options.handOff === "one per turn";
    this.#nextTurn = options.nextTurn ?? timerTurn;
    this.#share = options.share;
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Runs `task` once a slot is free (and, one per turn, its turn has come); its result or rejection is passed through. */
  async run<R>(task: () => Promise<R>): Promise<R> {
    // Queued even when a slot is free: a newcomer never overtakes those waiting for a turn.
    await new Promise<void>((resolve) => {
      this.#waiting.push(resolve);
      this.#startWaiting();
    });
    try {
      return await task();
    } finally {
      this.#running--;
      this.#share?.ended();
      this.#startWaiting();
    }
  }

  /** Starts the waiters that may start now: while slots are free (and the share is not spent), or one per turn. */
  #startWaiting(): void {
    while (this.#running < this.limit && this.#waiting.length > 0) {
      if (this.#onePerTurn && this.#startedThisTurn) return;
      if (this.#share && !this.#shareAllows(this.#share)) return;
      if (this.#onePerTurn) {
        this.#startedThisTurn = true;
        this.#nextTurn(() => {
          this.#startedThisTurn = false;
          this.#startWaiting();
        });
      }
      this.#running++;
      this.#share?.started();
      this.#waiting.shift()!();
    }
  }

  /** Whether the share lets a task start now; if not, and no task's end will ask again, a timer will. */
  #shareAllows(share: TimeShare): boolean {
    const wait = share.msUntilFree();
    if (wait === 0) return true;
    if (wait !== Infinity && !this.#refillPending) {
      this.#refillPending = true;
      share.clock.schedule(() => {
        this.#refillPending = false;
        this.#startWaiting();
      }, wait);
    }
    return false;
  }
}
