/** main.ts as a real process: the listening line, signals, and data kept across restarts. */
import assert from "node:assert/strict";
import { ServerProcess } from "./harness/chat_node.ts";
import { TestClient } from "./harness/test_client.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-process-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("main.ts restarted on the same --db file keeps users, friends, groups and offline messages", async () => {
  await withTempDir(async (dir) => {
    const args = ["--port", "0", "--db", `${dir}/chat.db`];
    const first = await ServerProcess.start(args, `${dir}/server.log`);
    let groupid: number;
    let alice: number, bob: number;
    {
      await using client = await TestClient.connect(first.port);
      alice = (await client.request({ msgid: 4, name: "alice", password: "a-pass" })).id as number;
      bob = (await client.request({ msgid: 4, name: "bob", password: "b-pass" })).id as number;
      assert.equal((await client.request({ msgid: 1, id: alice, password: "a-pass" })).errno, 0);
      await client.request({ msgid: 7, friendid: bob });
      groupid = (await client.request({ msgid: 8, groupname: "team", groupdesc: "the team" }))
        .groupid as number;
      await client.request({ msgid: 6, toid: bob, msg: "kept across a restart 😀" });
      await client.request({ msgid: 10, groupid, msg: "nobody else here" });
    }
    const status = await first.stop("SIGTERM");
    assert.equal(status.code, 0, "SIGTERM drains and exits 0");

    await using second = await ServerProcess.start(args, `${dir}/server.log`);
    await using client = await TestClient.connect(second.port);
    const aliceLogin = await client.request({ msgid: 1, id: alice, password: "a-pass" });
    assert.equal(aliceLogin.errno, 0, "alice is not left online by the first run");
    assert.deepEqual(aliceLogin.friends, [{ id: bob, name: "bob", state: "offline" }]);
    assert.deepEqual(aliceLogin.groups, [{
      id: groupid,
      groupname: "team",
      groupdesc: "the team",
      users: [{ id: alice, name: "alice", state: "online", role: "creator" }],
    }]);
    await using bobClient = await TestClient.connect(second.port);
    const bobLogin = await bobClient.request({ msgid: 1, id: bob, password: "b-pass" });
    assert.deepEqual((bobLogin.offlinemsg as { msg: string }[]).map((m) => m.msg), [
      "kept across a restart 😀",
    ]);
  });
});

Deno.test("main.ts exits 0 on SIGINT and prints the real port for --port 0", async () => {
  await withTempDir(async (dir) => {
    const server = await ServerProcess.start(["--port", "0", "--db", ":memory:"], `${dir}/server.log`);
    assert.ok(server.port > 0);
    await using client = await TestClient.connect(server.port);
    assert.equal((await client.request({ msgid: 13 })).msgid, 14);
    const status = await server.stop("SIGINT");
    assert.equal(status.code, 0);
    await client.closed;
    const log = await Deno.readTextFile(`${dir}/server.log`);
    assert.match(log, /started/);
    assert.match(log, /stopped/);
  });
});

Deno.test("main.ts refuses a bad flag with a message naming it and exit status 2", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      new URL("../main.ts", import.meta.url).pathname,
      "--port",
      "70000",
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(output.code, 2);
  assert.match(new TextDecoder().decode(output.stderr), /--port must be an integer from 0 to 65535/);
});

Deno.test("main.ts without permission to write its data directory says which flag to add", async () => {
  await withTempDir(async (dir) => {
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        new URL("../main.ts", import.meta.url).pathname,
        "--port",
        "0",
        "--db",
        `${dir}/sub/chat.db`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(output.code, 1);
    assert.match(new TextDecoder().decode(output.stderr), /--allow-write/);
  });
});
