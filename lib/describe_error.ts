/**
 * One line for an error in a log field: what went wrong and, for a wrapped error, why.
 *
 * @module
 */

/** How many wrapped causes {@linkcode describeError} follows (a cause chain can be a cycle). */
const MAX_CAUSES = 3;

/**
 * `"<code or name>: <message>"`, followed by `(cause: …)` for each wrapped `cause` (at most three). A
 * driver's error code (`ER_BAD_DB_ERROR`, `ECONNREFUSED`) says more than its class name, so it wins when
 * present. Anything that is not an Error-like object is converted with `String()`.
 *
 * It repeats messages as they are: callers must not put credentials into error messages (see
 * `redact_url.ts`).
 *
 * @example
 * ```ts
 * import { describeError } from "./describe_error.ts";
 *
 * describeError(new RangeError("too big")); // "RangeError: too big"
 * describeError(new Error("no bus", { cause: new Error("refused") })); // "Error: no bus (cause: Error: refused)"
 * describeError("plain"); // "plain"
 * ```
 */
export function describeError(error: unknown): string {
  let text = describeOne(error);
  let cause = causeOf(error);
  for (let depth = 0; depth < MAX_CAUSES && cause !== undefined; depth++) {
    text += ` (cause: ${describeOne(cause)})`;
    cause = causeOf(cause);
  }
  return text;
}

function describeOne(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { code, name, message } = error as { code?: unknown; name?: unknown; message?: unknown };
  if (typeof message !== "string") return String(error);
  const label = typeof code === "string" ? code : typeof name === "string" ? name : "Error";
  return `${label}: ${message}`;
}

function causeOf(error: unknown): unknown {
  if (typeof error !== "object" || error === null) return undefined;
  return (error as { cause?: unknown }).cause;
}
