/**
 * Fakes for the service's seams, for tests that drive sessions, delivery or the dispatcher in process:
 * a connection that records what it is sent, and a logger that records what it is told.
 *
 * @module
 */
import { Logger, type LogLevel } from "../../lib/log.ts";
import type { UndeliveredFrame } from "../../lib/service/session.ts";
import type { SessionConnection } from "../../lib/service/session_connection.ts";

const decoder = new TextDecoder();

/** Stands in for a TCP connection: records what the service sends, and everything reaches the "socket". */
export class RecordingConnection implements SessionConnection {
  static #nextId = 1;
  readonly id = RecordingConnection.#nextId++;
  readonly remote: string;
  context: unknown = undefined;
  lastReadAt = performance.now();
  isClosed = false;
  /** Every item sent, as text with its `\n` (bytes shared by a group fan-out are decoded). */
  readonly sent: string[] = [];
  /** The tag of each item in {@linkcode sent}, `undefined` for untagged ones. */
  readonly tags: (UndeliveredFrame | undefined)[] = [];

  constructor(remote = "127.0.0.1:1") {
    this.remote = remote;
  }

  send(data: string | Uint8Array, tag?: UndeliveredFrame): boolean {
    if (this.isClosed) return false;
    this.sent.push(typeof data === "string" ? data : decoder.decode(data));
    this.tags.push(tag);
    return true;
  }

  flushed(): Promise<boolean> {
    return Promise.resolve(!this.isClosed);
  }

  close(): void {
    this.isClosed = true;
  }

  closeAfterFlush(): void {
    this.isClosed = true;
  }

  /** The frames sent, parsed. */
  frames(): Record<string, unknown>[] {
    return this.sent.map((text) => JSON.parse(text));
  }
}

/** One recorded log call. */
export interface LogEntry {
  level: LogLevel;
  event: string;
  fields: Record<string, unknown>;
}

/** A logger that prints nothing and keeps every call, at every level. */
export class RecordingLogger extends Logger {
  readonly entries: LogEntry[] = [];

  constructor() {
    super({ level: "silent" });
  }

  override debug(event: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: "debug", event, fields });
  }
  override info(event: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: "info", event, fields });
  }
  override warn(event: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: "warn", event, fields });
  }
  override error(event: string, fields: Record<string, unknown> = {}): void {
    this.entries.push({ level: "error", event, fields });
  }

  /** Warnings and errors, one line each. */
  problems(): string[] {
    return this.entries
      .filter((entry) => entry.level === "warn" || entry.level === "error")
      .map((entry) => `${entry.level} ${entry.event} ${JSON.stringify(entry.fields)}`);
  }
}
