/**
 * Where the client keeps its state (the resume tokens): `--state-dir`, else `$CHAT_CLIENT_STATE`, else
 * `$XDG_STATE_HOME/chat-client`, else `~/.local/state/chat-client`. Environment variables and the directory
 * are used only when Deno's permissions already allow it: a client run with `--allow-net` alone never
 * prompts and never touches the disk, it just cannot remember tokens.
 */

/** The environment variables the client may read, in the order they are consulted. */
export const STATE_ENV = ["CHAT_CLIENT_STATE", "XDG_STATE_HOME", "HOME"] as const;

/** The outcome of {@linkcode resolveStateDir}: a directory, or why there is none. */
export type StateDirChoice = { dir: string } | { unavailable: string };

/** Reads an environment variable; `null` when the permission to read it is missing. */
export type EnvReader = (name: string) => string | undefined | null;

/** Reads `name` only when `--allow-env` grants it already (no prompt). */
export function permittedEnv(name: string): string | undefined | null {
  if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") return null;
  return Deno.env.get(name);
}

/**
 * Picks the state directory. A variable that cannot be read stops the search (the user may have set it,
 * and another directory would then be the wrong one), and so does a missing permission for the directory.
 *
 * @example
 * ```ts
 * resolveStateDir(undefined, (name) => name === "HOME" ? "/home/ann" : undefined, () => true);
 * // { dir: "/home/ann/.local/state/chat-client" }
 * ```
 */
export function resolveStateDir(
  flag: string | undefined,
  env: EnvReader = permittedEnv,
  allowed: (dir: string) => boolean = dirPermitted,
): StateDirChoice {
  const found = flag === undefined ? fromEnv(env) : { dir: flag };
  if ("unavailable" in found) return found;
  if (!allowed(found.dir)) {
    return {
      unavailable:
        `no permission for ${found.dir} (run with --allow-read=${found.dir} --allow-write=${found.dir})`,
    };
  }
  return found;
}

function fromEnv(env: EnvReader): StateDirChoice {
  const candidates: [string, (value: string) => string | undefined][] = [
    ["CHAT_CLIENT_STATE", (value) => value],
    // The XDG spec ignores a relative XDG_STATE_HOME.
    ["XDG_STATE_HOME", (value) => value.startsWith("/") ? `${value}/chat-client` : undefined],
    ["HOME", (value) => `${value}/.local/state/chat-client`],
  ];
  for (const [name, toDir] of candidates) {
    const value = env(name);
    if (value === null) {
      return {
        unavailable: `cannot tell whether $${name} is set (run with --allow-env=${STATE_ENV.join(",")})`,
      };
    }
    const dir = value ? toDir(value) : undefined;
    if (dir) return { dir };
  }
  return { unavailable: "neither --state-dir nor $CHAT_CLIENT_STATE nor $HOME is set" };
}

/** Whether Deno lets the client read and write `dir` without asking. */
function dirPermitted(dir: string): boolean {
  return Deno.permissions.querySync({ name: "read", path: dir }).state === "granted" &&
    Deno.permissions.querySync({ name: "write", path: dir }).state === "granted";
}
