/** main.ts against a Redis that requires a password, given by environment or file rather than in the URL. */
import assert from "node:assert/strict";
import { ServerProcess } from "./harness/chat_node.ts";
import { RedisServer } from "./harness/redis.ts";
import { TestClient } from "./harness/test_client.ts";

const PASSWORD = "r3dis pass:@/";

Deno.test("main.ts reaches a password-protected Redis with CHAT_REDIS_PASSWORD or --redis-password-file", async (t) => {
  await using redis = await RedisServer.start({ password: PASSWORD });
  const dir = await Deno.makeTempDir({ prefix: "chat-redis-password-" });
  try {
    await t.step("CHAT_REDIS_PASSWORD", async () => {
      await using server = await ServerProcess.start(
        ["--port", "0", "--db", ":memory:", "--redis", redis.url],
        `${dir}/env.log`,
        { CHAT_REDIS_PASSWORD: PASSWORD },
      );
      await using client = await TestClient.connect(server.port);
      assert.equal((await client.request({ msgid: 4, name: "r-env", password: "x" })).errno, 0);
      assert.equal((await server.stop("SIGTERM")).code, 0);
      const log = await Deno.readTextFile(`${dir}/env.log`);
      assert.match(log, /bus connected/);
      assert.ok(!log.includes("r3dis"), "the password stays out of the log");
    });

    await t.step("--redis-password-file", async () => {
      await Deno.writeTextFile(`${dir}/redis.pw`, `${PASSWORD}\n`);
      await using server = await ServerProcess.start(
        ["--port", "0", "--db", ":memory:", "--redis", redis.url, "--redis-password-file", `${dir}/redis.pw`],
        `${dir}/file.log`,
      );
      await using client = await TestClient.connect(server.port);
      assert.equal((await client.request({ msgid: 4, name: "r-file", password: "x" })).errno, 0);
      assert.equal((await server.stop("SIGTERM")).code, 0);
      assert.match(await Deno.readTextFile(`${dir}/file.log`), /bus connected/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
