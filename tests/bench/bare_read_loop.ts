/**
 * The memory floor of an idle Deno TCP connection: a server that does nothing but keep one pending
 * `conn.read()` per socket (a manual read loop, as `lib/net/connection.ts` has), and K idle client
 * connections to it. Prints the server's RSS growth per connection, the figure the README compares the chat
 * server's `deno task bench idle` result with.
 *
 * Usage: `deno run --allow-net --allow-run --allow-read tests/bench/bare_read_loop.ts [--connections K]
 * [--buffer BYTES]` (defaults 10000 and 64). The server is this file run again with `--serve`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { sampleProcess } from "./process_stats.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    serve: { type: "boolean" },
    connections: { type: "string", default: "10000" },
    buffer: { type: "string", default: "64" },
  },
});
const bufferBytes = Number(values.buffer);

if (values.serve) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  console.log(listener.addr.port);
  for await (const conn of listener) {
    (async () => {
      const buffer = new Uint8Array(bufferBytes);
      try {
        while (await conn.read(buffer) !== null) { /* idle: nothing arrives */ }
      } catch {
        // Reset by the peer.
      }
      conn.close();
    })();
  }
} else {
  const count = Number(values.connections);
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      new URL(import.meta.url).pathname,
      "--serve",
      "--buffer",
      String(bufferBytes),
    ],
    stdout: "piped",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value);
  const settle = () => new Promise((resolve) => setTimeout(resolve, 2000));
  await settle();
  const before = (await sampleProcess(server.pid))!.rss;
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < count; i++) conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
  await settle();
  const after = (await sampleProcess(server.pid))!.rss;
  console.log(
    `${count} idle connections, ${bufferBytes}-byte read buffer: server RSS ${
      (before / 2 ** 20).toFixed(1)
    } → ` +
      `${(after / 2 ** 20).toFixed(1)} MiB, ${
        ((after - before) / count / 1024).toFixed(1)
      } KiB per connection`,
  );
  for (const conn of conns) conn.close();
  server.kill("SIGKILL");
  await server.status;
}
