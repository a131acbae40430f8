/**
 * Logs a repeating event at most once per interval. An event that can happen thousands of times a second
 * (connections refused at a limit, accept failures while file descriptors run out) would otherwise flood the
 * log exactly when the operator needs it.
 */
import type { Logger } from "./log.ts";

/** Options for {@linkcode LogThrottle}. */
export interface LogThrottleOptions {
  /** The level of every line. */
  level: "info" | "warn" | "error";
  /** The event name of every line. */
  event: string;
  /** At most one line per this many milliseconds (default 5000). */
  intervalMs?: number;
}

/**
 * The first event is logged at once with `count=1`; the ones that follow within the interval are only counted,
 * and at the interval's end one line reports them: `count=N` with the fields of the last one. A quiet interval
 * logs nothing, and the next event is again logged at once.
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 * import { LogThrottle } from "./log_throttle.ts";
 *
 * const refusals = new LogThrottle(new Logger(), { level: "warn", event: "connection refused" });
 * refusals.note({ remote: "10.0.0.1:5000" }); // logged now, count=1
 * refusals.note({ remote: "10.0.0.2:5000" }); // counted; logged with count=1 when the 5 s are over
 * refusals.stop(); // logs what is still counted
 * ```
 */
export class LogThrottle {
  readonly #log: Logger;
  readonly #level: LogThrottleOptions["level"];
  readonly #event: string;
  readonly #intervalMs: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pending = 0;
  #lastFields: Record<string, unknown> = {};
  #total = 0;

  constructor(log: Logger, options: LogThrottleOptions) {
    const intervalMs = options.intervalMs ?? 5000;
    if (!(intervalMs > 0)) throw new RangeError(`LogThrottle: intervalMs must be > 0, got ${intervalMs}`);
    this.#log = log;
    this.#level = options.level;
    this.#event = options.event;
    this.#intervalMs = intervalMs;
  }

  /** Events noted so far, logged or not. */
  get total(): number {
    return this.#total;
  }

  /** One more event; `fields` describe it (the line of a counted interval carries the last one's). */
  note(fields: Record<string, unknown> = {}): void {
    this.#total++;
    if (this.#timer === undefined) {
      this.#write(fields, 1);
      this.#startInterval();
    } else {
      this.#pending++;
      this.#lastFields = fields;
    }
  }

  /** Logs what is still counted and stops the timer. Idempotent; a later event starts over. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flush();
  }

  #startInterval(): void {
    const timer = setTimeout(() => {
      this.#timer = undefined;
      // Another interval only when this one had events: the next quiet one ends the throttling.
      if (this.#flush()) this.#startInterval();
    }, this.#intervalMs);
    // A pending summary must not keep the process alive.
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #flush(): boolean {
    if (this.#pending === 0) return false;
    this.#write(this.#lastFields, this.#pending);
    this.#pending = 0;
    return true;
  }

  #write(fields: Record<string, unknown>, count: number): void {
    this.#log[this.#level](this.#event, { ...fields, count, interval_s: this.#intervalMs / 1000 });
  }
}
