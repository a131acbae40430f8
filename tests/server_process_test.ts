/**
 * main.ts as a real process: the listening line, signals, data kept across restarts, and the start errors a
 * user must be able to act on (a database outside the permitted directory, a port in use, `--version`).
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { ServerProcess } from "./harness/chat_node.ts";
import { member } from "./protocol_suite.ts";
import { TestClient } from "./harness/test_client.ts";
import { VERSION } from "../lib/version.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno` with `args` to completion (from the checkout unless `cwd` says otherwise). */
async function deno(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<Output> {
  const output = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: output.code, stdout: decode(output.stdout), stderr: decode(output.stderr) };
}

/** The `deno run …` line that a refused start prints after "Run instead:". */
function suggestedCommand(stderr: string): string {
  const match = stderr.match(/Run instead:\n {2}(deno run [^\n]+)/);
  assert.ok(match, `no suggested command in: ${stderr}`);
  return match[1];
}

/** Runs a shell command line as printed (with this test's deno first on PATH) until it prints its port. */
async function startShellServer(commandLine: string): Promise<{ port: number; child: Deno.ChildProcess }> {
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${commandLine}`],
    env: { PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? ""}` },
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (true) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      assert.fail(`the printed command exited before listening: ${commandLine}`);
    }
    text += value;
    const match = text.match(/listening on \S+:(\d+)/);
    if (match) {
      reader.releaseLock();
      child.stdout.cancel().catch(() => {});
      return { port: Number(match[1]), child };
    }
  }
}

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

Deno.test("main.ts finishes its drain when a second signal arrives during it (Ctrl-C under deno task cluster)", async () => {
  await withTempDir(async (dir) => {
    const server = await ServerProcess.start(["--port", "0", "--db", `${dir}/chat.db`], `${dir}/server.log`);
    // Logged-in users make the drain take a while: each logout is written to the store.
    const members = await Promise.all(Array.from({ length: 40 }, () => member(server.port)));
    Deno.kill(server.pid, "SIGINT");
    // A terminal's Ctrl-C reaches every node, and the cluster's SIGTERM follows a moment later, mid-drain.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, "the second signal did not kill the node");
    assert.match(await Deno.readTextFile(`${dir}/server.log`), /stopped/);
    for (const { client } of members) client.close();
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

Deno.test("deno task serve --db outside ./data fails naming a deno run command that then serves", async () => {
  await withTempDir(async (dir) => {
    const db = `${dir}/chat-data/chat.db`;
    const refused = await deno(["task", "--quiet", "serve", "--port", "0", "--db", db]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /may not read or write/);
    assert.match(refused.stderr, /`deno task serve` may write only under \.\/data/);
    const command = suggestedCommand(refused.stderr);
    assert.ok(command.includes(`--allow-write=${dir}/chat-data `), command);
    assert.ok(command.includes(`--allow-read=${dir}/chat-data,${ROOT}sql `), command);
    assert.ok(command.endsWith(`--port 0 --db ${db}`), command);
    await assert.rejects(
      Deno.stat(`${dir}/chat-data`),
      Deno.errors.NotFound,
      "nothing created by the refusal",
    );

    const { port, child } = await startShellServer(command);
    try {
      await using client = await TestClient.connect(port);
      const reply = await client.request({ msgid: 4, name: "anywhere", password: "pw" });
      assert.equal(reply.errno, 0);
      assert.ok((await Deno.stat(db)).isFile, "the database is where the user asked");
    } finally {
      child.kill("SIGTERM");
      assert.equal((await child.status).code, 0);
    }
  });
});

Deno.test("deno task serve with CHAT_DB outside ./data prints the same kind of command", async () => {
  await withTempDir(async (dir) => {
    const refused = await deno(["task", "--quiet", "serve", "--port", "0"], {
      env: { CHAT_DB: `${dir}/env.db` },
    });
    assert.equal(refused.code, 1);
    assert.match(suggestedCommand(refused.stderr), new RegExp(`--allow-write=${dir} `));
  });
});

Deno.test("main.ts given a relative --db it may not write names the absolute path in the command", async () => {
  await withTempDir(async (dir) => {
    const refused = await deno(
      [
        "run",
        "--allow-net",
        "--allow-env",
        "--allow-read=./data",
        "--allow-write=./data",
        MAIN,
        "--db",
        "chat2.db",
      ],
      { cwd: dir },
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`cannot use the database ${dir}/chat2\\.db`));
    assert.ok(suggestedCommand(refused.stderr).endsWith(`--db ${dir}/chat2.db`));
  });
});

Deno.test("main.ts --version prints the version and exits 0", async () => {
  const output = await deno(["task", "--quiet", "serve", "--version"]);
  assert.equal(output.code, 0);
  assert.match(output.stdout, new RegExp(`^chat server ${VERSION.replaceAll(".", "\\.")} `));
});

for (const listener of ["chat", "metrics"] as const) {
  const flag = listener === "chat" ? "--port" : "--metrics-port";
  Deno.test(`main.ts on a ${listener} port in use names the port, the ${listener} listener and ${flag}`, async () => {
    using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const ports = listener === "chat"
      ? ["--port", String(taken.addr.port)]
      : ["--port", "0", "--metrics-port", String(taken.addr.port)];
    const output = await deno([
      "run",
      "--allow-net",
      "--allow-env",
      `--allow-read=${ROOT}sql`,
      MAIN,
      "--db",
      ":memory:",
      ...ports,
    ]);
    assert.equal(output.code, 1);
    assert.match(
      output.stderr,
      new RegExp(`the ${listener} port 127\\.0\\.0\\.1:${taken.addr.port} is already in use`),
    );
    assert.match(output.stderr, new RegExp(`choose another ${flag}`));
  });
}

Deno.test("main.ts with --metrics-port names the metrics address in its started line", async () => {
  await withTempDir(async (dir) => {
    const server = await ServerProcess.start(
      ["--port", "0", "--db", ":memory:", "--metrics-port", "0"],
      `${dir}/server.log`,
    );
    assert.equal((await server.stop("SIGTERM")).code, 0);
    const started = (await Deno.readTextFile(`${dir}/server.log`)).split("\n").find((line) =>
      / started /.test(line)
    );
    assert.match(started ?? "", / metrics=http:\/\/127\.0\.0\.1:\d+\/metrics /);
  });
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
