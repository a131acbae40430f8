/**
 * The client's command table and its line parser.
 *
 * A line is `command arg arg rest…` or, as in the original C++ client, `command:arg:rest…`. The last
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
  /** The rest of the line, exactly. Only as the last parameter. */
  | "text";

/** One parameter of a command. */
export interface ParamSpec {
  /** The name in usage lines and the key in {@linkcode Command}. */
  label: string;
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

/** A parsed, validated command. */
export type Command =
  | { name: "register"; username: string; password: string }
  | { name: "login"; id: number; password: string }
  | { name: "chat"; id: number; message: string }
  | { name: "addfriend"; id: number }
  | { name: "creategroup"; groupname: string; description: string }
  | { name: "addgroup"; groupid: number }
  | { name: "groupchat"; groupid: number; message: string }
  | { name: "friends" }
  | { name: "groups" }
  | { name: "loginout" }
  | { name: "reconnect" }
  | { name: "help"; topic?: CommandName }
  | { name: "quit" };

/** The name of a command. */
export type CommandName = Command["name"];

const id = (label: string, description: string): ParamSpec => ({ label, kind: "id", description });
const rest = (label: string): ParamSpec => ({ label, kind: "text", description: "the rest of the line" });

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
    params: [id("id", "your user id"), rest("password")],
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
  { name: "friends", description: "List friends and who is online", params: [], scope: "loggedIn" },
  { name: "groups", description: "List groups and their members", params: [], scope: "loggedIn" },
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

/** The outcome of {@linkcode parseLine}. */
export type ParseResult =
  | { kind: "command"; command: Command }
  | { kind: "empty" }
  | { kind: "error"; message: string };

/** Ids are positive integers that JSON and the server represent exactly. */
function parseId(text: string, param: ParamSpec): number | string {
  const value = /^\d+$/.test(text) ? Number(text) : NaN;
  if (Number.isSafeInteger(value) && value > 0) return value;
  const what = param.label === "groupid" ? "group id" : "user id";
  return `invalid ${what} ${JSON.stringify(text)}: ids are positive whole numbers`;
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
  const values: Record<string, string | number> = {};
  const bad = (why: string): ParseResult => ({ kind: "error", message: `${why}; usage: ${usage(spec)}` });

  for (const param of spec.params) {
    let value: string;
    if (param.kind === "text") {
      value = rest;
      rest = "";
    } else {
      const end = colon ? rest.indexOf(":") : rest.search(/\s/);
      value = (end < 0 ? rest : rest.slice(0, end)).trim();
      rest = end < 0 ? "" : colon ? rest.slice(end + 1) : rest.slice(end).replace(/^\s+/, "");
    }
    if (value === "") {
      if (param.optional) continue;
      return bad(`missing ${param.label}`);
    }
    if (param.kind === "id") {
      const parsed = parseId(value, param);
      if (typeof parsed === "string") return bad(parsed);
      values[param.label] = parsed;
    } else {
      values[param.label] = value;
    }
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
