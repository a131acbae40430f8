/**
 * Everything the client prints, as strings: the login summary, friends, groups, chat messages,
 * presence changes, errors and the plain help. Colour only when asked (a terminal without NO_COLOR).
 */
import { styleText } from "node:util";
import { errnoMeaning } from "../protocol/errno.ts";
import { type CommandSpec, usage } from "./commands.ts";
import type {
  ChatMessage,
  Friend,
  FriendRequest,
  Group,
  LoginSummary,
  Member,
  MessagePage,
  Presence,
} from "./model.ts";

type Style = Parameters<typeof styleText>[0];

/**
 * Control characters (other than tab) and bidirectional overrides in text from other users are shown
 * escaped: they could otherwise move the cursor, recolour the terminal or reorder the line. A newline
 * starts an indented continuation line.
 */
// deno-lint-ignore no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` made safe to print: see {@linkcode UNSAFE}. */
export function printable(text: string, indent = "    "): string {
  return text
    .replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
    .replaceAll("\n", "\n" + indent);
}

/** Unread counts from a SYNC list, as the friend and group lists show them. */
export interface Unread {
  /** One-to-one conversations, by the other user's id: their name (empty when unknown) and the count. */
  users: ReadonlyMap<number, { name: string; count: number }>;
  /** Group conversations, by group id. */
  groups: ReadonlyMap<number, number>;
}

/** No counts: a server without SYNC, or none asked yet. */
export const NO_UNREAD: Unread = { users: new Map(), groups: new Map() };

/** Options for {@linkcode Renderer.chat}. */
export interface ChatOptions {
  /** Put before each continuation line of a multi-line message (default four spaces). */
  indent?: string;
  /** The recipient, as {@linkcode Renderer.who} names them, for the user's own one-to-one messages. */
  recipient?: string;
}

/** Options for {@linkcode Renderer.history}. */
export interface HistoryOptions {
  /** The logged-in user's id: their messages get read marks. */
  me: number;
  /** The other side's read seq (one-to-one conversations); no marks without it. */
  peerread?: number;
  /** The groups, to name a group message's group. */
  groups: Iterable<Group>;
  /** The page is older than one shown before (`more`). */
  older?: boolean;
}

/** Options for {@linkcode Renderer}. */
export interface RenderOptions {
  /** Use ANSI colours. */
  color: boolean;
}

/**
 * Formats the client's output.
 *
 * @example
 * ```ts
 * const render = new Renderer({ color: false });
 * render.serverError("chat", 6, "no such user: 9"); // "✗ chat failed: errno 6 (no such user): no such user: 9"
 * ```
 */
export class Renderer {
  readonly #color: boolean;

  constructor(options: RenderOptions) {
    this.#color = options.color;
  }

  #paint(style: Style, text: string): string {
    return this.#color ? styleText(style, text, { validateStream: false }) : text;
  }

  /** `alice (1)`, or `user 1` when the name is not known. */
  who(id: number, name: string): string {
    return name ? `${printable(name)} (${id})` : `user ${id}`;
  }

  #state(state: Presence): string {
    if (state === "online") return this.#paint("green", "online");
    if (state === "offline") return this.#paint("dim", "offline");
    return this.#paint("dim", "state unknown");
  }

  /** A confirmation. */
  ok(text: string): string {
    return `${this.#paint("green", "✓")} ${text}`;
  }

  /** A local failure: bad input, not logged in, no reply. */
  error(text: string): string {
    return `${this.#paint("red", "✗")} ${text}`;
  }

  /**
   * A server refusal with its errno, the errno's meaning as lib/protocol words it (`unknown errno` for
   * one a newer server may send) and the server's errmsg.
   */
  serverError(action: string, errno: unknown, errmsg: unknown): string {
    const meaning = typeof errno === "number" ? ` (${errnoMeaning(errno)})` : "";
    const message = typeof errmsg === "string" && errmsg ? `: ${printable(errmsg)}` : "";
    return this.error(`${action} failed: errno ${errno}${meaning}${message}`);
  }

  /** A notice about the client itself (connection state). */
  notice(text: string): string {
    return this.#paint("yellow", `! ${text}`);
  }

  /**
   * Everything a successful login returned, with the unread counts of a SYNC list when there was one;
   * `nameOf` names the blocked users where the client knows them.
   */
  loginSummary(summary: LoginSummary, unread: Unread = NO_UNREAD, nameOf = (_id: number) => ""): string {
    const lines = [this.ok(`logged in as ${this.#paint("bold", this.who(summary.id, summary.name))}`)];
    const blocked = [...summary.blocked].sort((a, b) => a - b).map((id) => ({ id, name: nameOf(id) }));
    lines.push(this.friends(summary.friends, unread, blocked));
    if (summary.requests.length > 0) lines.push(this.friendRequests(summary.requests));
    lines.push(this.groups(summary.groups, unread));
    if (summary.offline.length === 0) {
      lines.push("no offline messages");
    } else {
      lines.push(`offline messages (${summary.offline.length}):`);
      for (const message of summary.offline) {
        lines.push("  " + this.chat(message, summary.groups, { indent: "      " }));
      }
    }
    return lines.join("\n");
  }

  /**
   * The friend list with online states and unread counts, then the other users whose messages are
   * unread (chat does not need friendship), then the users this user blocks (when there are any).
   */
  friends(
    friends: Iterable<Friend>,
    unread: Unread = NO_UNREAD,
    blocked: Iterable<{ id: number; name: string }> = [],
  ): string {
    const list = [...friends];
    const lines = list.length === 0 ? ["friends: none"] : [`friends (${list.length}):`];
    for (const f of list) {
      lines.push(
        `  ${this.who(f.id, f.name)}  ${this.#state(f.state)}${this.#unread(unread.users.get(f.id)?.count)}`,
      );
    }
    const friendIds = new Set(list.map((f) => f.id));
    const others = [...unread.users].filter(([id, { count }]) => count > 0 && !friendIds.has(id));
    if (others.length > 0) {
      lines.push("others with unread messages:");
      for (const [id, { name, count }] of others) lines.push(`  ${this.who(id, name)}${this.#unread(count)}`);
    }
    const blockedList = [...blocked];
    if (blockedList.length > 0) {
      lines.push(`blocked: ${blockedList.map((user) => this.who(user.id, user.name)).join(", ")}`);
    }
    return lines.join("\n");
  }

  /** `g:5 (devs)`, or `g:5` when the group's name is not known: how group events name a group. */
  groupRef(id: number, name: string): string {
    return name ? `g:${id} (${printable(name)})` : `g:${id}`;
  }

  /** A friend request, with the commands that answer it. */
  friendRequest(request: FriendRequest): string {
    const note = request.note ? `: ${printable(request.note)}` : "";
    return `friend request from ${this.who(request.id, request.name)}${note} — ${
      this.#paint("bold", `accept ${request.id}`)
    } / ${this.#paint("bold", `decline ${request.id}`)}`;
  }

  /** The friend requests waiting for an answer, oldest first. */
  friendRequests(requests: Iterable<FriendRequest>): string {
    const list = [...requests];
    if (list.length === 0) return "friend requests: none";
    return [`friend requests (${list.length}):`, ...list.map((r) => `  ${this.friendRequest(r)}`)].join("\n");
  }

  /**
   * The groups with their members, roles, states and unread counts, as LOGIN_ACK listed them and the
   * group events since changed them.
   */
  groups(groups: Iterable<Group>, unread: Unread = NO_UNREAD): string {
    const list = [...groups];
    if (list.length === 0) return "groups: none";
    const lines = [`groups (${list.length}):`];
    for (const group of list) {
      const count = this.#unread(unread.groups.get(group.id));
      if (!group.groupname) {
        lines.push(
          `  group ${group.id}${count}  (joined now; name and members are listed after the next login)`,
        );
        continue;
      }
      const desc = group.groupdesc ? ` — ${printable(group.groupdesc)}` : "";
      lines.push(`  ${this.#paint("bold", printable(group.groupname))} #${group.id}${desc}${count}`);
      for (const member of group.users) lines.push(`    ${this.#member(member)}`);
    }
    return lines.join("\n");
  }

  /** `  3 unread`, or nothing for none. */
  #unread(count: number | undefined): string {
    return count ? `  ${this.#paint("yellow", `${count} unread`)}` : "";
  }

  #member(member: Member): string {
    const role = member.role === "creator" || member.role === "admin"
      ? this.#paint("cyan", member.role)
      : printable(member.role || "member");
    return `${this.who(member.id, member.name)}  ${role}  ${this.#state(member.state)}`;
  }

  /**
   * One chat message: `[time] bob (2): text`, `[time] devs #5 · bob (2): text`, or with `recipient`
   * (a copy of what the user sent from another device) `[time] alice (1) → bob (2): text`.
   */
  chat(message: ChatMessage, groups: Iterable<Group>, options: ChatOptions = {}): string {
    const indent = options.indent ?? "    ";
    const time = this.#paint("dim", `[${printable(message.time)}]`);
    const sender = this.#paint("bold", this.who(message.id, message.name));
    if (message.groupid === undefined) {
      const to = options.recipient ? ` → ${options.recipient}` : "";
      return `${time} ${sender}${to}: ${printable(message.msg, indent)}`;
    }
    const group = [...groups].find((g) => g.id === message.groupid);
    const where = this.#paint(
      "cyan",
      group?.groupname ? `${printable(group.groupname)} #${group.id}` : `group #${message.groupid}`,
    );
    return `${time} ${where} · ${sender}: ${printable(message.msg, indent)}`;
  }

  /**
   * A page of a conversation's history (`title` names it): each message with its `#seq`; the user's own
   * messages in a one-to-one conversation marked `✓✓ read` up to the other side's read seq.
   */
  history(title: string, page: MessagePage, options: HistoryOptions): string {
    if (page.messages.length === 0) return `${title}: no ${options.older ? "older " : ""}messages`;
    const more = page.more ? "; type more for older ones" : "";
    const lines = [`${title} (${page.messages.length}${options.older ? " older" : ""}${more}):`];
    for (const message of page.messages) {
      const seq = this.#paint("dim", `#${message.seq ?? "?"}`);
      let mark = "";
      if (options.peerread !== undefined && message.id === options.me && message.seq !== undefined) {
        mark = message.seq <= options.peerread ? `  ${this.#paint("green", "✓✓ read")}` : "  ✓ sent";
      }
      lines.push(`  ${seq} ${this.chat(message, options.groups, { indent: "      " })}${mark}`);
    }
    return lines.join("\n");
  }

  /** The other side of a one-to-one conversation (`who`) has read the user's messages up to `seq`. */
  receipt(who: string, seq: number): string {
    return `${this.#paint("green", "✓✓ read")} by ${who}: your messages up to #${seq}`;
  }

  /** Someone is typing; `where` names the group, if it is one. */
  typing(who: string, where?: string): string {
    return this.#paint("dim", `… ${who} is typing${where ? ` in ${where}` : ""}`);
  }

  /** A friend came online or went offline. */
  presence(id: number, name: string, state: Presence): string {
    return `${state === "online" ? this.#paint("green", "●") : this.#paint("dim", "○")} ${
      this.who(id, name)
    } is now ${this.#state(state)}`;
  }

  /** The help of both modes: every command, or one command with its parameters. */
  help(commands: readonly CommandSpec[], topic?: CommandSpec): string {
    if (topic) {
      const params = topic.params.map((p) => `  ${p.label.padEnd(12)} ${p.description}`);
      return [`${usage(topic)}`, `  ${topic.description}`, ...params].join("\n");
    }
    const width = Math.max(...commands.map((c) => usage(c).length));
    return [
      "commands (arguments separated by spaces, or by ':' as in chat:2:hello):",
      ...commands.map((c) => `  ${usage(c).padEnd(width)}  ${c.description}`),
    ].join("\n");
  }
}
