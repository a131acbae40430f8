/**
 * The client's state and behaviour, shared by the REPL and the script mode: runs commands against the
 * server, keeps a local copy of the user's friends and groups (from LOGIN_ACK, then updated by
 * addfriend, creategroup, addgroup and PRESENCE) and reports incoming messages.
 */
import { localTime } from "../protocol/encode.ts";
import { Errno } from "../protocol/errno.ts";
import { MsgId } from "../protocol/msg_id.ts";
import { type Command, findCommand } from "./commands.ts";
import { Connection, type Frame } from "./connection.ts";
import { ConnectError, ConnectionLostError } from "./errors.ts";
import { type Friend, type Group, readChat, readLoginAck, readPresence } from "./model.ts";
import type { Renderer } from "./render.ts";

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
  /**
   * Called when the connection was lost (not when the client closed it), after the local state was
   * cleared, with the message to show (`connection to HOST:PORT lost`).
   */
  onLost: (message: string) => void;
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
  #connection: Connection | undefined;
  #user: { id: number; name: string } | undefined;
  #friends = new Map<number, Friend>();
  #groups = new Map<number, Group>();
  /** Names of users seen in this login (friends, group members, senders), to show `bob (2)` for an id. */
  #names = new Map<number, string>();
  /** Kept to log in again after `reconnect`; dropped by `loginout`. */
  #credentials: { id: number; name: string; password: string } | undefined;

  constructor(options: ChatClientOptions) {
    this.#options = options;
    this.#out = options.output;
    this.#render = options.render;
    this.address = `${options.hostname}:${options.port}`;
  }

  /** The logged-in user. */
  get user(): { id: number; name: string } | undefined {
    return this.#user;
  }

  get connected(): boolean {
    return this.#connection?.isOpen ?? false;
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
          this.#out.event(
            this.#render.notice(`ignored a malformed frame from the server: ${text.slice(0, 200)}`),
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
    switch (command.name) {
      case "friends":
        this.#out.result(this.#render.friends(this.#friends.values()));
        return true;
      case "groups":
        this.#out.result(this.#render.groups(this.#groups.values()));
        return true;
      case "reconnect":
        return await this.#reconnect();
    }
    if (!this.connected) {
      return this.#fail(`${command.name}: not connected to ${this.address}; type reconnect`);
    }
    switch (command.name) {
      case "register":
        return await this.#registerUser(command.username, command.password);
      case "login":
        return await this.#login(command.id, command.password);
      case "chat": {
        const frame = { msgid: MsgId.ONE_CHAT, ...this.#sender(), toid: command.id, msg: command.message };
        return await this.#send("chat", frame, `sent to ${this.#who(command.id)}`);
      }
      case "groupchat": {
        const frame = {
          msgid: MsgId.GROUP_CHAT,
          ...this.#sender(),
          groupid: command.groupid,
          msg: command.message,
        };
        return await this.#send("groupchat", frame, `sent to ${this.#groupLabel(command.groupid)}`);
      }
      case "addfriend":
        return await this.#addFriend(command.id);
      case "creategroup":
        return await this.#createGroup(command.groupname, command.description);
      case "addgroup":
        return await this.#addGroup(command.groupid);
      case "loginout": {
        const reply = await this.#request("loginout", { msgid: MsgId.LOGINOUT, id: this.#user!.id });
        if (!reply) return false;
        this.#loggedOut();
        this.#credentials = undefined;
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

  /** Sends a request; resolves the successful reply, or `undefined` after reporting the failure. */
  async #request(action: string, frame: Record<string, unknown>): Promise<Frame | undefined> {
    try {
      const reply = await this.#connection!.request(frame);
      if (reply.errno === Errno.OK) return reply;
      this.#out.error(this.#render.serverError(action, reply.errno, reply.errmsg));
    } catch (error) {
      // A lost connection is reported once, by the close handler.
      if (!(error instanceof ConnectionLostError)) {
        this.#out.error(
          this.#render.error(`${action} failed: ${error instanceof Error ? error.message : error}`),
        );
      }
    }
    return undefined;
  }

  async #send(action: string, frame: Record<string, unknown>, done: string): Promise<boolean> {
    if (!await this.#request(action, frame)) return false;
    this.#out.result(this.#render.ok(done));
    return true;
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

  async #login(id: number, password: string): Promise<boolean> {
    const reply = await this.#request("login", { msgid: MsgId.LOGIN, id, password });
    if (!reply) return false;
    const summary = readLoginAck(reply);
    this.#user = { id: summary.id || id, name: summary.name };
    this.#credentials = { id, name: this.#user.name, password };
    this.#friends = new Map(summary.friends.map((friend) => [friend.id, friend]));
    this.#groups = new Map(summary.groups.map((group) => [group.id, group]));
    this.#names = new Map([
      [this.#user.id, this.#user.name],
      ...summary.groups.flatMap((group) => group.users.map((u) => [u.id, u.name] as const)),
      ...summary.friends.map((friend) => [friend.id, friend.name] as const),
      ...summary.offline.map((message) => [message.id, message.name] as const),
    ]);
    this.#out.result(this.#render.loginSummary(summary));
    return true;
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

  async #reconnect(): Promise<boolean> {
    if (this.connected) return this.#fail(`reconnect: already connected to ${this.address}`);
    if (!await this.connect()) return false;
    this.#out.result(this.#render.ok(`connected to ${this.address}`));
    const credentials = this.#credentials;
    if (!credentials) return true;
    this.#out.result(`logging in again as ${this.#render.who(credentials.id, credentials.name)}`);
    return await this.#login(credentials.id, credentials.password);
  }

  #loggedOut(): void {
    this.#user = undefined;
    this.#friends = new Map();
    this.#groups = new Map();
    this.#names = new Map();
  }

  #onFrame(frame: Frame): void {
    const chat = readChat(frame);
    if (chat) {
      const friend = this.#friends.get(chat.id);
      if (friend && !friend.name) friend.name = chat.name;
      if (chat.name) this.#names.set(chat.id, chat.name);
      this.#out.event(this.#render.chat(chat, this.#groups.values()));
      return;
    }
    if (frame.msgid === MsgId.PRESENCE) {
      const presence = readPresence(frame);
      if (!presence) return;
      const friend = this.#friends.get(presence.id);
      if (friend) friend.state = presence.state;
      for (const group of this.#groups.values()) {
        for (const member of group.users) if (member.id === presence.id) member.state = presence.state;
      }
      this.#out.event(this.#render.presence(presence.id, this.#names.get(presence.id) ?? "", presence.state));
      return;
    }
    if (frame.msgid === MsgId.ERROR) {
      this.#out.event(this.#render.serverError("a request", frame.errno, frame.errmsg));
    }
    // Other frames (a future msgid, a late reply) carry nothing to show.
  }
}
