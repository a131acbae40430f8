import assert from "node:assert/strict";
import { startCeilingRelay } from "./bench/ceiling_process.ts";
import { loginPairs, PingPong } from "./bench/pingpong.ts";
import { registerUsers } from "./bench/users.ts";
import { eventually } from "./harness/eventually.ts";

Deno.test({
  name:
    "startCeilingRelay() runs the relay as a child: pingpong pairs get their messages and v2 ACKs, and close stops it",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const relay = await startCeilingRelay();
    try {
      const users = await registerUsers(relay.endpoint, 4);
      const clients = await loginPairs(users, [relay.endpoint, relay.endpoint], {
        v1: false,
        sequential: false,
      });
      const engine = new PingPong(clients, users, { v1: false, msgBytes: 16 });
      engine.start();
      await eventually(() => engine.delivered >= 100, {
        what: "messages through the relay",
        timeoutMs: 20_000,
      });
      assert.equal(await engine.stop(), 0, "every pair got its last message");
      engine.close();
      await Promise.all(clients.map((client) => client.closed));
      assert.equal(engine.errors, 0, "every ACK had errno 0");
    } finally {
      await relay.close();
    }
    await relay.close();
    await assert.rejects(Deno.connect(relay.endpoint), Deno.errors.ConnectionRefused, "the relay is gone");
  },
});
