/**
 * The ceiling relay (`ceiling_server.ts`) as a child process of the bench, so that `pingpong --ceiling` can
 * measure it in the same run as the server.
 *
 * @module
 */

import type { Endpoint } from "./args.ts";

const CEILING = new URL("./ceiling_server.ts", import.meta.url).pathname;
/** The relay prints its port at once; a start slower than this is a broken one. */
const START_TIMEOUT_MS = 20_000;

/** A running ceiling relay. */
export interface CeilingRelay extends AsyncDisposable {
  readonly endpoint: Endpoint;
  readonly pid: number;
  /** Stops the relay (SIGTERM) and waits for it. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts `ceiling_server.ts` on a free port, with a v2 ACK per message (the server's workload).
 *
 * @example
 * ```ts ignore
 * await using relay = await startCeilingRelay();
 * const client = await LoadClient.connect(relay.endpoint);
 * ```
 */
export async function startCeilingRelay(): Promise<CeilingRelay> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", CEILING, "--port", "0"],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = setTimeout(() => child.kill("SIGKILL"), START_TIMEOUT_MS);
  let text = "";
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`the ceiling relay exited before listening (${CEILING})`);
      text += value;
      const match = text.match(/listening on (\S+):(\d+)/);
      if (!match) continue;
      // Keep draining stdout so the relay never blocks on it.
      (async () => {
        while (!(await reader.read()).done);
      })().catch(() => {});
      let closed: Promise<void> | undefined;
      const close = () =>
        closed ??= (async () => {
          try {
            child.kill("SIGTERM");
          } catch {
            // Already exited.
          }
          await child.status;
        })();
      return {
        endpoint: { hostname: match[1], port: Number(match[2]) },
        pid: child.pid,
        close,
        [Symbol.asyncDispose]: close,
      };
    }
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    throw error;
  } finally {
    clearTimeout(deadline);
  }
}
