/**
 * The server's version, printed by `deno task serve --version`.
 *
 * @example
 * ```ts
 * import { VERSION } from "./version.ts";
 * console.log(`chat server ${VERSION}`);
 * ```
 */
export const VERSION = "3.1.0";
