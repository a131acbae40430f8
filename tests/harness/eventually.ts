/**
 * The one polling helper of the tests: for a state that has no event to wait on (a server that starts
 * accepting connections, a counter that another process moves). Wait on the event itself whenever there is
 * one; poll only when there is none.
 *
 * @module
 */

import { setTimeout as delay } from "node:timers/promises";

/** A process whose exit makes further waiting pointless ({@linkcode ServiceProcess} is one). */
export interface WatchedProcess {
  /** False once the process has exited. */
  readonly running: boolean;
  /** The exit code once exited. */
  readonly exitCode: number | null;
  /** The end of its log, appended to the failure message. */
  logTail(): Promise<string>;
}

/** Options for {@linkcode eventually}. */
export interface EventuallyOptions {
  /** What is awaited, for the failure message ("MariaDB on 127.0.0.1:4000"). */
  what: string;
  /** Give up after this many milliseconds (default 5_000). */
  timeoutMs?: number;
  /** Pause between attempts, in milliseconds (default 50). */
  intervalMs?: number;
  /** When this process exits first, fail at once (with its log tail) instead of waiting for the timeout. */
  process?: WatchedProcess;
}

/**
 * Calls `probe` until it is ready, and resolves with what it returned. The probe is not ready while it throws
 * (or rejects) or returns `false`; any other value, `undefined` included, means ready. Fails after `timeoutMs`
 * with an error naming `what` and the last reason the probe gave (as text and as `cause`), or at once when the
 * watched process exits.
 *
 * @example
 * ```ts
 * import { eventually } from "./eventually.ts";
 *
 * let count = 0;
 * const value = await eventually(() => ++count >= 3 && count, { what: "three calls", intervalMs: 1 });
 * // value === 3
 * ```
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: EventuallyOptions,
): Promise<Exclude<T, false>> {
  const { what, timeoutMs = 5_000, intervalMs = 50, process } = options;
  const deadline = performance.now() + timeoutMs;
  let last: { error: unknown } | undefined;
  while (true) {
    if (process && !process.running) {
      throw new Error(
        `${what}: process exited with code ${process.exitCode} before it was ready${
          lastReason(last)
        }\n${await process.logTail()}`,
        last && { cause: last.error },
      );
    }
    try {
      const value = await probe();
      if (value !== false) return value as Exclude<T, false>;
      last = undefined;
    } catch (error) {
      last = { error };
    }
    if (performance.now() >= deadline) {
      const tail = process ? `\n${await process.logTail()}` : "";
      throw new Error(
        `${what}: not ready after ${timeoutMs} ms${lastReason(last) || "; the probe returned false"}${tail}`,
        last && { cause: last.error },
      );
    }
    await delay(intervalMs);
  }
}

function lastReason(last: { error: unknown } | undefined): string {
  if (!last) return "";
  const { error } = last;
  return `; last error: ${error instanceof Error ? error.message : String(error)}`;
}
