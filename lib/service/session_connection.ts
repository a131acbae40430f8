/**
 * What the service needs from a client connection. `net`'s `Connection` has all of it; tests hand the
 * service a fake instead (no socket needed to exercise sessions, delivery or the dispatcher).
 */
import type { Outbound } from "../net/outbound.ts";
import type { UndeliveredFrame } from "./session.ts";

/**
 * One client's connection as a session sees it.
 *
 * @example
 * ```ts
 * import type { UndeliveredFrame } from "./session.ts";
 *
 * class SilentConnection implements SessionConnection {
 *   readonly id = 1;
 *   readonly remote = "127.0.0.1:50000";
 *   context: unknown = undefined;
 *   readonly lastReadAt = performance.now();
 *   isClosed = false;
 *   send(_data: string | Uint8Array, _tag?: UndeliveredFrame): boolean {
 *     return !this.isClosed;
 *   }
 *   flushed(): Promise<boolean> {
 *     return Promise.resolve(!this.isClosed);
 *   }
 *   close(): void {
 *     this.isClosed = true;
 *   }
 *   closeAfterFlush(): void {
 *     this.isClosed = true;
 *   }
 * }
 * ```
 */
export interface SessionConnection {
  /** Process-unique id, for logs. */
  readonly id: number;
  /** `host:port` of the peer, for logs. */
  readonly remote: string;
  /** The service keeps the connection's session here. */
  context: unknown;
  /** When bytes last arrived (`performance.now()`), for idle timeouts. */
  readonly lastReadAt: number;
  readonly isClosed: boolean;
  /**
   * Queues one frame including its `\n`. A tagged item that never reaches the socket comes back through
   * the handler's `onClose`. `false` only when the connection is closed and has reported its unsent items.
   */
  send(data: Outbound, tag?: UndeliveredFrame): boolean;
  /** Resolves `true` once everything sent so far reached the socket, `false` if the connection closed first. */
  flushed(): Promise<boolean>;
  /** Closes now; queued items come back as unsent. Idempotent. */
  close(): void;
  /** Stops reading and closes once what is queued has been written (after a final error frame). */
  closeAfterFlush(): void;
}
