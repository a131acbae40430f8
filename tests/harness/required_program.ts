/**
 * The services a test starts (MariaDB, Redis, nginx) are Debian packages. When one is missing, the test fails
 * with one line naming the package to install, not a stack trace.
 *
 * @module
 */
import { findExecutable } from "./free_port.ts";

/** A program a test needs is not installed; the message names the Debian packages that provide it. */
export class MissingProgramError extends Error {
  /** `program`: what was looked for; `packages`: the Debian packages that install it. */
  constructor(program: string, packages: string) {
    super(`${program} is not installed; this test needs it. On Debian: apt-get install ${packages}`);
    this.name = "MissingProgramError";
  }
}

/** A {@linkcode MissingProgramError} without stack frames: where the lookup happened tells the reader nothing. */
function missing(program: string, packages: string): MissingProgramError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new MissingProgramError(program, packages);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/**
 * The path of `program` (looked up like {@linkcode findExecutable}), or a {@linkcode MissingProgramError}
 * naming `packages`. A lookup that Deno's permissions prevented keeps its own message, which names the flag.
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
    if (
      error instanceof Error && / not found in PATH/.test(error.message) &&
      !/--allow-read/.test(error.message)
    ) {
      throw missing(program, packages);
    }
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
