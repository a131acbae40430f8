/**
 * The client with a server that keeps conversations (PROTOCOL.md "v2 extensions"), end to end: devices,
 * history, unread counts, read receipts, typing, and login tokens kept in a state directory, including a
 * reconnect after a node restart. `client.ts` runs as a real subprocess (`ClientProcess`) with a temporary
 * state directory, or in this process as a `ChatClient` where a test must drop its connection.
 */
import assert from "node:assert/strict";
import { ChatClient } from "../lib/client/chat_client.ts";
import { Renderer } from "../lib/client/render.ts";
import { TokenStore } from "../lib/client/token_store.ts";
import { directConv } from "../lib/conversation_name.ts";
import { RecordingOutput } from "./client_output.ts";
import { ClientProcess } from "./client_process.ts";
import { ServerProcess, startTestNode } from "./harness/chat_node.ts";
import { freePort } from "./harness/free_port.ts";
import { TestClient } from "./harness/test_client.ts";
import { registerUser, uniqueName } from "./protocol_suite.ts";

/** A registered user. */
interface User {
  id: number;
  name: string;
  password: string;
}

async function newUser(port: number, prefix: string): Promise<User> {
  const name = uniqueName(prefix);
  const password = `pw ${name}`;
  return { id: await registerUser(port, name, password), name, password };
}

/** A v2 connection logged in as `user` (on `device`, when given). */
async function connectAs(port: number, user: User, device?: string): Promise<TestClient> {
  const client = await TestClient.connect(port);
  const login = await client.request({ msgid: 1, id: user.id, password: user.password, device });
  assert.equal(login.errno, 0, JSON.stringify(login));
  return client;
}

/** `bob (2)` as the client names a user it knows. */
const who = (user: User) => `${user.name} (${user.id})`;

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A temporary directory for `fn`, removed afterwards; the state directory is `${dir}/state`. */
async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-client-conv-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function files(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names;
}

/** A test with a fresh in-process server and a state directory. */
function serverTest(name: string, fn: (port: number, stateDir: string) => Promise<void>): void {
  Deno.test(name, async () => {
    await using node = await startTestNode();
    await withDir((dir) => fn(node.port, `${dir}/state`));
  });
}

serverTest(
  "client.ts --device: two devices of one user get each message, and see what the other sent",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    const bob = await newUser(port, "bob");
    await using laptop = new ClientProcess(port, { stateDir, args: ["--device", "laptop"] });
    await using phone = new ClientProcess(port, { stateDir, args: ["--device", "phone"] });
    await laptop.send(`login ${alice.id} ${alice.password}`);
    await laptop.waitFor(/logged in/);
    await phone.send(`login ${alice.id} ${alice.password}`);
    await phone.waitFor(/logged in/);
    assert.equal((await files(stateDir)).length, 2, "one token per device");

    await using bobClient = await connectAs(port, bob);
    assert.equal(
      (await bobClient.request({ msgid: 6, toid: alice.id, msg: "hello both", time: "t1" })).errno,
      0,
    );
    await laptop.waitFor(new RegExp(`\\[t1\\] ${escape(who(bob))}: hello both\n`));
    await phone.waitFor(new RegExp(`\\[t1\\] ${escape(who(bob))}: hello both\n`));

    await phone.send(`chat ${bob.id} from my phone`);
    await phone.waitFor(new RegExp(`✓ sent to ${escape(who(bob))}\n`));
    await laptop.waitFor(new RegExp(`${escape(who(alice))} → ${escape(who(bob))}: from my phone\n`));
    assert.equal((await bobClient.nextOf(6)).msg, "from my phone");

    assert.equal(await laptop.finish(), 0, laptop.stderr);
    assert.equal(await phone.finish(), 0, phone.stderr);
    assert.equal(laptop.stdout.match(/hello both/g)?.length, 1, "shown once");
  },
);

serverTest(
  "client.ts history pages backwards with more; own messages show ✓✓ read once the other side read",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    const bob = await newUser(port, "bob");
    {
      await using aliceSetup = await connectAs(port, alice);
      await using bobSetup = await connectAs(port, bob);
      // Bob writes 1 and 3, alice 2, 4 and 5: bob's own message 3 moved his read seq to 3.
      for (let i = 1; i <= 5; i++) {
        const [from, to] = i === 1 || i === 3 ? [bobSetup, alice] : [aliceSetup, bob];
        assert.equal((await from.request({ msgid: 6, toid: to.id, msg: `m${i}`, time: `t${i}` })).errno, 0);
      }
      const read = await bobSetup.request({ msgid: 18, conv: directConv(alice.id, bob.id), seq: 2 });
      assert.deepEqual([read.errno, read.readseq], [0, 3], "a read seq never goes back");
    }
    await using client = new ClientProcess(port, { stateDir });
    await client.send(`login ${alice.id} ${alice.password}`, `history ${bob.id} 3`, "more", "more");
    assert.equal(await client.finish(), 1, "the last more has nothing left to show");
    const lines = client.stdout.split("\n");
    const start = lines.indexOf(`history with ${who(bob)} (3; type more for older ones):`);
    assert.ok(start >= 0, client.stdout);
    assert.deepEqual(lines.slice(start, start + 7), [
      `history with ${who(bob)} (3; type more for older ones):`,
      `  #3 [t3] ${who(bob)}: m3`,
      `  #4 [t4] ${who(alice)}: m4  ✓ sent`,
      `  #5 [t5] ${who(alice)}: m5  ✓ sent`,
      `history with ${who(bob)} (2 older):`,
      `  #1 [t1] ${who(bob)}: m1`,
      `  #2 [t2] ${who(alice)}: m2  ✓✓ read`,
    ]);
    assert.match(client.stderr, /✗ more: nothing older to show/);
  },
);

serverTest(
  "client.ts friends and groups show unread counts, and read clears them",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    const bob = await newUser(port, "bob");
    const carol = await newUser(port, "carol");
    const groupname = uniqueName("team");
    let groupid: number;
    {
      await using aliceSetup = await connectAs(port, alice);
      assert.equal((await aliceSetup.request({ msgid: 7, friendid: bob.id })).errno, 0);
      groupid = (await aliceSetup.request({ msgid: 8, groupname, groupdesc: "" })).groupid as number;
    }
    {
      await using bobSetup = await connectAs(port, bob);
      assert.equal((await bobSetup.request({ msgid: 9, groupid })).errno, 0);
      for (const msg of ["one", "two"]) await bobSetup.request({ msgid: 6, toid: alice.id, msg });
      await bobSetup.request({ msgid: 10, groupid, msg: "to the team" });
      await using carolSetup = await connectAs(port, carol);
      await carolSetup.request({ msgid: 6, toid: alice.id, msg: "hi from a stranger" });
    }
    await using client = new ClientProcess(port, { stateDir });
    await client.send(
      `login ${alice.id} ${alice.password}`,
      "friends",
      `read ${bob.id}`,
      `read g:${groupid}`,
      "friends",
      "groups",
    );
    assert.equal(await client.finish(), 0, client.stderr);
    const out = client.stdout;
    const unreadFriends = [
      "friends (1):",
      `  ${who(bob)}  offline  2 unread`,
      "others with unread messages:",
      `  ${who(carol)}  1 unread`,
    ].join("\n");
    assert.equal(out.split(unreadFriends).length, 3, `in the login summary and for friends:\n${out}`);
    assert.match(out, new RegExp(`  ${escape(groupname)} #${groupid}  1 unread\n`), "in the login summary");
    assert.match(out, new RegExp(`✓ read up to #2 with ${escape(who(bob))}\n`));
    assert.match(out, new RegExp(`✓ read up to #1 with group ${escape(groupname)} #${groupid}\n`));
    assert.ok(
      out.endsWith(
        [
          "friends (1):",
          `  ${who(bob)}  offline`,
          "others with unread messages:",
          `  ${who(carol)}  1 unread`,
          "groups (1):",
          `  ${groupname} #${groupid}`,
          `    ${who(alice)}  creator  online`,
          `    ${who(bob)}  normal  offline`,
          "",
        ].join("\n"),
      ),
      out,
    );
  },
);

serverTest(
  "client.ts read sends a RECEIPT to the other side, and shows the other side's as ✓✓ read",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    const bob = await newUser(port, "bob");
    await using bobClient = await connectAs(port, bob);
    await using client = new ClientProcess(port, { stateDir });
    await client.send(`login ${alice.id} ${alice.password}`, `chat ${bob.id} are you there?`);
    await client.waitFor(/✓ sent to/);
    const chat = await bobClient.nextOf(6);
    assert.equal((await bobClient.request({ msgid: 18, conv: chat.conv, seq: chat.seq })).errno, 0);
    // Bob is neither a friend nor has he written yet: the client knows him by id.
    await client.waitFor(new RegExp(`✓✓ read by user ${bob.id}: your messages up to #${chat.seq}\n`));

    await bobClient.request({ msgid: 6, toid: alice.id, msg: "yes" });
    await client.waitFor(/: yes\n/);
    await client.send(`read ${bob.id}`, `typing ${bob.id}`);
    const receipt = await bobClient.nextOf(19);
    assert.deepEqual([receipt.conv, receipt.id, receipt.seq], [chat.conv, alice.id, 2]);
    const typing = await bobClient.nextOf(20);
    assert.deepEqual([typing.conv, typing.id], [chat.conv, alice.id]);
    bobClient.send({ msgid: 20, v: 2, conv: chat.conv });
    await client.waitFor(new RegExp(`… ${escape(who(bob))} is typing\n`));
    assert.equal(await client.finish(), 0, client.stderr);
  },
);

serverTest(
  "client.ts keeps the token private; a restarted client logs in with login <id>; loginout deletes it",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    {
      await using first = new ClientProcess(port, { stateDir });
      await first.send(`login ${alice.id} ${alice.password}`);
      assert.equal(await first.finish(), 0, first.stderr);
      assert.ok(!first.stdout.includes("not kept"), first.stdout);
    }
    const [name] = await files(stateDir);
    assert.equal((await Deno.stat(stateDir)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${stateDir}/${name}`)).mode! & 0o777, 0o600);
    const saved = JSON.parse(await Deno.readTextFile(`${stateDir}/${name}`));
    assert.deepEqual([saved.server, saved.id, saved.device], [`127.0.0.1:${port}`, alice.id, "default"]);
    assert.ok((saved.token as string).length >= 22, "at least 128 bits");

    await using second = new ClientProcess(port, { stateDir });
    await second.send(`login ${alice.id}`, "loginout", `login ${alice.id}`);
    assert.equal(await second.finish(), 1);
    assert.match(second.stdout, new RegExp(`✓ logged in as ${escape(who(alice))}`));
    assert.match(second.stdout, /✓ logged out/);
    assert.equal(
      second.stderr,
      `✗ login: no saved token for user ${alice.id} at 127.0.0.1:${port}; log in with: login ${alice.id} <password>\n`,
    );
    assert.deepEqual(await files(stateDir), []);
    // The server revoked it too.
    await using check = await TestClient.connect(port);
    assert.equal((await check.request({ msgid: 1, id: alice.id, token: saved.token })).errno, 1);
  },
);

serverTest(
  "client.ts: a token the server refuses is deleted and the password is asked for",
  async (port, stateDir) => {
    const alice = await newUser(port, "alice");
    {
      await using first = new ClientProcess(port, { stateDir, args: ["--device", "tablet"] });
      await first.send(`login ${alice.id} ${alice.password}`);
      assert.equal(await first.finish(), 0, first.stderr);
    }
    // A password login of the same device elsewhere replaces the device's token.
    (await connectAs(port, alice, "tablet")).close();
    await using second = new ClientProcess(port, { stateDir, args: ["--device", "tablet"] });
    await second.send(`login ${alice.id}`);
    assert.equal(await second.finish(), 1);
    assert.equal(
      second.stderr,
      `✗ login: the saved token for user ${alice.id} was refused (expired, revoked or replaced) and is deleted; ` +
        `log in with: login ${alice.id} <password>\n`,
    );
    assert.deepEqual(await files(stateDir), []);
  },
);

Deno.test("client.ts without permission for a state directory runs as before and says once it cannot keep tokens", async () => {
  await using node = await startTestNode();
  const alice = await newUser(node.port, "alice");
  await using client = new ClientProcess(node.port);
  await client.send(`login ${alice.id} ${alice.password}`, "loginout", `login ${alice.id} ${alice.password}`);
  assert.equal(await client.finish(), 0, client.stderr);
  assert.equal(
    client.stdout.split("\n").filter((line) => line.includes("login tokens are not kept")).join("\n"),
    "! login tokens are not kept after the client exits: cannot tell whether $CHAT_CLIENT_STATE is set " +
      "(run with --allow-env=CHAT_CLIENT_STATE,XDG_STATE_HOME,HOME)",
  );
});

Deno.test("ChatClient after a node restart: reconnect logs in with the saved token and shows what it missed, in order", async () => {
  await withDir(async (dir) => {
    const port = freePort();
    const args = ["--port", String(port), "--db", `${dir}/chat.db`, "--log-level", "warn"];
    let server = await ServerProcess.start(args, `${dir}/server.log`);
    try {
      const alice = await newUser(port, "alice");
      const bob = await newUser(port, "bob");
      const tokens = new TokenStore({ dir: `${dir}/state` });
      const lines = new RecordingOutput();
      const settings = {
        hostname: "127.0.0.1",
        port,
        render: new Renderer({ color: false }),
        heartbeatMs: 0,
      };
      {
        // A first run logs in with the password: the token is saved.
        await using first = new ChatClient({
          ...settings,
          output: new RecordingOutput(),
          tokens,
          device: "laptop",
          onLost: () => {},
        });
        assert.ok(await first.connect());
        assert.ok(await first.execute({ name: "login", id: alice.id, password: alice.password }));
      }
      // A restarted client knows no password: only the token.
      await using laptop = new ChatClient({
        ...settings,
        output: lines,
        tokens,
        device: "laptop",
        onLost: (m) => lines.event(m),
      });
      assert.ok(await laptop.connect());
      assert.ok(await laptop.execute({ name: "login", id: alice.id }));
      {
        await using bobClient = await connectAs(port, bob);
        await bobClient.request({ msgid: 6, toid: alice.id, msg: "before the restart", time: "t" });
      }
      await lines.waitFor(/before the restart/);

      const seen = lines.lines.length;
      await server.stop("SIGKILL");
      await lines.waitFor(/connection to .* lost/, seen);
      server = await ServerProcess.start(args, `${dir}/server.log`);
      {
        // While the laptop is away, alice's phone and bob write to the same conversation.
        await using phone = await connectAs(port, alice, "phone");
        await using bobClient = await connectAs(port, bob);
        await phone.request({ msgid: 6, toid: bob.id, msg: "from the phone", time: "t" });
        await bobClient.request({ msgid: 6, toid: alice.id, msg: "while you were away", time: "t" });
        await phone.request({ msgid: 6, toid: bob.id, msg: "phone again", time: "t" });
      }
      assert.ok(await laptop.execute({ name: "reconnect" }));
      await laptop.settled();
      const after = lines.texts().slice(seen).join("\n");
      assert.match(after, new RegExp(`logging in again as ${escape(who(alice))}\n✓ logged in as`));
      const order = ["from the phone", "while you were away", "phone again"].map((text) =>
        after.indexOf(text)
      );
      assert.ok(order.every((index, i) => index >= 0 && (i === 0 || index > order[i - 1])), after);
      assert.equal(after.split("while you were away").length, 2, `shown once:\n${after}`);
      assert.match(after, new RegExp(`${escape(who(alice))} → ${escape(who(bob))}: from the phone`));
    } finally {
      await server.stop("SIGKILL");
    }
  });
});
