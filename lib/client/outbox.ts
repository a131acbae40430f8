/**
 * Chat messages sent and not yet acknowledged (PROTOCOL.md "Idempotent send"). Each carries a `cmid`, the
 * client's message id: unique per client (a random prefix and a counter), so the server stores a message
 * once however often it is sent. That makes it safe to send again what has no answer yet: after errno 11
 * (server busy), and after a reconnect when the connection dropped before the ACK came.
 */
import { Buffer } from "node:buffer";

/** A ONE_CHAT or GROUP_CHAT waiting for its ACK. */
export interface PendingSend {
  cmid: string;
  /** The frame without `v` and `cid` (the connection adds those for each send). */
  frame: Record<string, unknown> & { cmid: string };
  /** The command (`chat`, `groupchat`), for messages. */
  action: string;
  /** Whom it went to, as the confirmation names them (`bob (2)`, `group devs #5`). */
  recipient: string;
}

/**
 * The unacknowledged sends of one login, oldest first.
 *
 * @example
 * ```ts
 * const outbox = new Outbox();
 * const cmid = outbox.nextCmid(); // e.g. "q3Jv0dXKk9Y-1"
 * outbox.add({ cmid, frame: { msgid: 6, toid: 2, msg: "hi", cmid }, action: "chat", recipient: "user 2" });
 * outbox.delete(cmid);
 * ```
 */
export class Outbox {
  /** 64 random bits: two clients (or two runs of one) never share a prefix in practice. */
  readonly #prefix = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("base64url");
  #counter = 0;
  readonly #pending = new Map<string, PendingSend>();

  /** A fresh `cmid`: 1–64 printable ASCII characters, as the protocol requires. */
  nextCmid(): string {
    return `${this.#prefix}-${++this.#counter}`;
  }

  add(send: PendingSend): void {
    this.#pending.set(send.cmid, send);
  }

  delete(cmid: string): void {
    this.#pending.delete(cmid);
  }

  has(cmid: string): boolean {
    return this.#pending.has(cmid);
  }

  /** What still waits for an ACK, in the order it was sent. */
  pending(): PendingSend[] {
    return [...this.#pending.values()];
  }

  get size(): number {
    return this.#pending.size;
  }

  /** Drops everything (the user logged out, or another user logged in). */
  clear(): void {
    this.#pending.clear();
  }
}
