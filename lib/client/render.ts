/**
 * Everything the client prints, as strings: the login summary, friends, groups, chat messages,
 * presence changes, errors and the plain help. Colour only when asked (a terminal without NO_COLOR).
 */
import { styleText } from "node:util";
import { errnoMeaning } from "../protocol/errno.ts";
import { type CommandSpec, usage } from "./commands.ts";
import type { ChatMessage, Friend, Group, LoginSummary, Member, Presence } from "./model.ts";

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

  /** Everything a successful login returned. */
  loginSummary(summary: LoginSummary): string {
    const lines = [this.ok(`logged in as ${this.#paint("bold", this.who(summary.id, summary.name))}`)];
    lines.push(this.friends(summary.friends), this.groups(summary.groups));
    if (summary.offline.length === 0) {
      lines.push("no offline messages");
    } else {
      lines.push(`offline messages (${summary.offline.length}):`);
      for (const message of summary.offline) lines.push("  " + this.chat(message, summary.groups, "      "));
    }
    return lines.join("\n");
  }

  /** The friend list with online states. */
  friends(friends: Iterable<Friend>): string {
    const list = [...friends];
    if (list.length === 0) return "friends: none";
    return [
      `friends (${list.length}):`,
      ...list.map((f) => `  ${this.who(f.id, f.name)}  ${this.#state(f.state)}`),
    ]
      .join("\n");
  }

  /**
   * The groups with their members, roles and states. Members are as LOGIN_ACK listed them (plus
   * presence changes): the server does not tell who joined since, so the header says so.
   */
  groups(groups: Iterable<Group>): string {
    const list = [...groups];
    if (list.length === 0) return "groups: none";
    const lines = [`groups (${list.length}, members as of login):`];
    for (const group of list) {
      if (!group.groupname) {
        lines.push(`  group ${group.id}  (joined now; name and members are listed after the next login)`);
        continue;
      }
      const desc = group.groupdesc ? ` — ${printable(group.groupdesc)}` : "";
      lines.push(`  ${this.#paint("bold", printable(group.groupname))} #${group.id}${desc}`);
      for (const member of group.users) lines.push(`    ${this.#member(member)}`);
    }
    return lines.join("\n");
  }

  #member(member: Member): string {
    const role = member.role === "creator"
      ? this.#paint("cyan", "creator")
      : printable(member.role || "member");
    return `${this.who(member.id, member.name)}  ${role}  ${this.#state(member.state)}`;
  }

  /** One chat message: `[time] bob (2): text` or `[time] devs #5 · bob (2): text`. */
  chat(message: ChatMessage, groups: Iterable<Group>, indent = "    "): string {
    const time = this.#paint("dim", `[${printable(message.time)}]`);
    const sender = this.#paint("bold", this.who(message.id, message.name));
    if (message.groupid === undefined) return `${time} ${sender}: ${printable(message.msg, indent)}`;
    const group = [...groups].find((g) => g.id === message.groupid);
    const where = this.#paint(
      "cyan",
      group?.groupname ? `${printable(group.groupname)} #${group.id}` : `group #${message.groupid}`,
    );
    return `${time} ${where} · ${sender}: ${printable(message.msg, indent)}`;
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
