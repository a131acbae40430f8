/**
 * One way to show a service URL (MySQL, Redis) in logs and error messages without its secrets.
 *
 * @module
 */

/** What {@linkcode redactUrl} returns for input that is not a URL with a host: it may be a pasted secret. */
export const INVALID_URL = "(invalid URL)";

/**
 * `url` without its secrets: the password becomes `***`, the query string and fragment are dropped (drivers
 * accept passwords there too, e.g. `?password=`), the user name and the rest stay so an operator can tell
 * which server and account were meant. Input that does not parse as a URL with a host is never echoed,
 * since it may be a secret pasted in the wrong place: it becomes {@linkcode INVALID_URL}.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./redact_url.ts";
 *
 * redactUrl("mysql://chat:s3cret@db:3306/chat?ssl=x"); // "mysql://chat:***@db:3306/chat"
 * redactUrl("redis://:s3cret@127.0.0.1:6380/0"); // "redis://:***@127.0.0.1:6380/0"
 * redactUrl("s3cret"); // "(invalid URL)"
 * ```
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return INVALID_URL;
  }
  // `new URL("pass:word")` parses, with the "secret" as scheme and path: a URL we can show has a host.
  if (parsed.host === "") return INVALID_URL;
  if (parsed.password) parsed.password = "***";
  parsed.search = "";
  parsed.hash = "";
  return parsed.href;
}
