/**
 * One client's session: its connection, protocol level and (after LOGIN) the user and device it is bound
 * to. Identity comes from here, never from a frame. The session also knows, per conversation, how far its
 * device was handed messages ({@linkcode DeviceCursors}): that is what moves the device's delivery cursor,
 * and what keeps a frame that the login already sent from the store from being written twice.
 */
import { frameConvSeq, frameMsgid, line, type ProtocolVersion } from "../protocol/encode.ts";
import { MsgId } from "../protocol/msg_id.ts";
import { DeviceCursors } from "./device_cursor.ts";
import type { SessionConnection } from "./session_connection.ts";
import type { TokenBucket } from "./token_bucket.ts";

/** A chat frame queued for a device, as the connection hands it back when it never reached the socket. */
export interface UndeliveredFrame {
  userId: number;
  frame: string;
}

/** The user a session is bound to. */
export interface SessionUser {
  id: number;
  name: string;
}

/** The device of a LOGIN without `device` (v1 and plain v2: one session per user, as before). */
export const DEFAULT_DEVICE = "default";

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
  /** Set from the moment the login claimed the device until logout or disconnect. */
  user: SessionUser | undefined;
  /** The device of the login ({@linkcode DEFAULT_DEVICE} when the LOGIN named none). */
  device = DEFAULT_DEVICE;
  /** The resume token the login presented or was given (v2), revoked by LOGINOUT. */
  token: string | undefined;
  /** Whether the login took a share of the user's bus subscription on this node (ending it gives it back). */
  subscribed = false;
  /** Failed LOGIN attempts on this connection. */
  failedLogins = 0;
  /** Set by the service when the connection is opened (rate limit); none means unlimited. */
  bucket: TokenBucket | undefined;
  /** While the login hands over offline messages, live frames wait here so order is kept. */
  #held: string[] | null = null;
  /** Made on first use: an idle session that was never handed a chat frame costs none (memory per connection). */
  #cursors: DeviceCursors | undefined;
  /** Called when a conversation's cursor is stuck below a hole (set by the login: the gap filler). */
  onHole: ((session: Session, conv: string) => void) | undefined;
  /**
   * Called when this device was handed a message, so a cursor may have moved (set by the login: the cursor
   * saver, which then looks at this session until it has nothing more to save; an idle session is not visited).
   */
  onMoved: ((session: Session) => void) | undefined;

  readonly #onSend: (frame: string) => void;

  /**
   * `onSend` sees every frame written to this session (metrics). Pass one function for all sessions, not a
   * closure per session: each would stay with its connection for as long as it is open.
   */
  constructor(connection: SessionConnection, onSend: (frame: string) => void = ignoreFrame) {
    this.connection = connection;
    this.#onSend = onSend;
  }

  /** Per conversation, how far this device was handed messages. */
  get cursors(): DeviceCursors {
    return this.#cursors ??= new DeviceCursors();
  }

  /** Sends a reply frame (not a delivery: nothing to track if it cannot be written). */
  reply(frame: string): void {
    if (this.connection.send(line(frame))) this.#onSend(frame);
  }

  /** Binds the session to `user`'s `device` and starts holding live frames until {@linkcode Session.release}. */
  bind(user: SessionUser, device: string): void {
    this.user = user;
    this.device = device;
    this.#held = [];
  }

  /** Whether live frames are still held (the login has not finished its offline hand-over). */
  get holding(): boolean {
    return this.#held !== null;
  }

  /**
   * Writes an offline frame during the login's hand-over (not held, not filtered: the login chose it and
   * moves the cursors itself, with {@linkcode DeviceCursors.start}, once the hand-over is complete).
   */
  sendOffline(frame: string): void {
    this.reply(frame);
  }

  /** Writes the frames held during the login (those the offline hand-over did not already send), then delivers live. */
  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const frame of held) this.deliver(frame);
  }

  /** Unbinds the user; live frames still held are dropped (they are past the device's saved cursor). */
  unbind(): void {
    this.user = undefined;
    this.token = undefined;
    this.onHole = undefined;
    this.onMoved = undefined;
    this.#held = null;
  }

  /**
   * Delivers a live frame to this session's device. A chat frame that this device was already handed
   * (the login sent it from the store, or it came twice) is dropped. A v1 session gets chat frames only
   * (msgid 6 and 10), as the original did. `encoded` is `line(frame)` as UTF-8, when the caller encoded it
   * once for many recipients (group fan-out). `false` when nothing was written (no user, dropped, or the
   * connection is closed).
   */
  deliver(frame: string, encoded?: Uint8Array): boolean {
    const user = this.user;
    if (!user) return false;
    if (this.#held) {
      this.#held.push(frame);
      return true;
    }
    const position = frameConvSeq(frame);
    if (!position) {
      if (this.version !== 2 && !isChat(frame)) return false;
      return this.#write(frame, encoded, undefined);
    }
    if (this.cursors.has(position.conv, position.seq)) return false;
    if (!this.#write(frame, encoded, { userId: user.id, frame })) return false;
    this.#take(position.conv, position.seq);
    return true;
  }

  /**
   * Notes a message this device sent itself: not for it, so its seq counts as handed (the cursor moves
   * over it). `frame` is the stored chat frame; any other frame is ignored.
   */
  noteOwn(frame: string): void {
    if (!this.user) return;
    const position = frameConvSeq(frame);
    if (position) this.#take(position.conv, position.seq);
  }

  /**
   * Fills a hole with a message read from the store: written when it is from someone else and not handed
   * yet, counted as handed either way. Not while the login still holds frames.
   */
  fill(message: { conv: string; seq: number; senderId: number; frame: string }): void {
    const user = this.user;
    if (!user || this.#held || this.cursors.has(message.conv, message.seq)) return;
    if (message.senderId !== user.id) {
      if (this.version !== 2 && !isChat(message.frame)) return;
      if (!this.#write(message.frame, undefined, { userId: user.id, frame: message.frame })) return;
    }
    if (this.cursors.take(message.conv, message.seq)) this.onMoved?.(this);
  }

  /** Moves the cursor of `conv` to `seq` over a hole the store has nothing for ({@linkcode DeviceCursors.skipTo}). */
  skipTo(conv: string, seq: number): void {
    this.cursors.skipTo(conv, seq);
    this.onMoved?.(this);
  }

  /**
   * The cursors that moved since the last call, or `undefined` when none did. The cursor saver saves them
   * once the connection flushed what this session wrote.
   */
  takeHanded(): Map<string, number> | undefined {
    return this.#cursors?.takeMoved();
  }

  /** The cursors, per conversation. */
  handed(): ReadonlyMap<string, number> {
    return this.cursors.cursors();
  }

  #write(frame: string, encoded: Uint8Array | undefined, tag: UndeliveredFrame | undefined): boolean {
    if (!this.connection.send(encoded ?? line(frame), tag)) return false;
    this.#onSend(frame);
    return true;
  }

  #take(conv: string, seq: number): void {
    if (!this.cursors.take(conv, seq)) return;
    this.onMoved?.(this);
    if (this.cursors.hole(conv)) this.onHole?.(this, conv);
  }
}

function ignoreFrame(_frame: string): void {}

function isChat(frame: string): boolean {
  const msgid = frameMsgid(frame);
  return msgid === MsgId.ONE_CHAT || msgid === MsgId.GROUP_CHAT;
}
