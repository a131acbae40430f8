/**
 * The simplest readiness probe for a TCP server: a connection that succeeds.
 *
 * @module
 */

/**
 * Resolves when a TCP connection to 127.0.0.1:`port` succeeds (it is closed at once); rejects otherwise.
 *
 * @example
 * ```ts ignore
 * import { canConnect } from "./can_connect.ts";
 * import { eventually } from "./eventually.ts";
 *
 * await eventually(() => canConnect(8080), { timeoutMs: 2_000, what: "nginx on 8080" });
 * ```
 */
export async function canConnect(port: number): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.close();
}
