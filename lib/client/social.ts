/**
 * Friends by request, blocking and groups with roles (PROTOCOL.md "Friends", "Groups"): the commands that
 * change them, and the pushes that tell of changes made elsewhere (FRIEND_REQUEST, FRIEND_REPLY,
 * GROUP_EVENT), both kept in the client's local copy of friends and groups, so that `friends`, `groups`
 * and `requests` show what is true now, not what the login said.
 *
 * A GROUP_EVENT also reaches the device whose command caused it; that device prints the command's result,
 * so the event only updates its copy there (the command notes the event it expects). How the copy changes
 * and how an event is told is `group_changes.ts`.
 */
import { Errno } from "../protocol/errno.ts";
import { MsgId } from "../protocol/msg_id.ts";
import type { Command } from "./commands.ts";
import type { Frame } from "./connection.ts";
import {
  type Friend,
  type FriendRequest,
  type Group,
  type GroupEvent,
  type LoginSummary,
  readFriendReply,
  readFriendRequest,
  readGroup,
  readGroupEvent,
} from "./model.ts";
import { applyGroupEvent, describeGroupEvent, removeMember, setMemberRole } from "./group_changes.ts";
import { printable, type Renderer } from "./render.ts";

/** The commands {@linkcode Social.execute} runs. */
export type SocialCommand = Extract<
  Command,
  {
    name:
      | "request"
      | "accept"
      | "decline"
      | "requests"
      | "unfriend"
      | "block"
      | "unblock"
      | "creategroup"
      | "addgroup"
      | "leave"
      | "kick"
      | "admin"
      | "unadmin"
      | "rename";
  }
>;

const SOCIAL_COMMANDS: ReadonlySet<string> = new Set<SocialCommand["name"]>([
  "request",
  "accept",
  "decline",
  "requests",
  "unfriend",
  "block",
  "unblock",
  "creategroup",
  "addgroup",
  "leave",
  "kick",
  "admin",
  "unadmin",
  "rename",
]);

/** Whether {@linkcode Social.execute} runs `command`. */
export function isSocialCommand(command: Command): command is SocialCommand {
  return SOCIAL_COMMANDS.has(command.name);
}

/** What {@linkcode Social} needs of the client it belongs to. */
export interface SocialContext {
  /** Sends a request; resolves the reply whatever its errno, or `undefined` after reporting the failure. */
  exchange(action: string, frame: Record<string, unknown>): Promise<Frame | undefined>;
  result(text: string): void;
  error(text: string): void;
  /** An event, rendered when it is shown (held back while a login completes). */
  event(render: () => string): void;
  render: Renderer;
  /** The logged-in user. */
  me(): { id: number; name: string };
  /** The client's copies, replaced at each login: read them through these on every use. */
  friends(): Map<number, Friend>;
  groups(): Map<number, Group>;
  /** Names of the users seen in this login, by id. */
  names(): Map<number, string>;
  /** `group devs #5`: how chat results name a group (creategroup and addgroup say it so). */
  groupLabel(groupid: number): string;
}

/**
 * The friend requests, blocks and group changes of one logged-in user.
 *
 * @example
 * ```ts
 * import { Renderer } from "./render.ts";
 *
 * const friends = new Map(), groups = new Map(), names = new Map();
 * const social = new Social({
 *   exchange: () => Promise.resolve(undefined),
 *   result: console.log,
 *   error: console.error,
 *   event: (render) => console.log(render()),
 *   render: new Renderer({ color: false }),
 *   me: () => ({ id: 1, name: "alice" }),
 *   friends: () => friends,
 *   groups: () => groups,
 *   names: () => names,
 *   groupLabel: (groupid) => `group #${groupid}`,
 * });
 * social.onFrame({ msgid: 21, id: 2, name: "bob", note: "hi" }); // friend request from bob (2): hi — accept 2 / decline 2
 * ```
 */
export class Social {
  readonly #cx: SocialContext;
  readonly #render: Renderer;
  /** Friend requests waiting for this user's answer, by requester, oldest first. */
  #requests = new Map<number, FriendRequest>();
  /** The users this user blocks. */
  #blocked = new Set<number>();
  /** GROUP_EVENTs this device's own commands will cause (`event:groupid:userid`): see {@linkcode expect}. */
  #expected = new Set<string>();
  /** CREATE_GROUPs of this device whose `joined` event has not come (their group id is not known before). */
  #creating = 0;

  constructor(context: SocialContext) {
    this.#cx = context;
    this.#render = context.render;
  }

  /** The users this user blocks, with their names where known, by id. */
  blocked(): { id: number; name: string }[] {
    return [...this.#blocked].sort((a, b) => a - b).map((id) => ({ id, name: this.#name(id) }));
  }

  /** A login's requests and blocks replace what a previous one said. */
  loggedIn(summary: LoginSummary): void {
    this.#requests = new Map(summary.requests.map((request) => [request.id, request]));
    this.#blocked = new Set(summary.blocked);
    for (const request of summary.requests) if (request.name) this.#cx.names().set(request.id, request.name);
    this.#expected.clear();
    this.#creating = 0;
  }

  /** The session ended. */
  clear(): void {
    this.#requests = new Map();
    this.#blocked = new Set();
    this.#expected.clear();
    this.#creating = 0;
  }

  /** Runs one command; resolves `true` when it succeeded. Every failure has been reported. */
  async execute(command: SocialCommand): Promise<boolean> {
    switch (command.name) {
      case "requests":
        this.#cx.result(this.#render.friendRequests(this.#requests.values()));
        return true;
      case "request":
        return await this.#request(command.id, command.note ?? "");
      case "accept":
      case "decline":
        return await this.#answer(command.id, command.name === "accept");
      case "unfriend":
        return await this.#unfriend(command.id);
      case "block":
      case "unblock":
        return await this.#block(command.id, command.name === "block");
      case "creategroup":
        return await this.#createGroup(command.groupname, command.description);
      case "addgroup":
        return await this.#addGroup(command.groupid);
      case "leave":
        return await this.#leave(command.groupid);
      case "kick":
        return await this.#kick(command.groupid, command.id);
      case "admin":
      case "unadmin":
        return await this.#setRole(
          command.groupid,
          command.id,
          command.name === "admin" ? "admin" : "normal",
        );
      case "rename":
        return await this.#rename(command.groupid, command.groupname);
    }
  }

  /** Handles FRIEND_REQUEST, FRIEND_REPLY and GROUP_EVENT pushes; `false` for any other frame. */
  onFrame(frame: Frame): boolean {
    switch (frame.msgid) {
      case MsgId.FRIEND_REQUEST: {
        const request = readFriendRequest(frame);
        if (request) this.#requested(request);
        return true;
      }
      case MsgId.FRIEND_REPLY: {
        const reply = readFriendReply(frame);
        if (!reply) return true;
        if (reply.name) this.#cx.names().set(reply.id, reply.name);
        if (reply.accept) this.#befriend(reply.id);
        const answer = reply.accept ? "accepted" : "declined";
        this.#cx.event(() => `${this.#who(reply.id)} ${answer} your friend request`);
        return true;
      }
      case MsgId.GROUP_EVENT: {
        const event = readGroupEvent(frame);
        if (event) this.#groupEvent(event);
        return true;
      }
    }
    return false;
  }

  // --- friends ---

  #requested(request: FriendRequest): void {
    if (request.name) this.#cx.names().set(request.id, request.name);
    // A repeated request keeps its place among the older ones.
    this.#requests.set(request.id, request);
    this.#cx.event(() => this.#render.friendRequest(request));
  }

  async #request(id: number, note: string): Promise<boolean> {
    const reply = await this.#ask("request", { msgid: MsgId.FRIEND_REQUEST, friendid: id, note });
    if (!reply) return false;
    switch (reply.status) {
      case "accepted":
        // They had asked first: the request answered theirs.
        this.#befriend(id);
        return this.#ok(`${this.#who(id)} had asked you too: you are now friends`);
      case "friends":
        this.#befriend(id);
        return this.#ok(`${this.#who(id)} is already your friend`);
      case "pending":
        return this.#ok(`your friend request to ${this.#who(id)} is still waiting for an answer`);
      default:
        return this.#ok(`friend request sent to ${this.#who(id)}`);
    }
  }

  async #answer(id: number, accept: boolean): Promise<boolean> {
    const action = accept ? "accept" : "decline";
    const reply = await this.#ask(action, { msgid: MsgId.FRIEND_REPLY, id, accept }, (errno) => {
      // Answered already (on another device) or withdrawn by a block: the local copy was stale.
      if (errno === Errno.NO_REQUEST) this.#requests.delete(id);
    });
    if (!reply) return false;
    const request = this.#requests.get(id);
    if (request?.name) this.#cx.names().set(id, request.name);
    this.#requests.delete(id);
    if (!accept) return this.#ok(`declined the friend request from ${this.#who(id)}`);
    this.#befriend(id);
    return this.#ok(`you and ${this.#who(id)} are now friends`);
  }

  async #unfriend(id: number): Promise<boolean> {
    if (!await this.#ask("unfriend", { msgid: MsgId.REMOVE_FRIEND, friendid: id })) return false;
    const was = this.#cx.friends().delete(id);
    return this.#ok(
      was ? `${this.#who(id)} is no longer your friend` : `${this.#who(id)} was not your friend`,
    );
  }

  async #block(id: number, on: boolean): Promise<boolean> {
    if (!await this.#ask(on ? "block" : "unblock", { msgid: MsgId.BLOCK, userid: id, on })) return false;
    if (!on) {
      this.#blocked.delete(id);
      return this.#ok(`unblocked ${this.#who(id)}; to be friends again, send a request`);
    }
    // The server ended the friendship and dropped the requests both ways.
    this.#blocked.add(id);
    this.#cx.friends().delete(id);
    this.#requests.delete(id);
    return this.#ok(
      `blocked ${this.#who(id)}: no messages, friend requests or presence between you until you unblock`,
    );
  }

  /** A friend both ways now; name and state fill in from what this session saw, and PRESENCE. */
  #befriend(id: number): void {
    this.#requests.delete(id);
    const friends = this.#cx.friends();
    if (!friends.has(id)) friends.set(id, { id, name: this.#name(id), state: "unknown" });
  }

  // --- groups ---

  async #createGroup(groupname: string, groupdesc: string): Promise<boolean> {
    const me = this.#cx.me();
    this.#creating++;
    const reply = await this.#ask(
      "creategroup",
      { msgid: MsgId.CREATE_GROUP, id: me.id, groupname, groupdesc },
      () => this.#creating--,
    );
    if (!reply) return false;
    const id = Number(reply.groupid);
    const creator = { id: me.id, name: me.name, state: "online" as const, role: "creator" };
    this.#cx.groups().set(id, { id, groupname, groupdesc, users: [creator] });
    return this.#ok(`created ${this.#cx.groupLabel(id)}`);
  }

  async #addGroup(groupid: number): Promise<boolean> {
    const me = this.#cx.me();
    const key = this.#expect("joined", groupid, me.id);
    const reply = await this.#ask("addgroup", { msgid: MsgId.ADD_GROUP, id: me.id, groupid }, key);
    if (!reply) return false;
    const groups = this.#cx.groups();
    // A v2 server's ACK carries the group as the login lists it; a v1 server's only says it worked.
    if (typeof reply.groupname === "string" && reply.groupname !== "") {
      const group = readGroup(reply, groupid);
      for (const member of group.users) if (member.name) this.#cx.names().set(member.id, member.name);
      groups.set(groupid, group);
    } else if (!groups.has(groupid)) {
      groups.set(groupid, { id: groupid, groupname: "", groupdesc: "", users: [] });
    }
    return this.#ok(`joined ${this.#cx.groupLabel(groupid)}`);
  }

  async #leave(groupid: number): Promise<boolean> {
    const ref = this.#groupRef(groupid);
    const key = this.#expect("left", groupid, this.#cx.me().id);
    if (!await this.#ask("leave", { msgid: MsgId.LEAVE_GROUP, groupid }, key)) return false;
    this.#cx.groups().delete(groupid);
    return this.#ok(`left ${ref}`);
  }

  async #kick(groupid: number, userid: number): Promise<boolean> {
    const key = this.#expect("kicked", groupid, userid);
    if (!await this.#ask("kick", { msgid: MsgId.KICK, groupid, userid }, key)) return false;
    removeMember(this.#cx.groups(), groupid, userid);
    return this.#ok(`kicked ${this.#who(userid)} from ${this.#groupRef(groupid)}`);
  }

  async #setRole(groupid: number, userid: number, role: "admin" | "normal"): Promise<boolean> {
    const action = role === "admin" ? "admin" : "unadmin";
    const key = this.#expect("role", groupid, userid);
    if (!await this.#ask(action, { msgid: MsgId.SET_ROLE, groupid, userid, role }, key)) return false;
    setMemberRole(this.#cx.groups(), groupid, userid, role);
    const now = role === "admin" ? "an admin" : "a normal member";
    return this.#ok(`${this.#who(userid)} is now ${now} of ${this.#groupRef(groupid)}`);
  }

  async #rename(groupid: number, groupname: string): Promise<boolean> {
    const before = this.#groupRef(groupid);
    const key = this.#expect("updated", groupid, this.#cx.me().id);
    const reply = await this.#ask("rename", { msgid: MsgId.UPDATE_GROUP, groupid, groupname }, key);
    if (!reply) return false;
    const group = this.#cx.groups().get(groupid);
    if (group) {
      group.groupname = typeof reply.groupname === "string" ? reply.groupname : groupname;
      if (typeof reply.groupdesc === "string") group.groupdesc = reply.groupdesc;
    }
    return this.#ok(`renamed ${before} to ${printable(groupname)}`);
  }

  /**
   * Notes a GROUP_EVENT that this device's command will cause, so that it updates the local copy
   * without being printed after the command's own result. A change that causes no event (a role the
   * member has already) leaves its note until the next login: at worst the same change made later on
   * another device goes unprinted here, while the copy is still updated.
   */
  #expect(event: GroupEvent["event"], groupid: number, userid: number): () => void {
    const key = `${event}:${groupid}:${userid}`;
    this.#expected.add(key);
    return () => this.#expected.delete(key);
  }

  /** Whether the event is the echo of this device's own command (consumed: it is expected once). */
  #isEcho(event: GroupEvent): boolean {
    if (event.by !== this.#cx.me().id) return false;
    if (event.event === "joined" && event.groupname !== undefined && this.#creating > 0) {
      this.#creating--;
      return true;
    }
    return this.#expected.delete(`${event.event}:${event.groupid}:${event.userid}`);
  }

  #groupEvent(event: GroupEvent): void {
    if (event.name) this.#cx.names().set(event.userid, event.name);
    // Named as it was before the change (a rename says the old name).
    const ref = this.#groupRef(event.groupid);
    const groups = this.#cx.groups();
    const text = describeGroupEvent(event, groups, { who: (id) => this.#whoOrYou(id), ref });
    applyGroupEvent(groups, event, {
      me: this.#cx.me().id,
      nameOf: (id) => this.#name(id),
      hidden: (id) => this.#blocked.has(id),
    });
    if (!this.#isEcho(event)) this.#cx.event(() => text);
  }

  // --- helpers ---

  /**
   * Sends a request; resolves the successful reply, or `undefined` after reporting the failure (a
   * refusal with its errno, meaning and errmsg) and calling `failed` with the errno (0 without a reply).
   */
  async #ask(
    action: string,
    frame: Record<string, unknown>,
    failed: (errno: number) => void = () => {},
  ): Promise<Frame | undefined> {
    const reply = await this.#cx.exchange(action, frame);
    if (reply?.errno === Errno.OK) return reply;
    failed(typeof reply?.errno === "number" ? reply.errno : 0);
    if (reply) this.#cx.error(this.#render.serverError(action, reply.errno, reply.errmsg));
    return undefined;
  }

  #ok(text: string): true {
    this.#cx.result(this.#render.ok(text));
    return true;
  }

  #name(id: number): string {
    return this.#cx.names().get(id) ?? "";
  }

  #who(id: number): string {
    return this.#render.who(id, this.#name(id));
  }

  #whoOrYou(id: number): string {
    return id === this.#cx.me().id ? "you" : this.#who(id);
  }

  #groupRef(groupid: number): string {
    return this.#render.groupRef(groupid, this.#cx.groups().get(groupid)?.groupname ?? "");
  }
}
