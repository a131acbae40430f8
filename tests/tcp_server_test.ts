/** `TcpServer`'s accept loop against real sockets on a free port. */
import assert from "node:assert/strict";
import type { ConnectionHandler } from "../lib/net/connection.ts";
import { ACCEPTS_PER_TURN, TcpServer } from "../lib/net/tcp_server.ts";

Deno.test(
  "TcpServer accepts and serves every connection of a backlog several turns of accepts long",
  { sanitizeOps: true, sanitizeResources: true },
  async () => {
    const count = 4 * ACCEPTS_PER_TURN + 1;
    const frames = new Set<string>();
    const allRead = Promise.withResolvers<void>();
    const handler: ConnectionHandler<unknown> = {
      onFrame: (_connection, text) => {
        frames.add(text ?? "");
        if (frames.size === count) allRead.resolve();
      },
      onFrameTooLarge: () => {},
      onClose: () => {},
    };
    await using server = TcpServer.listen({ hostname: "127.0.0.1", port: 0 }, handler);
    // Every client connects and writes before the server has taken any of them: one backlog of `count`.
    const clients = await Promise.all(
      Array.from({ length: count }, () => Deno.connect({ hostname: "127.0.0.1", port: server.port })),
    );
    try {
      await Promise.all(
        clients.map((client, i) => client.write(new TextEncoder().encode(`{"msgid":13,"cid":${i}}\n`))),
      );
      await allRead.promise;
      assert.equal(server.connections.size, count);
    } finally {
      for (const client of clients) client.close();
    }
  },
);
