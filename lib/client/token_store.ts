/**
 * The resume tokens the server hands out at login (PROTOCOL.md "Devices and resume tokens"), kept on disk so
 * that `reconnect` and a restarted client log in without the password.
 *
 * One file per (server, user, device): two clients of one user (two devices) on one machine never write the
 * same file, so neither can lose the other's token. A file is written private from the start (created with
 * mode 0600 under a temporary name, then renamed over the old one), so a reader sees the old token or the new
 * one, never half of either, and nobody else can read it even for a moment. The directory is created with
 * mode 0700 and refused when another user owns it or can open it.
 */
import { createHash } from "node:crypto";
import { TokenStoreError } from "./errors.ts";
import { resolveStateDir, type StateDirChoice } from "./state_dir.ts";

/** Whose token: the server's `HOST:PORT` as the client was given it, the user id and the device. */
export interface TokenKey {
  server: string;
  userId: number;
  device: string;
}

/** What a token file holds: the key it belongs to (checked on reading) and the token. */
interface TokenFile {
  server: string;
  id: number;
  device: string;
  token: string;
}

/**
 * Whether a directory is private to the user running the client: owned by the owner of a file the client
 * has just created in it (`fileUid`, which is the client's own uid without asking for `--allow-sys`), and
 * with no permission bits for the group or others. `undefined` when it is; otherwise the reason.
 *
 * @example
 * ```ts
 * privateDirProblem("/s", { uid: 1000, mode: 0o40700 }, 1000); // undefined
 * privateDirProblem("/s", { uid: 1000, mode: 0o40755 }, 1000); // "/s is open to other users (mode 755) …"
 * ```
 */
export function privateDirProblem(
  dir: string,
  info: Pick<Deno.FileInfo, "uid" | "mode">,
  fileUid: number | null,
): string | undefined {
  if (info.uid !== null && fileUid !== null && info.uid !== fileUid) {
    return `${dir} belongs to another user (uid ${info.uid})`;
  }
  const mode = (info.mode ?? 0) & 0o777;
  if (mode & 0o077) {
    return `${dir} is open to other users (mode ${mode.toString(8)}); make it private with chmod 700 ${dir}`;
  }
  return undefined;
}

/** The token file's name: a digest of the key, so any host name or device name makes a safe, short name. */
function fileName(key: TokenKey): string {
  const digest = createHash("sha256").update(`${key.server}\n${key.userId}\n${key.device}`).digest("hex");
  return `token-${digest.slice(0, 32)}.json`;
}

/**
 * Resume tokens in a state directory (see `state_dir.ts`).
 *
 * @example
 * ```ts
 * const tokens = new TokenStore({ dir: "/tmp/chat-client-state" });
 * const key = { server: "127.0.0.1:6000", userId: 1, device: "default" };
 * await tokens.save(key, "c2VjcmV0");
 * await tokens.load(key); // "c2VjcmV0"
 * await tokens.remove(key);
 * ```
 */
export class TokenStore {
  readonly #choice: StateDirChoice;

  /** `choice` is a directory, or why there is none (then every method is a no-op). */
  constructor(choice: StateDirChoice) {
    this.#choice = choice;
  }

  /** A store in the directory the flag or the environment names, as far as permissions allow. */
  static fromFlag(stateDir: string | undefined): TokenStore {
    return new TokenStore(resolveStateDir(stateDir));
  }

  /** Why tokens cannot be kept (no directory, no permission); `undefined` when they can. */
  get unavailable(): string | undefined {
    return "unavailable" in this.#choice ? this.#choice.unavailable : undefined;
  }

  /** The directory, when there is one. */
  get dir(): string | undefined {
    return "dir" in this.#choice ? this.#choice.dir : undefined;
  }

  /**
   * The saved token; `undefined` when there is none (or no directory). A file that is unreadable, not
   * JSON or for another key counts as none: the worst it costs is a password login.
   */
  async load(key: TokenKey): Promise<string | undefined> {
    const dir = this.dir;
    if (dir === undefined) return undefined;
    let saved: Partial<TokenFile>;
    try {
      saved = JSON.parse(await Deno.readTextFile(`${dir}/${fileName(key)}`));
    } catch {
      return undefined;
    }
    const matches = saved.server === key.server && saved.id === key.userId && saved.device === key.device;
    return matches && typeof saved.token === "string" && saved.token !== "" ? saved.token : undefined;
  }

  /**
   * Saves `token`, replacing the key's old one atomically. Throws a {@linkcode TokenStoreError} naming the
   * path and the reason when it cannot (the old file is then left as it was).
   */
  async save(key: TokenKey, token: string): Promise<void> {
    const dir = this.dir;
    if (dir === undefined) return;
    const path = `${dir}/${fileName(key)}`;
    const temporary = `${dir}/.${fileName(key)}.${crypto.randomUUID()}.tmp`;
    const body: TokenFile = { server: key.server, id: key.userId, device: key.device, token };
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
      const file = await Deno.open(temporary, { write: true, createNew: true, mode: 0o600 });
      try {
        const problem = privateDirProblem(dir, await Deno.stat(dir), (await file.stat()).uid);
        if (problem) throw new TokenStoreError(`cannot keep the login token in ${dir}: ${problem}`);
        const bytes = new TextEncoder().encode(JSON.stringify(body) + "\n");
        for (let written = 0; written < bytes.length;) written += await file.write(bytes.subarray(written));
        await file.sync();
      } finally {
        file.close();
      }
      await Deno.rename(temporary, path);
    } catch (error) {
      await Deno.remove(temporary).catch(() => {});
      if (error instanceof TokenStoreError) throw error;
      throw new TokenStoreError(`cannot save the login token to ${path}: ${describe(error)}`, {
        cause: error,
      });
    }
  }

  /** Deletes the key's token; a missing file is fine. Throws a {@linkcode TokenStoreError} otherwise. */
  async remove(key: TokenKey): Promise<void> {
    const dir = this.dir;
    if (dir === undefined) return;
    const path = `${dir}/${fileName(key)}`;
    try {
      await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw new TokenStoreError(`cannot delete the login token ${path}: ${describe(error)}`, {
        cause: error,
      });
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
