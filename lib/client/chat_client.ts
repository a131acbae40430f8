/**
 * The client's state and behaviour, shared by the REPL and the script mode: runs commands against the
 * server, keeps a local copy of the user's friends and groups (from LOGIN_ACK, then updated by the
 * commands that change them, PRESENCE, and the friend and group pushes: `Social`) and reports incoming
 * messages and events.
 *
 * With a server that keeps conversations (PROTOCOL.md "v2 extensions") it also shows each conversation's
 * messages in `seq` order and once, with history, unread counts and read receipts (`ConversationView`),
 * keeps the login token (`LoginTokens`) and sends every chat message with a `cmid`, so that what had no
 * answer is sent again safely after errno 11 or a reconnect (`Outbox`).
 */
import { directConv, groupConv, parseConv, peerOf } from "../conversation_name.ts";
import { localTime } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { MsgId } from "../protocol/msg_id.ts";
import { type Command, DEFAULT_HISTORY, findCommand, type Target } from "./commands.ts";
import { Connection, type Frame } from "./connection.ts";
import { ConversationView } from "./conversation_view.ts";
import { ConnectError, ConnectionLostError } from "./errors.ts";
import { LoginTokens } from "./login_tokens.ts";
import {
  type ChatMessage,
  type Friend,
  type Group,
  readChat,
  readLoginAck,
  readPresence,
  readReceipt,
  readTyping,
} from "./model.ts";
import { Outbox } from "./outbox.ts";
import type { Renderer } from "./render.ts";
import { isSocialCommand, Social } from "./social.ts";
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
  /** Speak TLS (`--tls`), verifying against `caFile` (`--ca`) when given. */
  tls?: { caFile?: string };
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
  readonly #conversations: ConversationView;
  readonly #outbox: Outbox;
  readonly #social: Social;
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
    this.#outbox = new Outbox({
      exchange: (action, frame) => this.#exchange(action, frame),
      connected: () => this.connected,
      placed: (conv, seq) => this.#conversations.placeOwn(conv, seq),
      result: (text) => this.#out.result(text),
      error: (text) => this.#out.error(text),
      render: this.#render,
      busyRetryMs: options.busyRetryMs ?? DEFAULT_BUSY_RETRY_MS,
    });
    this.#conversations = new ConversationView({
      request: (action, frame) => this.#request(action, frame),
      quietRequest: (frame) => this.#quietRequest(frame),
      show: (message) => this.#show(message),
      result: (text) => this.#out.result(text),
      error: (text) => this.#out.error(text),
      render: this.#render,
      me: () => this.#user!.id,
      label: (conv) => this.#convLabel(conv),
      groups: () => this.#groups.values(),
      learnName: (id, name) => this.#names.set(id, name),
    });
    this.#social = new Social({
      exchange: (action, frame) => this.#exchange(action, frame),
      result: (text) => this.#out.result(text),
      error: (text) => this.#out.error(text),
      event: (render) => this.#event(render),
      render: this.#render,
      me: () => this.#user!,
      friends: () => this.#friends,
      groups: () => this.#groups,
      names: () => this.#names,
      groupLabel: (groupid) => this.#groupLabel(groupid),
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
    return this.#conversations.settled();
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
        tls: this.#options.tls,
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
    if (isSocialCommand(command)) return await this.#social.execute(command);
    switch (command.name) {
      case "friends":
        await this.#conversations.refresh();
        this.#out.result(
          this.#render.friends(
            this.#friends.values(),
            this.#conversations.unread((id) => this.#names.get(id) ?? ""),
            this.#social.blocked(),
          ),
        );
        return true;
      case "groups":
        await this.#conversations.refresh();
        this.#out.result(
          this.#render.groups(
            this.#groups.values(),
            this.#conversations.unread((id) => this.#names.get(id) ?? ""),
          ),
        );
        return true;
      case "register":
        return await this.#registerUser(command.username, command.password);
      case "login":
        return await this.#loginCommand(command.id, command.password);
      case "chat": {
        const frame = { msgid: MsgId.ONE_CHAT, ...this.#sender(), toid: command.id, msg: command.message };
        return await this.#outbox.send("chat", frame, this.#who(command.id));
      }
      case "groupchat": {
        const frame = {
          msgid: MsgId.GROUP_CHAT,
          ...this.#sender(),
          groupid: command.groupid,
          msg: command.message,
        };
        return await this.#outbox.send("groupchat", frame, this.#groupLabel(command.groupid));
      }
      case "addfriend":
        return await this.#addFriend(command.id);
      case "history": {
        const conv = this.#convOf("history", command.target);
        return conv !== undefined &&
          await this.#conversations.history(conv, command.count ?? DEFAULT_HISTORY);
      }
      case "more":
        return await this.#conversations.more();
      case "read": {
        const conv = this.#convOf("read", command.target);
        return conv !== undefined && await this.#conversations.read(conv);
      }
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
    if (ok) await this.#outbox.resend();
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
    if (outcome === "ok") await this.#outbox.resend();
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
   * no answer before a reconnect go after it (`Outbox.resend`).
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
    for (const message of summary.offline) this.#conversations.accept(message);
    held.offline = undefined;
    this.#social.loggedIn(summary);
    if (summary.token) await this.#tokens.keep(id, summary.token);
    await this.#conversations.refresh();
    const nameOf = (id: number) => this.#names.get(id) ?? "";
    this.#out.result(
      this.#render.loginSummary({ ...summary, offline }, this.#conversations.unread(nameOf), nameOf),
    );
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
    this.#social.clear();
    this.#conversations.endSession();
  }

  /** Another user, or none: this user's conversations and unsent messages no longer apply. */
  #forgetUser(): void {
    this.#credentials = undefined;
    this.#conversations.clear();
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
      this.#conversations.accept(chat);
      return;
    }
    // Friend and group pushes are about the logged-in user; one that crosses a logout has no one to tell.
    if (this.#user && this.#social.onFrame(frame)) return;
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
        this.#conversations.receipt(receipt);
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
