/**
 * One device of a soak user: a v2 connection that comes and goes (LOGIN, LOGINOUT, a half-close, a dropped
 * connection, a connection the server ends) and reports every chat message of others it reads to the
 * {@linkcode SoakLedger}. It behaves as the contract expects of a client: it reconnects with its resume
 * token (a password login only after LOGINOUT revoked it), drops a frame whose `seq` it already has, asks
 * SYNC for what it may have missed after a connection it did not end cleanly, and resends an unacknowledged
 * message with the same `cmid`.
 *
 * Every frame is parsed: the soak needs each message's text, and its rate is far below what that costs.
 * Replies are matched to requests by the echoed cid.
 *
 * @module
 */

import { Errno } from "../../lib/protocol/errno.ts";
import { MsgId } from "../../lib/protocol/msg_id.ts";
import type { Endpoint } from "./args.ts";
import { LoadClient, type Reply } from "./load_client.ts";
import { SeqTracker } from "./seq_tracker.ts";
import type { ReceiptPath, SoakLedger } from "./soak_ledger.ts";

const decoder = new TextDecoder();
const REQUEST_TIMEOUT_MS = 30_000;
/**
 * How long a login keeps retrying "already logged in" (a dead node's lease) or "busy" (a store restart), and
 * SYNC or LOGINOUT retry "busy".
 */
const LOGIN_PATIENCE_MS = 60_000;
/** Messages per SYNC page when filling gaps (the server's default page limit). */
const SYNC_PAGE = 1000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A request of a device whose connection ended before the reply (or that had none). */
export class ConnectionClosedError extends Error {
  constructor() {
    super("connection closed");
    this.name = "ConnectionClosedError";
  }
}

/** Counters shared by every {@linkcode SoakDevice}. */
export class SoakCounters {
  errors = 0;
  lastError: string | undefined;
  logins = 0;
  passwordLogins = 0;
  tokenLogins = 0;
  /** Token logins the server refused (never expected: the device then logs in with the password). */
  tokenRefused = 0;
  /** LOGINs refused with errno 2 (the previous session of the device not yet ended) or 11; retried. */
  loginRetries = 0;
  logouts = 0;
  disconnects = 0;
  /** Connections the device dropped with a send in flight. */
  drops = 0;
  /** Connections the server ended (a killed node). */
  serverCloses = 0;
  /** Sends repeated with the same cmid (after a drop, a closed connection or errno 11). */
  resends = 0;
  /** Answers with errno 11 (store unavailable) to a chat, SYNC or LOGINOUT: the request is repeated. */
  busy = 0;
  /** SYNC walks over the device's conversations. */
  syncFills = 0;
  presence = 0;
  /** Live copies of what the user's other devices sent. */
  copies = 0;
  /** Frames of other kinds (receipts, group events …), ignored. */
  otherFrames = 0;
  /** Chat ACKs per node id (from the server's `mid`): where the senders were logged in. */
  readonly acksByNode = new Map<string, number>();

  error(message: string): void {
    this.errors++;
    this.lastError = message;
  }
}

/** A user of the soak, shared by its devices. */
export interface SoakAccount {
  /** Who logs in (a `users.ts` BenchUser). */
  user: { id: number; password: string };
  /** Groups this user belongs to. */
  groups: number[];
}

/** A chat message not yet acknowledged: sent again, with the same cmid, until it is. */
export interface PendingSend {
  key: string;
  /** The conversation it belongs to (what its ACK must name). */
  conv: string;
  frame: Record<string, unknown>;
  recipients: number[];
}

interface Waiter {
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/**
 * @example
 * ```ts ignore
 * const device = new SoakDevice(account, 0, "d0", { ledger, counters, serverMayClose: false });
 * await device.login(endpoint);
 * const ack = await device.request({ msgid: 6, toid: 2, msg: "hi", cmid: "k1" });
 * await device.logout();
 * ```
 */
export class SoakDevice {
  readonly account: SoakAccount;
  /** Index among the user's devices (part of message keys). */
  readonly index: number;
  /** The LOGIN `device`, or undefined for the plain one-session login (device "default"). */
  readonly device: string | undefined;
  /** What the client knows of each conversation, by seq. */
  readonly seen = new SeqTracker();
  /** The message to resend before any new one. */
  pendingSend: PendingSend | undefined;
  #client: LoadClient | undefined;
  #cid = 0;
  #waiters = new Map<number, Waiter>();
  /** Set while we end the connection ourselves, so that its close is not counted as the server's. */
  #leaving = false;
  #token: string | undefined;
  /** The last connection did not end cleanly: frames written to it may be lost, so ask SYNC. */
  #needsSync = false;
  readonly #ledger: SoakLedger;
  readonly #counters: SoakCounters;
  readonly #serverMayClose: boolean;

  constructor(
    account: SoakAccount,
    index: number,
    device: string | undefined,
    shared: { ledger: SoakLedger; counters: SoakCounters; serverMayClose: boolean },
  ) {
    this.account = account;
    this.index = index;
    this.device = device;
    this.#ledger = shared.ledger;
    this.#counters = shared.counters;
    this.#serverMayClose = shared.serverMayClose;
  }

  get userId(): number {
    return this.account.user.id;
  }

  /** The device name the ledger knows it by. */
  get label(): string {
    return this.device ?? "default";
  }

  get online(): boolean {
    return this.#client !== undefined && !this.#client.isClosed;
  }

  /**
   * Connects and logs in, with the token when the device has one. Retries for a while when the device is
   * still held by its previous session (errno 2), the server is busy (errno 11), or the connection fails (a
   * node restarting). After an unclean end it then fills gaps with SYNC.
   */
  async login(endpoint: Endpoint): Promise<void> {
    const started = performance.now();
    const patient = () => performance.now() - started < LOGIN_PATIENCE_MS;
    while (true) {
      const token = this.#token;
      let ack: Reply;
      try {
        const client = await LoadClient.connect(endpoint, { bufferBytes: 4096 });
        this.#attach(client);
        ack = await this.request({
          msgid: MsgId.LOGIN,
          id: this.userId,
          ...(token === undefined ? { password: this.account.user.password } : { token }),
          ...(this.device === undefined ? {} : { device: this.device }),
        });
      } catch (error) {
        this.close();
        if (!patient()) throw error;
        this.#counters.loginRetries++;
        await sleep(200);
        continue;
      }
      if (ack.errno === Errno.OK) {
        this.#counters.logins++;
        if (token === undefined) this.#counters.passwordLogins++;
        else this.#counters.tokenLogins++;
        this.#token = typeof ack.token === "string" ? ack.token : undefined;
        // Its offlinemsg was reported as it was read (#onFrame).
        break;
      }
      await this.#end((client) => client.close());
      if (token !== undefined && ack.errno === Errno.REJECTED) {
        this.#counters.tokenRefused++;
        this.#counters.error(`token LOGIN ${this.userId}/${this.label} refused: ${JSON.stringify(ack)}`);
        this.#token = undefined;
        continue;
      }
      const retriable = ack.errno === Errno.ALREADY_LOGGED_IN || ack.errno === Errno.BUSY;
      if (!retriable || !patient()) throw new Error(`LOGIN ${this.userId} failed: ${JSON.stringify(ack)}`);
      this.#counters.loginRetries++;
      await sleep(50);
    }
    if (this.#needsSync) {
      await this.syncFill("sync");
      this.#needsSync = false;
    }
  }

  /** LOGINOUT (which revokes the token), then close: every frame queued before its ACK has been read. */
  async logout(): Promise<void> {
    if (!this.#client) return;
    const ack = await this.#patiently({ msgid: MsgId.LOGINOUT });
    if (ack.errno !== Errno.OK) this.#counters.error(`LOGINOUT ${this.userId}: ${JSON.stringify(ack)}`);
    this.#token = undefined;
    this.#counters.logouts++;
    await this.#end((client) => client.close());
  }

  /**
   * Leaves without LOGINOUT: half-closes and reads until the server closes. (A plain close with frames
   * still unread would lose them in our own socket, which no server can prevent: see {@linkcode drop}.)
   */
  async disconnect(): Promise<void> {
    if (!this.#client) return;
    this.#counters.disconnects++;
    await this.#end((client) => client.closeWrite());
  }

  /**
   * Sends `frame` and drops the connection a moment later, without waiting for its ACK: the send is left
   * pending (to be resent with the same cmid), and frames the server wrote may be lost in our socket, so
   * the next login asks SYNC.
   */
  async drop(frame: Record<string, unknown>, afterMs: number): Promise<void> {
    if (!this.#client) return;
    this.request(frame).catch(() => {});
    await sleep(afterMs);
    this.#counters.drops++;
    this.#needsSync = true;
    await this.#end((client) => client.close());
  }

  /** Sends a request (v2, with a cid) and resolves with the reply echoing its cid. */
  request(frame: Record<string, unknown>): Promise<Reply> {
    const client = this.#client;
    if (!client || client.isClosed) return Promise.reject(new ConnectionClosedError());
    const cid = ++this.#cid;
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    this.#waiters.set(cid, { resolve, reject });
    const timer = setTimeout(() => {
      this.#waiters.delete(cid);
      reject(new Error(`no reply to msgid ${frame.msgid} within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    client.send(client.encode(frame, cid));
    return promise.finally(() => clearTimeout(timer));
  }

  /**
   * Walks every conversation of the user with SYNC from the prefix this device holds whole, reporting
   * the messages of others it had not seen by `path` ("sync" after a drop, "final-sync" at the end).
   */
  async syncFill(path: ReceiptPath): Promise<void> {
    this.#counters.syncFills++;
    const list = await this.#patiently({ msgid: MsgId.SYNC });
    if (list.errno !== Errno.OK || !Array.isArray(list.convs)) {
      throw new Error(`SYNC of ${this.userId}/${this.label} failed: ${JSON.stringify(list)}`);
    }
    for (const { conv, lastseq } of list.convs as { conv: string; lastseq: number }[]) {
      let after = this.seen.low(conv);
      while (after < lastseq) {
        const page = await this.#patiently({ msgid: MsgId.SYNC, conv, after, limit: SYNC_PAGE });
        const messages = page.messages as unknown[] | undefined;
        if (page.errno !== Errno.OK || !Array.isArray(messages)) {
          throw new Error(`SYNC ${conv} after ${after} failed: ${JSON.stringify(page).slice(0, 300)}`);
        }
        for (const message of messages) {
          const frame = (typeof message === "string" ? JSON.parse(message) : message) as Record<
            string,
            unknown
          >;
          this.#chat(frame, path);
          if (typeof frame.seq === "number") after = Math.max(after, frame.seq);
        }
        if (page.more !== true || messages.length === 0) break;
      }
    }
  }

  /**
   * A request repeated while the server answers errno 11 (its store restarting), for up to
   * `LOGIN_PATIENCE_MS`; the last answer otherwise.
   */
  async #patiently(frame: Record<string, unknown>): Promise<Reply> {
    const started = performance.now();
    while (true) {
      const reply = await this.request(frame);
      if (reply.errno !== Errno.BUSY || performance.now() - started > LOGIN_PATIENCE_MS) return reply;
      this.#counters.busy++;
      await sleep(200);
    }
  }

  /** Closes at once (end of the run, or after an error). */
  close(): void {
    this.#leaving = true;
    this.#client?.close();
  }

  async #end(how: (client: LoadClient) => void): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#leaving = true;
    how(client);
    await client.closed;
    this.#client = undefined;
  }

  #attach(client: LoadClient): void {
    this.#client = client;
    this.#leaving = false;
    client.onRawFrame = (bytes, start, end) => this.#onFrame(decoder.decode(bytes.subarray(start, end)));
    client.onClose = () => {
      if (!this.#leaving) {
        this.#counters.serverCloses++;
        this.#needsSync = true;
        if (!this.#serverMayClose) {
          this.#counters.error(`${this.userId}/${this.label}: connection closed by the server`);
        }
      }
      for (const waiter of this.#waiters.values()) waiter.reject(new ConnectionClosedError());
      this.#waiters.clear();
    };
  }

  /** A chat frame read live, in offlinemsg or from SYNC. */
  #chat(frame: Record<string, unknown>, path: ReceiptPath): void {
    const conv = typeof frame.conv === "string" ? frame.conv : undefined;
    const seq = typeof frame.seq === "number" ? frame.seq : undefined;
    const isNew = conv === undefined || seq === undefined || this.seen.add(conv, seq);
    if (frame.id === this.userId) {
      // What this user's devices sent: a copy (live), or part of the conversation (SYNC).
      if (path === "live") this.#counters.copies++;
      return;
    }
    // A client drops what SYNC returns that it already has; what comes live or offline is counted (the
    // ledger tells a redelivery it could drop by seq from a duplicate).
    if (!isNew && (path === "sync" || path === "final-sync")) return;
    const mid = typeof frame.mid === "string" ? frame.mid : undefined;
    this.#ledger.received(this.userId, this.label, { msg: String(frame.msg), mid, conv, seq }, path);
  }

  #onFrame(text: string): void {
    let frame: Reply;
    try {
      frame = JSON.parse(text);
    } catch {
      this.#counters.error(`${this.userId}/${this.label}: unparsable frame ${text.slice(0, 80)}`);
      return;
    }
    switch (frame.msgid) {
      case MsgId.ONE_CHAT:
      case MsgId.GROUP_CHAT:
        this.#chat(frame, "live");
        return;
      case MsgId.PRESENCE:
        this.#counters.presence++;
        return;
    }
    const waiter = typeof frame.cid === "number" ? this.#waiters.get(frame.cid) : undefined;
    if (waiter) {
      // LOGIN_ACK's offlinemsg is reported now, not when login() resumes: the frames read after it in the same
      // chunk (later offline pages, live frames) are reported before that, and would look as if they came
      // first (the "late" messages a soak reported before this).
      if (frame.msgid === MsgId.LOGIN_ACK && frame.errno === Errno.OK) {
        for (const message of (frame.offlinemsg ?? []) as Record<string, unknown>[]) {
          this.#chat(message, "offline");
        }
      }
      this.#waiters.delete(frame.cid as number);
      waiter.resolve(frame);
    } else if (frame.msgid === MsgId.ACK || frame.msgid === MsgId.ERROR || frame.msgid === MsgId.LOGIN_ACK) {
      this.#counters.error(`${this.userId}/${this.label}: unanswered reply ${text.slice(0, 120)}`);
    } else {
      this.#counters.otherFrames++;
    }
  }
}
