/**
 * Finding the service programs (mariadbd, redis-server, nginx) that the harness starts.
 *
 * @module
 */

const SEARCH_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/**
 * Finds an installed program like `which` does, also looking in the sbin folders that are often missing from
 * PATH (Debian installs `mariadbd` and `nginx` in /usr/sbin). Reads PATH when `--allow-env` grants it.
 *
 * @example
 * ```ts ignore
 * import { findExecutable } from "./find_executable.ts";
 *
 * const mariadbd = await findExecutable("mariadbd"); // "/usr/sbin/mariadbd"
 * ```
 */
export async function findExecutable(name: string): Promise<string> {
  const path = Deno.permissions.querySync({ name: "env", variable: "PATH" }).state === "granted"
    ? Deno.env.get("PATH") ?? ""
    : "";
  const dirs = [...path.split(":").filter((dir) => dir.startsWith("/")), ...SEARCH_DIRS];
  const unreadable: string[] = [];
  for (const dir of new Set(dirs)) {
    const candidate = `${dir}/${name}`;
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && info.mode !== null && (info.mode & 0o111) !== 0) return candidate;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) unreadable.push(dir);
      else if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) {
        throw error;
      }
    }
  }
  const hint = unreadable.length > 0
    ? ` (not allowed to look in ${unreadable.join(", ")}: add --allow-read)`
    : "";
  throw new Error(`${name} not found in PATH or ${SEARCH_DIRS.join(", ")}${hint}; is it installed?`);
}
