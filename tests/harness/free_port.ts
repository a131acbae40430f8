/**
 * A free TCP port for a server that a test or bench starts (MariaDB, Redis, nginx, a chat node): tests never
 * use standard ports, which may be taken on the machine.
 *
 * @module
 */

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it, we release it).
 *
 * @example
 * ```ts
 * import { freePort } from "./free_port.ts";
 *
 * const port = freePort();
 * const listener = Deno.listen({ hostname: "127.0.0.1", port });
 * listener.close();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    return (listener.addr as Deno.NetAddr).port;
  } finally {
    listener.close();
  }
}
