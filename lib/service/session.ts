/**
 * One client's session: its connection, protocol level and (after LOGIN) the user it is bound to.
 * Identity comes from here, never from a frame.
 */
import { line, type ProtocolVersion } from "../protocol/encode.ts";
import type { SessionConnection } from "./session_connection.ts";
import type { TokenBucket } from "./token_bucket.ts";

/** A durable frame that was queued for a user but never reached the socket: stored offline on close. */
export interface UndeliveredFrame {
  userId: number;
  frame: string;
}

/** The user a session is bound to. */
export interface SessionUser {
  id: number;
  name: string;
}

/** A live frame that arrived while the login was still sending offline messages. */
interface HeldFrame {
  frame: string;
  durable: boolean;
}

/**
 * @example
 * ```ts
 * import type { SessionConnection } from "./session_connection.ts";
 *
 * declare const connection: SessionConnection;
 * const session = new Session(connection);
 * session.reply('{"msgid":14,"ts":1}');
 * ```
 */
export class Session {
  readonly connection: SessionConnection;
  version: ProtocolVersion = 1;
  /** Set from the moment the login claimed the user until logout or disconnect. */
  user: SessionUser | undefined;
  /** Failed LOGIN attempts on this connection. */
  failedLogins = 0;
  /** Set by the service when the connection is opened (rate limit); none means unlimited. */
  bucket: TokenBucket | undefined;
  /** While the login hands over offline messages, live frames wait here so order is kept. */
  #held: HeldFrame[] | null = null;

  readonly #onSend: (frame: string) => void;

  /** `onSend` sees every frame written to this session (metrics). */
  constructor(connection: SessionConnection, onSend: (frame: string) => void = () => {}) {
    this.connection = connection;
    this.#onSend = onSend;
  }

  /** Sends a reply frame (not a delivery: nothing to store if it cannot be written). */
  reply(frame: string): void {
    if (this.connection.send(line(frame))) this.#onSend(frame);
  }

  /** Binds the session to `user` and starts holding live frames until {@linkcode Session.release}. */
  bind(user: SessionUser): void {
    this.user = user;
    this.#held = [];
  }

  /** Writes the frames held during login, then delivers live. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const { frame, durable } of held) this.deliver(frame, durable);
  }

  /** Unbinds the user; returns the durable frames that were held and not written. */
  unbind(): UndeliveredFrame[] {
    const user = this.user;
    const held = this.#held ?? [];
    this.user = undefined;
    this.#held = null;
    if (!user) return [];
    return held.filter((entry) => entry.durable).map(({ frame }) => ({ userId: user.id, frame }));
  }

  /**
   * Delivers a frame to this session's user. Returns `false` when it could not be accepted (no user,
   * or the connection is closed): the caller then stores a durable frame offline. A frame accepted
   * but not written before the connection closes comes back through the connection's `onClose`.
   * Non-durable frames (presence) go to v2 connections only. `encoded` is `line(frame)` as UTF-8, when the
   * caller encoded it once for many recipients (group fan-out).
   */
  deliver(frame: string, durable: boolean, encoded?: Uint8Array): boolean {
    const user = this.user;
    if (!user) return false;
    if (!durable && this.version !== 2) return true;
    if (this.#held) {
      this.#held.push({ frame, durable });
      return true;
    }
    const data = encoded ?? line(frame);
    if (!this.connection.send(data, durable ? { userId: user.id, frame } : undefined)) return false;
    this.#onSend(frame);
    return true;
  }
}
