/**
 * The embedded database may live anywhere its user can write, but `deno task serve` may write only under
 * `./data` (DESIGN.md "Permissions": no broader grant than the design needs). A path outside that scope is
 * refused up front, with the exact `deno run` command that grants its directory and nothing more.
 *
 * @module
 */
import { dirname, resolve } from "node:path";

const ROOT = new URL("../", import.meta.url);
const MAIN = new URL("main.ts", ROOT).pathname;
/** The schema the embedded store reads at start (`sql/schema_sqlite.sql`). */
const SQL_DIR = new URL("sql", ROOT).pathname;

/** Options for {@linkcode dbPathProblem}. */
export interface DbPathProblemOptions {
  /** The server's command-line arguments, repeated in the suggested command (default `Deno.args`). */
  args?: readonly string[];
}

/**
 * Why the SQLite file at `path` cannot be used with this process's Deno permissions, as one message that ends
 * with a command that works; `undefined` when the permissions are enough (or `path` is `:memory:`). SQLite
 * writes `-wal` and `-shm` files beside the database, so the grant is its directory.
 *
 * @example
 * ```ts
 * const problem = dbPathProblem("/srv/chat/chat.db", { args: ["--db", "/srv/chat/chat.db"] });
 * if (problem) console.error(problem);
 * ```
 */
export function dbPathProblem(path: string, options: DbPathProblemOptions = {}): string | undefined {
  if (path === ":memory:") return undefined;
  const dir = dirname(resolve(path));
  const readable = Deno.permissions.querySync({ name: "read", path: dir }).state === "granted";
  const writable = Deno.permissions.querySync({ name: "write", path: dir }).state === "granted";
  if (readable && writable) return undefined;
  return `cannot use the database ${resolve(path)}: this process may not ${
    readable ? "write" : writable ? "read" : "read or write"
  } ${dir} (\`deno task serve\` may write only under ./data). Run instead:\n  ${
    serveCommand(dir, { args: withDb(options.args ?? Deno.args, path) })
  }`;
}

/**
 * The `deno run` command line that serves with the database directory `dir` readable and writable, the schema
 * readable, and `args` (a relative `--db` made absolute) after it.
 *
 * @example
 * ```ts
 * serveCommand("/srv/chat", { args: ["--db", "/srv/chat/chat.db"] });
 * // deno run --allow-net --allow-env --allow-read=/srv/chat,.../sql --allow-write=/srv/chat .../main.ts --db /srv/chat/chat.db
 * ```
 */
export function serveCommand(dir: string, options: { args: readonly string[] }): string {
  return [
    "deno",
    "run",
    "--allow-net",
    "--allow-env",
    `--allow-read=${dir},${SQL_DIR}`,
    `--allow-write=${dir}`,
    MAIN,
    ...absoluteDb(options.args),
  ].map(shellQuote).join(" ");
}

/**
 * `args`, plus `--db PATH` when the path came from `CHAT_DB`: the printed command must work in a shell where that
 * variable is not set.
 */
function withDb(args: readonly string[], path: string): readonly string[] {
  return args.some((arg) => arg === "--db" || arg.startsWith("--db=")) ? args : [...args, "--db", path];
}

/** `args` with the value of `--db` (either form) resolved against the current directory. */
function absoluteDb(args: readonly string[]): string[] {
  return args.map((arg, i) => {
    if (arg.startsWith("--db=")) return `--db=${absolute(arg.slice(5))}`;
    if (args[i - 1] === "--db") return absolute(arg);
    return arg;
  });
}

function absolute(path: string): string {
  return path === ":memory:" ? path : resolve(path);
}

/**
 * Why creating or opening the database failed with an operating-system permission error, and what to do.
 *
 * @example
 * ```ts
 * console.error(dbPathDenied("/srv/chat/chat.db"));
 * ```
 */
export function dbPathDenied(path: string): string {
  const dir = dirname(resolve(path));
  return `cannot create or open the database ${
    resolve(path)
  }: the system denies this user access to ${dir}. ` +
    `Create the directory and give this user write access, e.g. sudo install -d -o "$USER" ${
      shellQuote(dir)
    }`;
}

function shellQuote(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
