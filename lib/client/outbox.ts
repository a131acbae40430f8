/**
 * Sends chat messages and keeps those not yet acknowledged (PROTOCOL.md "Idempotent send"). Each carries a
 * `cmid`, the client's message id: unique per client (a random prefix and a counter), so the server stores
 * a message once however often it is sent. That makes it safe to send again what has no answer yet: after
 * errno 11 (server busy), and after a reconnect when the connection dropped before the ACK came.
 */
import { Buffer } from "node:buffer";
import { setTimeout as delay } from "node:timers/promises";
import { Errno } from "../protocol/errno.ts";
import type { Frame } from "./connection.ts";
import { readPlace } from "./model.ts";
import type { Renderer } from "./render.ts";

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

/** Options for {@linkcode Outbox}. */
export interface OutboxOptions {
  /**
   * Sends a request and resolves its reply whatever the errno; `undefined` when there was none (lost
   * connection, timeout), after the failure was reported.
   */
  exchange(action: string, frame: Record<string, unknown>): Promise<Frame | undefined>;
  /** Whether the connection is still open (a retry after a pause needs one). */
  connected(): boolean;
  /** An accepted message's place in its conversation, from its ACK. */
  placed(conv: string, seq: number): void;
  /** Shows a confirmation or a refusal. */
  result(text: string): void;
  error(text: string): void;
  render: Renderer;
  /** Pauses before each resend after errno 11; when they are used up, errno 11 is reported. */
  busyRetryMs: readonly number[];
}

/**
 * The chat messages of one login, and their sending.
 *
 * @example
 * ```ts
 * import { Renderer } from "./render.ts";
 *
 * const outbox = new Outbox({
 *   exchange: () => Promise.resolve(undefined),
 *   connected: () => true,
 *   placed: () => {},
 *   result: console.log,
 *   error: console.error,
 *   render: new Renderer({ color: false }),
 *   busyRetryMs: [250, 500, 1000],
 * });
 * await outbox.send("chat", { msgid: 6, toid: 2, msg: "hi" }, "user 2");
 * outbox.size; // 1: no answer (yet), sent again by resend() after the next login
 * ```
 */
export class Outbox {
  /** 64 random bits: two clients (or two runs of one) never share a prefix in practice. */
  readonly #prefix = Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString("base64url");
  readonly #options: OutboxOptions;
  readonly #pending = new Map<string, PendingSend>();
  #counter = 0;

  constructor(options: OutboxOptions) {
    this.#options = options;
  }

  /** Messages still waiting for an answer. */
  get size(): number {
    return this.#pending.size;
  }

  /** Sends a chat message with a fresh `cmid`; it stays here until the server answers. */
  async send(action: string, frame: Record<string, unknown>, recipient: string): Promise<boolean> {
    // 1–64 printable ASCII characters, as the protocol requires.
    const cmid = `${this.#prefix}-${++this.#counter}`;
    const send: PendingSend = { cmid, frame: { ...frame, cmid }, action, recipient };
    this.#pending.set(cmid, send);
    return await this.#deliver(send, "");
  }

  /** After a login: sends again, in order, what had no answer before the connection dropped. */
  async resend(): Promise<void> {
    const pending = [...this.#pending.values()];
    if (pending.length === 0) return;
    this.#options.result(
      `sending again ${pending.length} message(s) that had no answer before the reconnect`,
    );
    for (const send of pending) {
      if (!this.#options.connected() || !this.#pending.has(send.cmid)) continue;
      await this.#deliver(send, " (sent again)");
    }
  }

  /** Drops everything (the user logged out, or another user logged in). */
  clear(): void {
    this.#pending.clear();
  }

  /**
   * Sends `send` until it has an answer: errno 11 is retried after a pause (the `cmid` makes a repeat
   * harmless). A lost connection or a timeout leaves the outcome unknown, so the message stays.
   */
  async #deliver(send: PendingSend, note: string): Promise<boolean> {
    const { render, busyRetryMs } = this.#options;
    for (let attempt = 0;; attempt++) {
      const reply = await this.#options.exchange(send.action, send.frame);
      if (!reply) return false;
      if (reply.errno === Errno.BUSY && attempt < busyRetryMs.length) {
        await delay(busyRetryMs[attempt]);
        if (!this.#options.connected()) return false;
        continue;
      }
      this.#pending.delete(send.cmid);
      if (reply.errno !== Errno.OK) {
        this.#options.error(render.serverError(send.action, reply.errno, reply.errmsg));
        return false;
      }
      const place = readPlace(reply);
      if (place) this.#options.placed(place.conv, place.seq);
      const dup = reply.dup === true ? "; the server had it already, so it is not stored twice" : "";
      this.#options.result(render.ok(`sent to ${send.recipient}${note}${dup}`));
      return true;
    }
  }
}
