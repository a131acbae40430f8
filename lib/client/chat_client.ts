/**
 * The client's state and behaviour, shared by the REPL and the script mode: runs commands against the
 * server, keeps a local copy of the user's friends and groups (from LOGIN_ACK, then updated by
 * addfriend, creategroup, addgroup and PRESENCE) and reports incoming messages.
 *
 * With a server that keeps conversations (PROTOCOL.md "v2 extensions") it also shows each conversation's
 * messages in `seq` order and once (`ConversationTracker`), lists unread counts (`ConversationList`),
 * keeps the login token (`LoginTokens`) and sends every chat message with a `cmid`, so that what had no
 * answer is sent again safely after errno 11 or a reconnect (`Outbox`).
 */
import { setTimeout as delay } from "node:timers/promises";
import { directConv, groupConv, parseConv, peerOf } from "../conversation_name.ts";
import { localTime } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { MsgId } from "../protocol/msg_id.ts";
import { type Command, DEFAULT_HISTORY, findCommand, type Target } from "./commands.ts";
import { Connection, type Frame } from "./connection.ts";
import { ConversationList } from "./conversation_list.ts";
import { ConversationTracker } from "./conversation_tracker.ts";
import { ConnectError, ConnectionLostError } from "./errors.ts";
import { LoginTokens } from "./login_tokens.ts";
import {
  type ChatMessage,
  type Friend,
  type Group,
  readChat,
  readConvList,
  readLoginAck,
  readMessagePage,
  readPlace,
  readPresence,
  readReceipt,
  readTyping,
} from "./model.ts";
import { Outbox, type PendingSend } from "./outbox.ts";
import type { Renderer, Unread } from "./render.ts";
import { TokenStore } from "./token_store.ts";

/** Where the client's output goes. */
export interface Output {
  /** The result of a command. */
  result(text: string): void;
  /** A command that failed, locally or at the server. */
  error(text: string): void;
  /** Something that arrived on its own: a message, a presence change, a lost connection. */
  event(text: string): void;
}

/** The commands {@linkcode ChatClient.execute} runs; `help` and `quit` belong to the front end. */
export type ClientCommand = Exclude<Command, { name: "help" | "quit" }>;

/** Options for {@linkcode ChatClient}. */
export interface ChatClientOptions {
  hostname: string;
  port: number;
  output: Output;
  render: Renderer;
  /** How long a command waits for the server's reply (default 10 s). */
  requestTimeoutMs?: number;
  /** PING interval (default 30 s). */
  heartbeatMs?: number;
  /** Sent with LOGIN; `undefined` (the default) is the server's device "default". */
  device?: string;
  /** Where login tokens are kept between runs (default: nowhere, only in memory). */
  tokens?: TokenStore;
  /** Pauses before each resend of a chat message answered with errno 11 (default 250, 500, 1000 ms). */
  busyRetryMs?: readonly number[];
  /**
   * Called when the connection was lost (not when the client closed it), after the local state was
   * cleared, with the message to show (`connection to HOST:PORT lost`).
   */
  onLost: (message: string) => void;
}

/** How a login attempt ended: `refused` is a token the server no longer accepts (errno 1). */
type LoginOutcome = "ok" | "failed" | "refused";

/** A `history` being paged backwards with `more`. */
interface Paging {
  conv: string;
  before: number;
  count: number;
}

const DEFAULT_BUSY_RETRY_MS = [250, 500, 1000];

function refusedToken(id: number): string {
  return `the saved token for user ${id} was refused (expired, revoked or replaced) and is deleted`;
}

/**
 * A chat client session.
 *
 * @example
 * ```ts
 * import { Renderer } from "./render.ts";
 *
 * const output = { result: console.log, error: console.error, event: console.log };
 * await using client = new ChatClient({
 *   hostname: "127.0.0.1",
 *   port: 6000,
 *   output,
 *   render: new Renderer({ color: false }),
 *   onLost: (message) => console.error(message),
 * });
 * if (await client.connect()) await client.execute({ name: "login", id: 1, password: "secret" });
 * ```
 */
export class ChatClient implements AsyncDisposable {
  readonly address: string;
  readonly #options: ChatClientOptions;
  readonly #out: Output;
  readonly #render: Renderer;
  readonly #tokens: LoginTokens;
  readonly #tracker: ConversationTracker;
  readonly #convs = new ConversationList();
  readonly #outbox = new Outbox();
  #connection: Connection | undefined;
  #user: { id: number; name: string } | undefined;
  #friends = new Map<number, Friend>();
  #groups = new Map<number, Group>();
  /** Names of users seen in this login (friends, group members, senders), to show `bob (2)` for an id. */
  #names = new Map<number, string>();
  /**
   * Kept to log in again after `reconnect` (with the token, else the password when there was one);
   * dropped by `loginout`. Conversations and unsent messages belong to this user across reconnects.
   */
  #credentials: { id: number; name: string; password?: string } | undefined;
  #paging: Paging | undefined;
  /**
   * While a login is being completed: the offline messages it brought go to its summary (`offline`, while
   * they are placed), and events are held back to follow the summary.
   */
  #login: { offline?: ChatMessage[]; events: (() => string)[] } | undefined;

  constructor(options: ChatClientOptions) {
    this.#options = options;
    this.#out = options.output;
    this.#render = options.render;
    this.address = `${options.hostname}:${options.port}`;
    this.#tokens = new LoginTokens({
      store: options.tokens ?? new TokenStore({ unavailable: "no state directory was given" }),
      server: this.address,
      device: options.device,
      notice: (text) => this.#event(() => this.#render.notice(text)),
    });
    this.#tracker = new ConversationTracker({
      fetchAfter: async (conv, after) => {
        const reply = await this.#quietRequest({ msgid: MsgId.SYNC, conv, after });
        return reply ? readMessagePage(reply) : undefined;
      },
      show: (message) => this.#show(message),
    });
  }

  /** The logged-in user. */
  get user(): { id: number; name: string } | undefined {
    return this.#user;
  }

  get connected(): boolean {
    return this.#connection?.isOpen ?? false;
  }

  /** Resolves once no conversation gap is being filled (what SYNC brings has been shown). */
  settled(): Promise<void> {
    return this.#tracker.idle();
  }

  /** Opens the connection; reports a failure and resolves `false`. */
  async connect(): Promise<boolean> {
    let connection: Connection;
    try {
      connection = await Connection.open({
        hostname: this.#options.hostname,
        port: this.#options.port,
        requestTimeoutMs: this.#options.requestTimeoutMs,
        heartbeatMs: this.#options.heartbeatMs,
        onFrame: (frame) => this.#onFrame(frame),
        onMalformed: (text) =>
          this.#event(() =>
            this.#render.notice(`ignored a malformed frame from the server: ${text.slice(0, 200)}`)
          ),
      });
    } catch (error) {
      if (!(error instanceof ConnectError)) throw error;
      this.#out.error(this.#render.error(error.message));
      return false;
    }
    this.#connection = connection;
    connection.closed.then((reason) => {
      if (!reason.lost || this.#connection !== connection) return;
      this.#loggedOut();
      this.#options.onLost(new ConnectionLostError(this.address).message);
    });
    return true;
  }

  /** Runs one command; resolves `true` when it succeeded. Every failure has been reported. */
  async execute(command: ClientCommand): Promise<boolean> {
    const scope = findCommand(command.name)!.scope;
    if (scope === "loggedIn" && !this.#user) {
      return this.#fail(`${command.name}: not logged in; log in first with: login <id> <password>`);
    }
    if (scope === "loggedOut" && this.#user) {
      return this.#fail(
        `${command.name}: already logged in as ${this.#who(this.#user.id)}; use loginout first`,
      );
    }
    if (command.name === "reconnect") return await this.#reconnect();
    if (!this.connected) {
      return this.#fail(`${command.name}: not connected to ${this.address}; type reconnect`);
    }
    switch (command.name) {
      case "friends":
        await this.#refreshConversations();
        this.#out.result(this.#render.friends(this.#friends.values(), this.#unread()));
        return true;
      case "groups":
        await this.#refreshConversations();
        this.#out.result(this.#render.groups(this.#groups.values(), this.#unread()));
        return true;
      case "register":
        return await this.#registerUser(command.username, command.password);
      case "login":
        return await this.#loginCommand(command.id, command.password);
      case "chat": {
        const frame = { msgid: MsgId.ONE_CHAT, ...this.#sender(), toid: command.id, msg: command.message };
        return await this.#sendChat("chat", frame, this.#who(command.id));
      }
      case "groupchat": {
        const frame = {
          msgid: MsgId.GROUP_CHAT,
          ...this.#sender(),
          groupid: command.groupid,
          msg: command.message,
        };
        return await this.#sendChat("groupchat", frame, this.#groupLabel(command.groupid));
      }
      case "addfriend":
        return await this.#addFriend(command.id);
      case "creategroup":
        return await this.#createGroup(command.groupname, command.description);
      case "addgroup":
        return await this.#addGroup(command.groupid);
      case "history":
        return await this.#history(command.target, command.count ?? DEFAULT_HISTORY);
      case "more":
        return await this.#more();
      case "read":
        return await this.#read(command.target);
      case "typing":
        return this.#typing(command.target);
      case "loginout": {
        const user = this.#user!;
        const reply = await this.#request("loginout", { msgid: MsgId.LOGINOUT, id: user.id });
        if (!reply) return false;
        // The server revoked this device's token.
        await this.#tokens.forget(user.id);
        this.#loggedOut();
        this.#forgetUser();
        this.#out.result(this.#render.ok("logged out"));
        return true;
      }
    }
  }

  /** Closes the connection (idempotent). */
  close(): void {
    this.#connection?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#connection?.[Symbol.asyncDispose]();
  }

  #fail(text: string): false {
    this.#out.error(this.#render.error(text));
    return false;
  }

  /**
   * An event, held back while a login is being completed so that it follows the login summary; rendered
   * when it is shown, with the names the login taught.
   */
  #event(render: () => string): void {
    if (this.#login) this.#login.events.push(render);
    else this.#out.event(render());
  }

  #who(id: number): string {
    return this.#render.who(id, this.#names.get(id) ?? "");
  }

  #groupLabel(groupid: number): string {
    const name = this.#groups.get(groupid)?.groupname;
    return name ? `group ${name} #${groupid}` : `group #${groupid}`;
  }

  #sender(): { id: number; name: string; time: string } {
    return { id: this.#user!.id, name: this.#user!.name, time: localTime() };
  }

  /** Sends a request; resolves the reply whatever its errno, or `undefined` after reporting the failure. */
  async #exchange(action: string, frame: Record<string, unknown>): Promise<Frame | undefined> {
    try {
      return await this.#connection!.request(frame);
    } catch (error) {
      // A lost connection is reported once, by the close handler.
      if (!(error instanceof ConnectionLostError)) {
        this.#out.error(
          this.#render.error(`${action} failed: ${error instanceof Error ? error.message : error}`),
        );
      }
      return undefined;
    }
  }

  /** Sends a request; resolves the successful reply, or `undefined` after reporting the failure. */
  async #request(action: string, frame: Record<string, unknown>): Promise<Frame | undefined> {
    const reply = await this.#exchange(action, frame);
    if (!reply || reply.errno === Errno.OK) return reply;
    this.#out.error(this.#render.serverError(action, reply.errno, reply.errmsg));
    return undefined;
  }

  /**
   * A request the user did not type (SYNC for a gap, the list after login): its failure is not theirs to
   * see (a server without conversations answers errno 14), so it just resolves `undefined`.
   */
  async #quietRequest(frame: Record<string, unknown>): Promise<Frame | undefined> {
    if (!this.connected) return undefined;
    try {
      const reply = await this.#connection!.request(frame);
      return reply.errno === Errno.OK ? reply : undefined;
    } catch {
      return undefined;
    }
  }

  async #registerUser(username: string, password: string): Promise<boolean> {
    const reply = await this.#request("register", { msgid: MsgId.REG, name: username, password });
    if (!reply) return false;
    this.#out.result(
      this.#render.ok(
        `registered ${
          this.#render.who(Number(reply.id), username)
        }; log in with: login ${reply.id} <password>`,
      ),
    );
    return true;
  }

  /** `login <id> [password]`: without the password, the token saved for this server and device. */
  async #loginCommand(id: number, password: string | undefined): Promise<boolean> {
    if (password !== undefined) return await this.#passwordLogin(id, password);
    const token = await this.#tokens.find(id);
    if (token === undefined) {
      const why = this.#tokens.unavailable ? ` (${this.#tokens.unavailable})` : "";
      return this.#fail(
        `login: no saved token for user ${id}${this.#deviceText()} at ${this.address}${why}; ` +
          `log in with: login ${id} <password>`,
      );
    }
    const outcome = await this.#tokenLogin(id, token);
    if (outcome === "refused") {
      return this.#fail(`login: ${refusedToken(id)}; log in with: login ${id} <password>`);
    }
    return outcome === "ok";
  }

  #deviceText(): string {
    return this.#options.device === undefined ? "" : ` on device ${JSON.stringify(this.#options.device)}`;
  }

  #loginFrame(id: number, secret: { password: string } | { token: string }): Record<string, unknown> {
    const device = this.#options.device;
    return { msgid: MsgId.LOGIN, id, ...(device === undefined ? {} : { device }), ...secret };
  }

  async #passwordLogin(id: number, password: string): Promise<boolean> {
    const ok = await this.#holdingEvents(async () => {
      const reply = await this.#request("login", this.#loginFrame(id, { password }));
      if (!reply) return false;
      await this.#loggedIn(id, reply, password);
      return true;
    });
    if (ok) await this.#resend();
    return ok;
  }

  /**
   * A token login; a token the server refuses (errno 1) is deleted, as it will never work again, and the
   * caller says what to do instead.
   */
  async #tokenLogin(id: number, token: string): Promise<LoginOutcome> {
    const outcome = await this.#holdingEvents(async (): Promise<LoginOutcome> => {
      const reply = await this.#exchange("login", this.#loginFrame(id, { token }));
      if (!reply) return "failed";
      if (reply.errno === Errno.REJECTED) {
        await this.#tokens.forget(id);
        return "refused";
      }
      if (reply.errno !== Errno.OK) {
        this.#out.error(this.#render.serverError("login", reply.errno, reply.errmsg));
        return "failed";
      }
      const password = this.#credentials?.id === id ? this.#credentials.password : undefined;
      await this.#loggedIn(id, reply, password);
      return "ok";
    });
    if (outcome === "ok") await this.#resend();
    return outcome;
  }

  /**
   * Runs a login with events held back from before its LOGIN is sent (frames that arrive with the
   * LOGIN_ACK, such as a friend's PRESENCE, come before its reply is handled) until its summary is out.
   */
  async #holdingEvents<T>(login: () => Promise<T>): Promise<T> {
    const held = { events: [] as (() => string)[] };
    this.#login = held;
    try {
      return await login();
    } finally {
      this.#login = undefined;
      for (const render of held.events) this.#out.event(render());
    }
  }

  /**
   * Completes a successful login: the local copies, the token, the offline messages in order, the unread
   * counts (one SYNC list, which also fetches what a reconnect missed) and the summary. The sends that had
   * no answer before a reconnect go after it ({@linkcode ChatClient.#resend}).
   */
  async #loggedIn(id: number, reply: Frame, password: string | undefined): Promise<void> {
    const summary = readLoginAck(reply);
    const user = { id: summary.id || id, name: summary.name };
    if (this.#credentials?.id !== user.id) this.#forgetUser();
    this.#user = user;
    this.#credentials = { id, name: user.name, password };
    this.#friends = new Map(summary.friends.map((friend) => [friend.id, friend]));
    this.#groups = new Map(summary.groups.map((group) => [group.id, group]));
    this.#names = new Map([
      [user.id, user.name],
      ...summary.groups.flatMap((group) => group.users.map((u) => [u.id, u.name] as const)),
      ...summary.friends.map((friend) => [friend.id, friend.name] as const),
      ...summary.offline.map((message) => [message.id, message.name] as const),
    ]);
    // A reconnect's offline messages may repeat what was shown before the connection dropped: those that
    // the tracker lets through go to the summary.
    const offline: ChatMessage[] = [];
    const held = this.#login!;
    held.offline = offline;
    for (const message of summary.offline) this.#tracker.accept(message);
    held.offline = undefined;
    if (summary.token) await this.#tokens.keep(id, summary.token);
    await this.#refreshConversations();
    this.#out.result(this.#render.loginSummary({ ...summary, offline }, this.#unread()));
  }

  /** Asks for the SYNC list: unread counts, and a gap fill for conversations that moved on. */
  async #refreshConversations(): Promise<void> {
    const reply = await this.#quietRequest({ msgid: MsgId.SYNC });
    if (!reply) return;
    const list = readConvList(reply);
    this.#convs.replace(list);
    for (const summary of list) this.#tracker.listed(summary.conv, summary.lastseq);
  }

  #unread(): Unread {
    return this.#convs.unread(this.#user!.id, (id) => this.#names.get(id) ?? "");
  }

  /** Sends a chat message with a fresh `cmid`; it stays in the outbox until the server answers. */
  async #sendChat(action: string, frame: Record<string, unknown>, recipient: string): Promise<boolean> {
    const cmid = this.#outbox.nextCmid();
    const send: PendingSend = { cmid, frame: { ...frame, cmid }, action, recipient };
    this.#outbox.add(send);
    return await this.#deliver(send, "");
  }

  /**
   * Sends `send` until it has an answer: errno 11 is retried after a pause (the `cmid` makes a repeat
   * harmless). A lost connection or a timeout leaves the outcome unknown, so the message stays in the
   * outbox and is sent again after the next login.
   */
  async #deliver(send: PendingSend, note: string): Promise<boolean> {
    const pauses = this.#options.busyRetryMs ?? DEFAULT_BUSY_RETRY_MS;
    for (let attempt = 0;; attempt++) {
      const reply = await this.#exchange(send.action, send.frame);
      if (!reply) return false;
      if (reply.errno === Errno.BUSY && attempt < pauses.length) {
        await delay(pauses[attempt]);
        if (!this.connected) return false;
        continue;
      }
      this.#outbox.delete(send.cmid);
      if (reply.errno !== Errno.OK) {
        this.#out.error(this.#render.serverError(send.action, reply.errno, reply.errmsg));
        return false;
      }
      const place = readPlace(reply);
      if (place) this.#tracker.accept(place.conv, place.seq, "own");
      const dup = reply.dup === true ? "; the server had it already, so it is not stored twice" : "";
      this.#out.result(this.#render.ok(`sent to ${send.recipient}${note}${dup}`));
      return true;
    }
  }

  /** After a login, the messages of this user that had no answer before the connection dropped. */
  async #resend(): Promise<void> {
    const pending = this.#outbox.pending();
    if (pending.length === 0) return;
    this.#out.result(`sending again ${pending.length} message(s) that had no answer before the reconnect`);
    for (const send of pending) {
      if (!this.connected || !this.#outbox.has(send.cmid)) continue;
      await this.#deliver(send, " (sent again)");
    }
  }

  async #addFriend(id: number): Promise<boolean> {
    if (!await this.#request("addfriend", { msgid: MsgId.ADD_FRIEND, id: this.#user!.id, friendid: id })) {
      return false;
    }
    // The ACK carries neither name nor state: they fill in from what this session saw, the friend's
    // messages and PRESENCE.
    if (!this.#friends.has(id)) {
      this.#friends.set(id, { id, name: this.#names.get(id) ?? "", state: "unknown" });
    }
    this.#out.result(this.#render.ok(`added ${this.#who(id)} to your friends`));
    return true;
  }

  async #createGroup(groupname: string, groupdesc: string): Promise<boolean> {
    const user = this.#user!;
    const reply = await this.#request("creategroup", {
      msgid: MsgId.CREATE_GROUP,
      id: user.id,
      groupname,
      groupdesc,
    });
    if (!reply) return false;
    const id = Number(reply.groupid);
    const creator = { id: user.id, name: user.name, state: "online" as const, role: "creator" };
    this.#groups.set(id, { id, groupname, groupdesc, users: [creator] });
    this.#out.result(this.#render.ok(`created ${this.#groupLabel(id)}`));
    return true;
  }

  async #addGroup(groupid: number): Promise<boolean> {
    if (!await this.#request("addgroup", { msgid: MsgId.ADD_GROUP, id: this.#user!.id, groupid })) {
      return false;
    }
    if (!this.#groups.has(groupid)) {
      this.#groups.set(groupid, { id: groupid, groupname: "", groupdesc: "", users: [] });
    }
    this.#out.result(this.#render.ok(`joined ${this.#groupLabel(groupid)}`));
    return true;
  }

  /** The conversation a command names; `undefined` (reported) for the user's own id. */
  #convOf(action: string, target: Target): string | undefined {
    if ("group" in target) return groupConv(target.group);
    if (target.user === this.#user!.id) {
      this.#fail(`${action}: ${target.user} is your own id; a conversation is with another user or a group`);
      return undefined;
    }
    return directConv(this.#user!.id, target.user);
  }

  /** `bob (2)` for a one-to-one conversation, `group devs #5` for a group's. */
  #convLabel(conv: string): string {
    const parsed = parseConv(conv);
    if (parsed?.kind === "group") return this.#groupLabel(parsed.groupId);
    const peer = parsed ? peerOf(parsed, this.#user!.id) : null;
    return peer === null ? conv : this.#who(peer);
  }

  async #history(target: Target, count: number): Promise<boolean> {
    const conv = this.#convOf("history", target);
    if (!conv) return false;
    this.#paging = undefined;
    return await this.#page({ conv, before: 0, count }, false);
  }

  async #more(): Promise<boolean> {
    if (!this.#paging) {
      return this.#fail("more: nothing older to show; start with: history <user|g:group> [n]");
    }
    return await this.#page(this.#paging, true);
  }

  /** One HISTORY page: `before` 0 asks for the newest messages. */
  async #page(paging: Paging, older: boolean): Promise<boolean> {
    const action = older ? "more" : "history";
    const frame = { msgid: MsgId.HISTORY, conv: paging.conv, limit: paging.count };
    const reply = await this.#request(
      action,
      paging.before > 0 ? { ...frame, before: paging.before } : frame,
    );
    if (!reply) return false;
    const page = readMessagePage(reply);
    for (const message of page.messages) if (message.name) this.#names.set(message.id, message.name);
    const oldest = page.messages[0]?.seq;
    this.#paging = page.more && oldest !== undefined ? { ...paging, before: oldest } : undefined;
    // Named after the page: its messages may have taught the name.
    const title = `history ${paging.conv.startsWith("g:") ? "of" : "with"} ${this.#convLabel(paging.conv)}`;
    this.#out.result(
      this.#render.history(title, page, {
        me: this.#user!.id,
        peerread: this.#convs.get(paging.conv)?.peerread,
        groups: this.#groups.values(),
        older,
      }),
    );
    return true;
  }

  /** READ up to the conversation's last seq, as a fresh SYNC list gives it. */
  async #read(target: Target): Promise<boolean> {
    const conv = this.#convOf("read", target);
    if (!conv) return false;
    await this.#refreshConversations();
    const last = Math.max(this.#convs.get(conv)?.lastseq ?? 0, this.#tracker.shown(conv) ?? 0);
    const label = this.#convLabel(conv);
    if (last === 0) {
      this.#out.result(this.#render.ok(`nothing to mark read: no messages with ${label}`));
      return true;
    }
    const reply = await this.#request("read", { msgid: MsgId.READ, conv, seq: last });
    if (!reply) return false;
    const readseq = Number.isSafeInteger(reply.readseq) ? reply.readseq as number : last;
    this.#convs.read(conv, readseq);
    this.#out.result(this.#render.ok(`read up to #${readseq} with ${label}`));
    return true;
  }

  /** TYPING has no answer: it is sent, and that is all there is to know. */
  #typing(target: Target): boolean {
    const conv = this.#convOf("typing", target);
    if (!conv) return false;
    this.#connection!.notify({ msgid: MsgId.TYPING, conv });
    this.#out.result(this.#render.ok(`told ${this.#convLabel(conv)} you are typing`));
    return true;
  }

  async #reconnect(): Promise<boolean> {
    if (this.connected) return this.#fail(`reconnect: already connected to ${this.address}`);
    if (!await this.connect()) return false;
    this.#out.result(this.#render.ok(`connected to ${this.address}`));
    const credentials = this.#credentials;
    if (!credentials) return true;
    this.#out.result(`logging in again as ${this.#render.who(credentials.id, credentials.name)}`);
    const token = await this.#tokens.find(credentials.id);
    let refused = "";
    if (token !== undefined) {
      const outcome = await this.#tokenLogin(credentials.id, token);
      if (outcome !== "refused") return outcome === "ok";
      refused = `${refusedToken(credentials.id)}; `;
    }
    if (credentials.password === undefined) {
      return this.#fail(`reconnect: ${refused}log in with: login ${credentials.id} <password>`);
    }
    if (refused) this.#out.result(this.#render.notice(`${refused}logging in with the password`));
    return await this.#passwordLogin(credentials.id, credentials.password);
  }

  /** The session ended (logout or a lost connection): what the server told about it is stale. */
  #loggedOut(): void {
    this.#user = undefined;
    this.#friends = new Map();
    this.#groups = new Map();
    this.#names = new Map();
    this.#paging = undefined;
  }

  /** Another user, or none: this user's conversations and unsent messages no longer apply. */
  #forgetUser(): void {
    this.#credentials = undefined;
    this.#tracker.clear();
    this.#convs.clear();
    this.#outbox.clear();
  }

  /** Shows a message the tracker put in order (a login's offline messages go to its summary). */
  #show(message: ChatMessage): void {
    if (this.#login?.offline) {
      this.#login.offline.push(message);
      return;
    }
    const me = this.#user?.id;
    const recipient = message.id === me && message.toid !== undefined ? this.#who(message.toid) : undefined;
    this.#event(() => this.#render.chat(message, this.#groups.values(), { recipient }));
  }

  #onFrame(frame: Frame): void {
    const chat = readChat(frame);
    if (chat) {
      const friend = this.#friends.get(chat.id);
      if (friend && !friend.name) friend.name = chat.name;
      if (chat.name) this.#names.set(chat.id, chat.name);
      this.#tracker.accept(chat);
      return;
    }
    switch (frame.msgid) {
      case MsgId.PRESENCE: {
        const presence = readPresence(frame);
        if (!presence) return;
        const friend = this.#friends.get(presence.id);
        if (friend) friend.state = presence.state;
        for (const group of this.#groups.values()) {
          for (const member of group.users) if (member.id === presence.id) member.state = presence.state;
        }
        this.#event(() =>
          this.#render.presence(presence.id, this.#names.get(presence.id) ?? "", presence.state)
        );
        return;
      }
      case MsgId.RECEIPT: {
        const receipt = readReceipt(frame);
        const me = this.#user?.id;
        if (!receipt || me === undefined) return;
        this.#convs.receipt(receipt, me);
        // The user's own other device read it: nothing to tell this one.
        if (receipt.id !== me) this.#event(() => this.#render.receipt(this.#who(receipt.id), receipt.seq));
        return;
      }
      case MsgId.TYPING: {
        const typing = readTyping(frame);
        if (!typing || !this.#user) return;
        const conv = parseConv(typing.conv);
        const where = conv?.kind === "group" ? this.#groupLabel(conv.groupId) : undefined;
        this.#event(() => this.#render.typing(this.#who(typing.id), where));
        return;
      }
      case MsgId.ERROR:
        this.#event(() => this.#render.serverError("a request", frame.errno, frame.errmsg));
    }
    // Other frames (a future msgid, a late reply) carry nothing to show.
  }
}
