/**
 * One simulated user of the soak: a v2 connection that comes and goes (LOGIN, LOGINOUT, disconnect, LOGIN
 * again on a new connection) and reports every chat message it reads to the {@linkcode SoakLedger}.
 *
 * Every frame is parsed: the soak needs each message's text, and its rate is far below what that costs.
 * Replies are matched to requests by the echoed cid (LOGIN_ACK, ACK and ERROR all echo it).
 *
 * @module
 */

import { Errno } from "../../lib/protocol/errno.ts";
import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { Endpoint } from "./args.ts";
import { LoadClient, type Reply } from "./load_client.ts";
import type { SoakLedger } from "./soak_ledger.ts";
import type { BenchUser } from "./users.ts";

const decoder = new TextDecoder();
const REQUEST_TIMEOUT_MS = 30_000;

/** Counters shared by every {@linkcode SoakUser}. */
export class SoakCounters {
  errors = 0;
  lastError: string | undefined;
  logins = 0;
  /** LOGINs refused with errno 2 because the previous session was still being ended; retried. */
  loginRetries = 0;
  logouts = 0;
  disconnects = 0;
  presence = 0;
  /** Chat ACKs per node id (from the server's `mid`): where the senders were logged in. */
  readonly acksByNode = new Map<string, number>();

  error(message: string): void {
    this.errors++;
    this.lastError = message;
  }
}

interface Pending {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/**
 * @example
 * ```ts ignore
 * const user = new SoakUser(benchUser, ledger, counters);
 * await user.login(endpoint);
 * const ack = await user.request({ msgid: 6, toid: 2, msg: "hi" });
 * await user.logout();
 * ```
 */
export class SoakUser {
  readonly user: BenchUser;
  /** Groups this user belongs to. */
  readonly groups: number[] = [];
  #client: LoadClient | undefined;
  #cid = 0;
  #pending = new Map<number, Pending>();
  /** Set while we end the connection ourselves, so that its close is not counted as an error. */
  #leaving = false;
  readonly #ledger: SoakLedger;
  readonly #counters: SoakCounters;

  constructor(user: BenchUser, ledger: SoakLedger, counters: SoakCounters) {
    this.user = user;
    this.#ledger = ledger;
    this.#counters = counters;
  }

  get online(): boolean {
    return this.#client !== undefined && !this.#client.isClosed;
  }

  /** Connects and logs in; a refusal because the previous session is still ending is retried. */
  async login(endpoint: Endpoint): Promise<void> {
    for (let attempt = 1;; attempt++) {
      const client = await LoadClient.connect(endpoint, { bufferBytes: 4096 });
      this.#attach(client);
      const ack = await this.request({ msgid: 1, id: this.user.id, password: this.user.password });
      if (ack.errno === 0) {
        this.#counters.logins++;
        return;
      }
      await this.#end(() => client.close());
      if (ack.errno !== Errno.ALREADY_LOGGED_IN || attempt === 100) {
        throw new Error(`LOGIN ${this.user.id} failed: ${JSON.stringify(ack)}`);
      }
      this.#counters.loginRetries++;
      // A loop, not eventually(): any other refusal must fail at once, and the retries are counted (a
      // figure of the soak report), so each attempt is the measurement's own.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** LOGINOUT, then close: every frame the server queued before its ACK has been read by then. */
  async logout(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    const ack = await this.request({ msgid: 3 });
    if (ack.errno !== 0) this.#counters.error(`LOGINOUT ${this.user.id}: ${JSON.stringify(ack)}`);
    this.#counters.logouts++;
    await this.#end(() => client.close());
  }

  /**
   * Leaves without LOGINOUT: half-closes and reads until the server closes. (A plain close with frames
   * still unread would lose them in our own socket, which no server can prevent: that is not a soak
   * finding.)
   */
  async disconnect(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#counters.disconnects++;
    await this.#end(() => client.closeWrite());
  }

  /** Sends a request (v2, with a cid) and resolves with the reply echoing its cid. */
  request(frame: Record<string, unknown>): Promise<Reply> {
    const client = this.#client;
    if (!client || client.isClosed) return Promise.reject(new Error("not connected"));
    const cid = ++this.#cid;
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    this.#pending.set(cid, { resolve, reject });
    const timer = setTimeout(() => {
      this.#pending.delete(cid);
      reject(new Error(`no reply to msgid ${frame.msgid} within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    client.send(client.encode(frame, cid));
    return promise.finally(() => clearTimeout(timer));
  }

  /** Closes at once (end of the run, or after an error). */
  close(): void {
    this.#leaving = true;
    this.#client?.close();
  }

  async #end(how: () => void): Promise<void> {
    const client = this.#client!;
    this.#leaving = true;
    how();
    await client.closed;
    this.#client = undefined;
  }

  #attach(client: LoadClient): void {
    this.#client = client;
    this.#leaving = false;
    client.onRawFrame = (bytes, start, end) => this.#onFrame(decoder.decode(bytes.subarray(start, end)));
    client.onClose = () => {
      if (!this.#leaving) this.#counters.error(`user ${this.user.id}: connection closed by the server`);
      for (const pending of this.#pending.values()) pending.reject(new Error("connection closed"));
      this.#pending.clear();
    };
  }

  #onFrame(text: string): void {
    let frame: Reply;
    try {
      frame = JSON.parse(text);
    } catch {
      this.#counters.error(`user ${this.user.id}: unparsable frame ${text.slice(0, 80)}`);
      return;
    }
    switch (frame.msgid) {
      case MsgId.ONE_CHAT:
      case MsgId.GROUP_CHAT:
        this.#ledger.received(this.user.id, String(frame.msg), false);
        return;
      case MsgId.PRESENCE:
        this.#counters.presence++;
        return;
      case MsgId.LOGIN_ACK:
        for (const message of (frame.offlinemsg ?? []) as { msg: string }[]) {
          this.#ledger.received(this.user.id, message.msg, true);
        }
    }
    const pending = typeof frame.cid === "number" ? this.#pending.get(frame.cid) : undefined;
    if (pending) {
      this.#pending.delete(frame.cid as number);
      pending.resolve(frame);
    } else {
      this.#counters.error(`user ${this.user.id}: unexpected frame ${text.slice(0, 120)}`);
    }
  }
}
