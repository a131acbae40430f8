/**
 * The services a test starts (MariaDB, Redis, nginx) are Debian packages. When one is missing, the test fails
 * with one line naming the package to install, not a stack trace.
 *
 * @module
 */
import { findExecutable } from "./find_executable.ts";

/** A program a test needs is not installed; the message names the Debian packages that provide it. */
export class MissingProgramError extends Error {
  /** `program`: what was looked for; `packages`: the Debian packages that install it; `note`: appended. */
  constructor(program: string, packages: string, note = "") {
    super(`${program} is not installed; this test needs it. On Debian: apt-get install ${packages}${note}`);
    this.name = "MissingProgramError";
  }
}

/** A {@linkcode MissingProgramError} without stack frames: where the lookup happened tells the reader nothing. */
function missing(program: string, packages: string, note?: string): MissingProgramError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new MissingProgramError(program, packages, note);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The path of `program` (looked up like {@linkcode findExecutable}), or a {@linkcode MissingProgramError}
 * naming `packages`; when Deno's permissions kept some PATH folders from being searched, the message says so.
 *
 * @example
 * ```ts
 * const redis = await requireProgram("redis-server", "redis-server");
 * ```
 */
export async function requireProgram(program: string, packages: string): Promise<string> {
  try {
    return await findExecutable(program);
  } catch (error) {
    const notFound = error instanceof Error &&
      error.message.match(/ not found in PATH.*?( \(not allowed .*\))?;/);
    if (notFound) throw missing(program, packages, notFound[1] ?? "");
    throw error;
  }
}

/**
 * Resolves when `path` exists, else rejects with a {@linkcode MissingProgramError} naming `packages` (for
 * files such as nginx's stream module, which is a package of its own).
 *
 * @example
 * ```ts
 * await requireFile("/usr/lib/nginx/modules/ngx_stream_module.so", "libnginx-mod-stream");
 * ```
 */
export async function requireFile(path: string, packages: string): Promise<void> {
  try {
    await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw missing(path, packages);
    throw error;
  }
}
