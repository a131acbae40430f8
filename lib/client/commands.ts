/**
 * The client's command table and its line parser.
 *
 * A line is `command arg arg rest…` or, as in the original C++ client, `command:arg:rest…` (a
 * conversation `g:5` keeps its colon: `history:g:5:20`). The last
 * parameter of `chat`, `groupchat`, `creategroup`, `register` and `login` is the raw rest of the line:
 * any Unicode, punctuation, quotes, `@words` and inner spaces are kept exactly (npm:cliffy's own
 * tokenizer would drop or reinterpret them, which is why lines are parsed here).
 */
import { DEFAULT_LIMITS } from "../protocol/limits.ts";

/** How a parameter's text is read. */
export type ParamKind =
  /** A positive integer id. */
  | "id"
  /** One word (up to the next space, or the next `:` in colon syntax). */
  | "word"
  /** A conversation: a user id, or `g:` and a group id. */
  | "target"
  /** How many messages: a whole number from 1 to {@linkcode MAX_PAGE}. */
  | "count"
  /** The rest of the line, exactly. Only as the last parameter. */
  | "text";

/** One parameter of a command. */
export interface ParamSpec {
  /** The name in usage lines, and the key in {@linkcode Command} unless `key` names another. */
  label: string;
  key?: string;
  kind: ParamKind;
  description: string;
  optional?: boolean;
}

/** When a command may be used. */
export type CommandScope = "always" | "loggedOut" | "loggedIn";

/** One entry of the command table. */
export interface CommandSpec {
  name: CommandName;
  description: string;
  params: ParamSpec[];
  scope: CommandScope;
  /** Other words that run the same command (not listed in help). */
  aliases?: string[];
}

/** Whom a conversation command is about: a user (the one-to-one conversation) or a group. */
export type Target = { user: number } | { group: number };

/** The longest note a friend request may carry (PROTOCOL.md "Friends"). */
export const FRIEND_NOTE_MAX = 200;

/** The most messages one HISTORY page may ask for (the server's default page limit). */
export const MAX_PAGE = 1000;

/** Messages `history` shows when no count is given. */
export const DEFAULT_HISTORY = 20;

/** A parsed, validated command. */
export type Command =
  | { name: "register"; username: string; password: string }
  /** Without a password: the token this client saved for the user. */
  | { name: "login"; id: number; password?: string }
  | { name: "chat"; id: number; message: string }
  | { name: "addfriend"; id: number }
  | { name: "creategroup"; groupname: string; description: string }
  | { name: "addgroup"; groupid: number }
  | { name: "groupchat"; groupid: number; message: string }
  | { name: "request"; id: number; note?: string }
  | { name: "accept"; id: number }
  | { name: "decline"; id: number }
  | { name: "requests" }
  | { name: "unfriend"; id: number }
  | { name: "block"; id: number }
  | { name: "unblock"; id: number }
  | { name: "leave"; groupid: number }
  | { name: "kick"; groupid: number; id: number }
  | { name: "admin"; groupid: number; id: number }
  | { name: "unadmin"; groupid: number; id: number }
  | { name: "rename"; groupid: number; groupname: string }
  | { name: "friends" }
  | { name: "groups" }
  | { name: "history"; target: Target; count?: number }
  | { name: "more" }
  | { name: "read"; target: Target }
  | { name: "typing"; target: Target }
  | { name: "loginout" }
  | { name: "reconnect" }
  | { name: "help"; topic?: CommandName }
  | { name: "quit" };

/** The name of a command. */
export type CommandName = Command["name"];

const id = (label: string, description: string): ParamSpec => ({ label, kind: "id", description });
const rest = (label: string): ParamSpec => ({ label, kind: "text", description: "the rest of the line" });
const target: ParamSpec = {
  label: "user|g:group",
  key: "target",
  kind: "target",
  description: "a user id (your conversation with them), or g: and a group id",
};

/** Every command, in the order help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "register",
    description: "Create an account",
    params: [
      { label: "username", kind: "word", description: `1-${DEFAULT_LIMITS.name} characters, no spaces` },
      rest("password"),
    ],
    scope: "loggedOut",
  },
  {
    name: "login",
    description: "Log in; shows friends, groups",
    params: [
      id("id", "your user id"),
      {
        label: "password",
        kind: "text",
        description: "the rest of the line; without it, the token saved at your last login",
        optional: true,
      },
    ],
    scope: "loggedOut",
  },
  {
    name: "chat",
    description: "Send a message to a user",
    params: [id("id", "the user's id"), rest("message")],
    scope: "loggedIn",
  },
  {
    name: "addfriend",
    description: "Add a friend",
    params: [id("id", "the user's id")],
    scope: "loggedIn",
  },
  {
    name: "request",
    description: "Ask a user to be friends",
    params: [id("id", "the user's id"), {
      label: "note",
      kind: "text",
      description: `optional, up to ${FRIEND_NOTE_MAX} characters: the rest of the line`,
      optional: true,
    }],
    scope: "loggedIn",
  },
  {
    name: "accept",
    description: "Accept a friend request",
    params: [id("id", "who asked")],
    scope: "loggedIn",
  },
  {
    name: "decline",
    description: "Decline a friend request",
    params: [id("id", "who asked")],
    scope: "loggedIn",
  },
  { name: "requests", description: "List friend requests to answer", params: [], scope: "loggedIn" },
  {
    name: "unfriend",
    description: "Remove a friend",
    params: [id("id", "the friend's id")],
    scope: "loggedIn",
  },
  {
    name: "block",
    description: "Block a user: no messages, no requests",
    params: [id("id", "the user's id")],
    scope: "loggedIn",
  },
  {
    name: "unblock",
    description: "Unblock a user",
    params: [id("id", "the user's id")],
    scope: "loggedIn",
  },
  {
    name: "creategroup",
    description: "Create a group",
    params: [
      {
        label: "groupname",
        kind: "word",
        description: `1-${DEFAULT_LIMITS.groupname} characters, no spaces`,
      },
      {
        label: "description",
        kind: "text",
        description: `optional, up to ${DEFAULT_LIMITS.groupdesc} characters: the rest of the line`,
        optional: true,
      },
    ],
    scope: "loggedIn",
  },
  {
    name: "addgroup",
    description: "Join a group",
    params: [id("groupid", "the group's id")],
    scope: "loggedIn",
  },
  {
    name: "groupchat",
    description: "Send a message to a group",
    params: [id("groupid", "the group's id"), rest("message")],
    scope: "loggedIn",
  },
  {
    name: "leave",
    description: "Leave a group",
    params: [id("groupid", "the group's id")],
    scope: "loggedIn",
  },
  {
    name: "kick",
    description: "Remove a member from a group",
    params: [id("groupid", "the group's id"), id("id", "the member's id")],
    scope: "loggedIn",
  },
  {
    name: "admin",
    description: "Make a member an admin (creator only)",
    params: [id("groupid", "the group's id"), id("id", "the member's id")],
    scope: "loggedIn",
  },
  {
    name: "unadmin",
    description: "Make an admin a normal member again",
    params: [id("groupid", "the group's id"), id("id", "the member's id")],
    scope: "loggedIn",
  },
  {
    name: "rename",
    description: "Rename a group (creator, admins)",
    params: [id("groupid", "the group's id"), {
      label: "name",
      key: "groupname",
      kind: "text",
      description: `1-${DEFAULT_LIMITS.groupname} characters: the rest of the line`,
    }],
    scope: "loggedIn",
  },
  {
    name: "friends",
    description: "List friends, who is online, unread",
    params: [],
    scope: "loggedIn",
  },
  { name: "groups", description: "List groups, members, unread", params: [], scope: "loggedIn" },
  {
    name: "history",
    description: "Show a conversation's last messages",
    params: [target, {
      label: "n",
      key: "count",
      kind: "count",
      description: `how many, 1-${MAX_PAGE} (${DEFAULT_HISTORY})`,
      optional: true,
    }],
    scope: "loggedIn",
  },
  { name: "more", description: "Show older messages of that history", params: [], scope: "loggedIn" },
  { name: "read", description: "Mark a conversation read (✓✓ read)", params: [target], scope: "loggedIn" },
  { name: "typing", description: "Tell a conversation you are typing", params: [target], scope: "loggedIn" },
  {
    name: "loginout",
    description: "Log out, stay connected",
    params: [],
    scope: "loggedIn",
    aliases: ["logout"],
  },
  { name: "reconnect", description: "Connect again after a loss", params: [], scope: "always" },
  {
    name: "help",
    description: "List commands or explain one",
    params: [{ label: "command", kind: "word", description: "a command name", optional: true }],
    scope: "always",
  },
  { name: "quit", description: "Leave the client", params: [], scope: "always", aliases: ["exit"] },
];

const byWord = new Map<string, CommandSpec>();
for (const spec of COMMANDS) {
  byWord.set(spec.name, spec);
  for (const alias of spec.aliases ?? []) byWord.set(alias, spec);
}

/** The spec of a command name or alias (case-insensitive). */
export function findCommand(word: string): CommandSpec | undefined {
  return byWord.get(word.toLowerCase());
}

/** `chat <id> <message>`. */
export function usage(spec: CommandSpec): string {
  return [spec.name, ...spec.params.map((p) => p.optional ? `[${p.label}]` : `<${p.label}>`)].join(" ");
}

/** A parameter's value, or why the text is not one. */
type Parsed = { value: string | number | Target } | { error: string };

/** A user id, or `g:` and a group id. */
function parseTarget(text: string): Parsed {
  const group = /^g:(.*)$/i.exec(text);
  const id = parseId(group ? group[1] : text, { label: group ? "groupid" : "id" });
  if ("error" in id) return { error: `${id.error}; a conversation is a user id or g:<group id>` };
  return { value: group ? { group: id.value as number } : { user: id.value as number } };
}

function parseCount(text: string): Parsed {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isSafeInteger(value) && value >= 1 && value <= MAX_PAGE) return { value };
  return { error: `invalid count ${JSON.stringify(text)}: a whole number from 1 to ${MAX_PAGE}` };
}

function parseParam(param: ParamSpec, text: string): Parsed {
  switch (param.kind) {
    case "id":
      return parseId(text, param);
    case "target":
      return parseTarget(text);
    case "count":
      return parseCount(text);
    default:
      return { value: text };
  }
}

/** The outcome of {@linkcode parseLine}. */
export type ParseResult =
  | { kind: "command"; command: Command }
  | { kind: "empty" }
  | { kind: "error"; message: string };

/** Ids are positive integers that JSON and the server represent exactly. */
function parseId(text: string, param: Pick<ParamSpec, "label">): Parsed {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isSafeInteger(value) && value > 0) return { value };
  const what = param.label === "groupid" ? "group id" : "user id";
  return { error: `invalid ${what} ${JSON.stringify(text)}: ids are positive whole numbers` };
}

/**
 * Parses one input line. The command word is case-insensitive and followed by spaces or a `:`; a
 * `text` parameter is the rest of the line exactly as typed (in space syntax, after the spaces that
 * separate it from the previous argument).
 *
 * @example
 * ```ts
 * parseLine("chat 2 héllo, @bob 😀"); // { kind: "command", command: { name: "chat", id: 2, message: "héllo, @bob 😀" } }
 * parseLine("chat:2:hi: there");      // message "hi: there"
 * ```
 */
export function parseLine(line: string): ParseResult {
  const text = line.replace(/^\s+/, "");
  if (text.trim() === "") return { kind: "empty" };
  const head = /^([^\s:]*)(:|\s+|$)/.exec(text)!;
  const spec = findCommand(head[1]);
  if (!spec) {
    const word = head[1] || text.split(/\s/)[0];
    return { kind: "error", message: `unknown command ${JSON.stringify(word)}; type help for the list` };
  }
  const colon = head[2] === ":";
  let rest = text.slice(head[0].length);
  const values: Record<string, string | number | Target> = {};
  const bad = (why: string): ParseResult => ({ kind: "error", message: `${why}; usage: ${usage(spec)}` });

  for (const param of spec.params) {
    let value: string;
    if (param.kind === "text") {
      value = rest;
      rest = "";
    } else {
      // In colon syntax a group conversation's own colon is part of the argument.
      const skip = colon && param.kind === "target" && /^g:/i.test(rest) ? 2 : 0;
      const end = colon ? rest.indexOf(":", skip) : rest.search(/\s/);
      value = (end < 0 ? rest : rest.slice(0, end)).trim();
      rest = end < 0 ? "" : colon ? rest.slice(end + 1) : rest.slice(end).replace(/^\s+/, "");
    }
    if (value === "") {
      if (param.optional) continue;
      return bad(`missing ${param.label}`);
    }
    const parsed = parseParam(param, value);
    if ("error" in parsed) return bad(parsed.error);
    values[param.key ?? param.label] = parsed.value;
  }
  if (rest.trim() !== "") return bad(`unexpected ${JSON.stringify(rest.trim())}`);

  if (spec.name === "help" && values.command !== undefined) {
    const topic = findCommand(String(values.command));
    if (!topic) {
      return {
        kind: "error",
        message: `no command ${JSON.stringify(values.command)}; type help for the list`,
      };
    }
    return { kind: "command", command: { name: "help", topic: topic.name } };
  }
  if (spec.name === "creategroup") values.description ??= "";
  // The table and the Command union name the same fields; the checks above enforce the kinds.
  return { kind: "command", command: { name: spec.name, ...values } as Command };
}
