/**
 * The REPL client: its line parser, and `client.ts` in script mode (stdin piped) as a real subprocess
 * against a real server, with TestClients on the other end.
 */
import assert from "node:assert/strict";
import { parseLine } from "../lib/client/commands.ts";
import { UsageError } from "../lib/client/errors.ts";
import { connectionSettings, parseClientArgs } from "../lib/client/options.ts";
import { HELP_LINES } from "./client_help.ts";
import { freePort } from "./harness/free_port.ts";
import { ServerProcess, startTestNode } from "./harness/chat_node.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { member, registerUser, uniqueName } from "./protocol_suite.ts";
import { assertLines, ClientProcess } from "./client_process.ts";

const encoder = new TextEncoder();

/** Text that npm:cliffy's tokenizer would mangle: it must reach the other side exactly. */
const TRICKY = `你好, "bob" & 'carol' — 😀👩‍👩‍👧 @bob #tag \\back\\slash <b>100%</b>?! ¿Qué tal?  two  spaces:`;

/** Runs a whole script and returns the exit code and output. */
async function runScript(port: number, lines: string[], args = ["--wait", "0"]) {
  await using client = new ClientProcess(port, { args });
  await client.send(...lines);
  const code = await client.finish();
  return { code, stdout: client.stdout, stderr: client.stderr };
}

/** A test with a fresh in-process server. */
function serverTest(name: string, fn: (port: number) => Promise<void>): void {
  Deno.test(name, async () => {
    await using node = await startTestNode();
    await fn(node.port);
  });
}

// --- the parser ---

Deno.test("connectionSettings() passes every connection flag to the ChatClient, for both front ends", () => {
  const options = parseClientArgs([
    "--host",
    "::1",
    "--port",
    "6001",
    "--timeout",
    "500",
    "--heartbeat",
    "0",
    "--device",
    "my laptop",
    "--state-dir",
    "/tmp/chat-client-settings",
  ]);
  assert.ok(options);
  const { tokens, ...settings } = connectionSettings(options);
  assert.deepEqual(settings, {
    hostname: "::1",
    port: 6001,
    requestTimeoutMs: 500,
    heartbeatMs: 0,
    device: "my laptop",
  });
  assert.equal(tokens?.dir, "/tmp/chat-client-settings");
  const defaults = connectionSettings(parseClientArgs([])!);
  assert.equal(defaults.device, undefined, 'no --device: the server\'s device "default"');
});

Deno.test("parseClientArgs() refuses a --device that is not 1-64 printable ASCII, and an empty --state-dir", () => {
  assert.equal(parseClientArgs(["--device", "~ a-Z 0 !"])?.device, "~ a-Z 0 !");
  assert.equal(parseClientArgs(["--device", "x".repeat(64)])?.device?.length, 64);
  for (const bad of ["", "x".repeat(65), "téléphone", "tab\there", "😀"]) {
    assert.throws(
      () => parseClientArgs(["--device", bad]),
      (error: Error) =>
        error instanceof UsageError && /^--device must be 1 to 64 printable ASCII/.test(error.message),
      JSON.stringify(bad),
    );
  }
  assert.throws(() => parseClientArgs(["--state-dir", ""]), /--state-dir must not be empty/);
});

Deno.test("parseLine() reads space and colon syntax and keeps the message exactly", () => {
  assert.deepEqual(parseLine(`chat 2 ${TRICKY}`), {
    kind: "command",
    command: { name: "chat", id: 2, message: TRICKY },
  });
  assert.deepEqual(parseLine(`  CHAT   2   hi  there  `), {
    kind: "command",
    command: { name: "chat", id: 2, message: "hi  there  " },
  });
  assert.deepEqual(parseLine(`chat:2:${TRICKY}`), {
    kind: "command",
    command: { name: "chat", id: 2, message: TRICKY },
  });
  assert.deepEqual(parseLine("chat:2: leading: colons:kept"), {
    kind: "command",
    command: { name: "chat", id: 2, message: " leading: colons:kept" },
  });
  assert.deepEqual(parseLine("groupchat:7:@all hello"), {
    kind: "command",
    command: { name: "groupchat", groupid: 7, message: "@all hello" },
  });
  assert.deepEqual(parseLine("creategroup:devs:all the devs"), {
    kind: "command",
    command: { name: "creategroup", groupname: "devs", description: "all the devs" },
  });
  assert.deepEqual(parseLine("creategroup devs"), {
    kind: "command",
    command: { name: "creategroup", groupname: "devs", description: "" },
  });
  assert.deepEqual(parseLine("register ålice pass word"), {
    kind: "command",
    command: { name: "register", username: "ålice", password: "pass word" },
  });
  assert.deepEqual(parseLine("login 12 s3cret"), {
    kind: "command",
    command: { name: "login", id: 12, password: "s3cret" },
  });
  assert.deepEqual(parseLine("addfriend:3"), { kind: "command", command: { name: "addfriend", id: 3 } });
  assert.deepEqual(parseLine("loginout"), { kind: "command", command: { name: "loginout" } });
  assert.deepEqual(parseLine("logout"), { kind: "command", command: { name: "loginout" } });
  assert.deepEqual(parseLine("help chat"), { kind: "command", command: { name: "help", topic: "chat" } });
  assert.deepEqual(parseLine("   "), { kind: "empty" });
});

Deno.test("parseLine() reads login without a password, and the conversation commands in both syntaxes", () => {
  const command = (line: string) => {
    const result = parseLine(line);
    assert.equal(result.kind, "command", `${line} → ${JSON.stringify(result)}`);
    return (result as { command: unknown }).command;
  };
  assert.deepEqual(command("login 12"), { name: "login", id: 12 });
  assert.deepEqual(command("login:12"), { name: "login", id: 12 });
  assert.deepEqual(command("history 2"), { name: "history", target: { user: 2 } });
  assert.deepEqual(command("history 2 50"), { name: "history", target: { user: 2 }, count: 50 });
  assert.deepEqual(command("HISTORY g:5 1000"), { name: "history", target: { group: 5 }, count: 1000 });
  assert.deepEqual(command("history:g:5:20"), { name: "history", target: { group: 5 }, count: 20 });
  assert.deepEqual(command("history:G:5"), { name: "history", target: { group: 5 } });
  assert.deepEqual(command("history:2:1"), { name: "history", target: { user: 2 }, count: 1 });
  assert.deepEqual(command("more"), { name: "more" });
  assert.deepEqual(command("read 3"), { name: "read", target: { user: 3 } });
  assert.deepEqual(command("read:g:4"), { name: "read", target: { group: 4 } });
  assert.deepEqual(command("typing g:4"), { name: "typing", target: { group: 4 } });
});

Deno.test("parseLine() rejects a bad conversation or count", () => {
  const error = (line: string) => {
    const result = parseLine(line);
    assert.equal(result.kind, "error", `${line} → ${JSON.stringify(result)}`);
    return (result as { message: string }).message;
  };
  assert.equal(error("history"), "missing user|g:group; usage: history <user|g:group> [n]");
  assert.equal(
    error("history bob"),
    'invalid user id "bob": ids are positive whole numbers; a conversation is a user id or g:<group id>; ' +
      "usage: history <user|g:group> [n]",
  );
  assert.match(error("history g:"), /invalid group id "": ids are positive whole numbers/);
  assert.match(error("history g:0"), /invalid group id "0"/);
  assert.match(error("read u:1:2"), /invalid user id "u:1:2"/);
  assert.match(error("history 2 0"), /invalid count "0": a whole number from 1 to 1000; usage: history/);
  assert.match(error("history 2 1001"), /invalid count "1001"/);
  assert.match(error("history 2 ten"), /invalid count "ten"/);
  assert.match(error("history 2 10 more"), /unexpected "more"/);
  assert.match(error("more 2"), /unexpected "2"; usage: more/);
  assert.match(error("typing"), /missing user\|g:group; usage: typing <user\|g:group>/);
});

Deno.test("parseLine() rejects unknown commands, bad ids, missing and extra arguments", () => {
  const error = (line: string) => {
    const result = parseLine(line);
    assert.equal(result.kind, "error", `${line} → ${JSON.stringify(result)}`);
    return (result as { message: string }).message;
  };
  assert.match(error("frobnicate 1 2"), /unknown command "frobnicate"/);
  assert.match(error(":2:hi"), /unknown command/);
  assert.match(error("chat abc hello"), /invalid user id "abc"/);
  assert.match(error("chat 2x hello"), /invalid user id "2x"/);
  assert.match(error("chat -1 hello"), /invalid user id "-1"/);
  assert.match(error("chat 0 hello"), /invalid user id "0"/);
  assert.match(error("chat 99999999999999999999 hello"), /invalid user id/);
  assert.match(error("groupchat g1 hello"), /invalid group id "g1"/);
  assert.match(error("addgroup 1.5"), /invalid group id/);
  assert.match(error("chat 2"), /missing message; usage: chat <id> <message>/);
  assert.match(error("chat 2    "), /missing message/);
  assert.match(error("chat:2:"), /missing message/);
  assert.match(error("addfriend"), /missing id/);
  assert.match(error("addfriend 2 3"), /unexpected "3"/);
  assert.match(error("friends please"), /unexpected "please"/);
  assert.match(error("help nothing"), /no command "nothing"/);
});

// --- script mode against a server ---

serverTest(
  "client.ts script mode: register, then log in with the printed id, log out, exit 0",
  async (port) => {
    const name = uniqueName("alice");
    await using client = new ClientProcess(port);
    await client.send(`register ${name} pass word 🔑`);
    const [, id] = await client.waitFor(new RegExp(`registered ${name} \\((\\d+)\\)`));
    await client.send(`login ${id} pass word 🔑`);
    await client.waitFor(new RegExp(`logged in as ${name} \\(${id}\\)`));
    await client.send("loginout");
    await client.waitFor(/logged out/);
    assert.equal(await client.finish(), 0, client.stderr);
    assert.equal(client.stderr, "");
    await using check = await TestClient.connect(port);
    assert.equal((await check.request({ msgid: 1, id: Number(id), password: "pass word 🔑" })).errno, 0);
  },
);

serverTest("client.ts script mode: every command; a second client receives the text intact", async (port) => {
  const aliceName = uniqueName("alice");
  const alice = await registerUser(port, aliceName, "pw");
  const bob = await member(port);
  const bobsGroup = uniqueName("g");
  const group = await bob.client.request({ msgid: 8, groupname: bobsGroup, groupdesc: "bob's group" });
  const groupid = group.groupid as number;
  const mine = uniqueName("mine");

  const { code, stdout, stderr } = await runScript(port, [
    "# a comment, then a blank line",
    "",
    "help",
    "help chat",
    `login ${alice} pw`,
    `addfriend ${bob.id}`,
    `chat ${bob.id} ${TRICKY}`,
    `chat:${bob.id}: ${TRICKY}`,
    `creategroup ${mine} my own group ✓`,
    `addgroup ${groupid}`,
    `groupchat ${groupid} ${TRICKY}`,
    `groupchat:${groupid}:@bob 中文`,
    "friends",
    "groups",
    "loginout",
  ]);
  assert.equal(code, 0, stderr);
  assert.equal(stderr, "");

  const chat1 = await bob.client.nextOf(6);
  const chat2 = await bob.client.nextOf(6);
  assert.deepEqual([chat1.id, chat1.name, chat1.msg], [alice, aliceName, TRICKY]);
  assert.equal(chat2.msg, " " + TRICKY, "colon syntax keeps everything after the second colon");
  assert.match(chat1.time as string, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  const group1 = await bob.client.nextOf(10);
  const group2 = await bob.client.nextOf(10);
  assert.deepEqual([group1.groupid, group1.msg, group2.msg], [groupid, TRICKY, "@bob 中文"]);

  assertLines(
    stdout,
    ...HELP_LINES,
    "chat <id> <message>",
    "  Send a message to a user",
    "  id           the user's id",
    "  message      the rest of the line",
  );
  assert.match(stdout, new RegExp(`logged in as ${aliceName} \\(${alice}\\)`));
  assert.match(stdout, new RegExp(`added user ${bob.id} to your friends`));
  assert.match(stdout, new RegExp(`sent to user ${bob.id}`));
  assert.match(stdout, new RegExp(`created group ${mine} #\\d+`));
  assert.match(stdout, new RegExp(`joined group ${bobsGroup} #${groupid}`));
  assert.match(stdout, new RegExp(`sent to group ${bobsGroup} #${groupid}`));
  assert.match(
    stdout,
    new RegExp(`friends \\(1\\):\n  user ${bob.id}  state unknown`),
    "the local copy has the friend",
  );
  assert.match(
    stdout,
    new RegExp(`${mine} #\\d+ — my own group ✓\n    ${aliceName} \\(${alice}\\)  creator  online`),
  );
  assertLines(
    stdout,
    `  ${bobsGroup} #${groupid} — bob's group`,
    `    ${aliceName} (${alice})  normal  online`,
    `    ${bob.name} (${bob.id})  creator  online`,
  );
  assert.ok(!stdout.includes("joined g:"), "this client's own join is printed once, as its result");
  assert.match(stdout, /logged out/);
  bob.client.close();
});

serverTest(
  "client.ts script mode: login shows friends with state, groups with roles, offline messages",
  async (port) => {
    const aliceName = uniqueName("alice");
    const alice = await registerUser(port, aliceName, "pw");
    const bob = await member(port);
    const carolName = uniqueName("carol");
    const carol = await registerUser(port, carolName, "pw");
    const groupname = uniqueName("team");
    let groupid: number;
    {
      await using setup = await TestClient.connect(port);
      await setup.request({ msgid: 1, id: alice, password: "pw" });
      await setup.request({ msgid: 7, friendid: bob.id });
      await setup.request({ msgid: 7, friendid: carol });
      groupid = (await setup.request({ msgid: 8, groupname, groupdesc: "the team 🏆" })).groupid as number;
      assert.equal((await bob.client.request({ msgid: 9, groupid })).errno, 0);
      await setup.request({ msgid: 3 });
    }
    await bob.client.request({
      msgid: 6,
      toid: alice,
      msg: "while you were out 📬",
      time: "2026-01-02 03:04:05",
    });
    assert.equal((await bob.client.request({ msgid: 10, groupid, msg: "team news" })).errno, 0);

    const { code, stdout, stderr } = await runScript(port, [`login ${alice} pw`, "friends", "groups"]);
    assert.equal(code, 0, stderr);
    const summary = stdout.split("\n");
    const expectLines = (...lines: string[]) => assertLines(stdout, ...lines);
    expectLines(`✓ logged in as ${aliceName} (${alice})`);
    // The unread counts come from the SYNC list the client asks for after the login.
    expectLines(
      "friends (2):",
      `  ${bob.name} (${bob.id})  online  1 unread`,
      `  ${carolName} (${carol})  offline`,
    );
    expectLines(
      "groups (1):",
      `  ${groupname} #${groupid} — the team 🏆  1 unread`,
      `    ${aliceName} (${alice})  creator  online`,
      `    ${bob.name} (${bob.id})  normal  online`,
    );
    expectLines(
      "offline messages (2):",
      `  [2026-01-02 03:04:05] ${bob.name} (${bob.id}): while you were out 📬`,
    );
    assert.match(
      stdout,
      new RegExp(`  \\[[^\\]]+\\] ${groupname} #${groupid} · ${bob.name} \\(${bob.id}\\): team news`),
    );
    assert.equal(
      summary.filter((line) => line === "friends (2):").length,
      2,
      "friends lists the local copy again",
    );
    bob.client.close();
  },
);

serverTest(
  "client.ts script mode: incoming messages and presence are printed as they arrive",
  async (port) => {
    const aliceName = uniqueName("alice");
    const alice = await registerUser(port, aliceName, "pw");
    const bobName = uniqueName("bob");
    const bobId = await registerUser(port, bobName, "pw");
    await using client = new ClientProcess(port);
    await client.send(`login ${alice} pw`, `addfriend ${bobId}`, `creategroup ${uniqueName("g")} ours`);
    const [, groupid] = await client.waitFor(/created group \S+ #(\d+)/);

    await using bob = await TestClient.connect(port);
    assert.equal((await bob.request({ msgid: 1, id: bobId, password: "pw" })).errno, 0);
    await client.waitFor(new RegExp(`● user ${bobId} is now online`));
    assert.equal((await bob.request({ msgid: 9, groupid: Number(groupid) })).errno, 0);
    await bob.request({ msgid: 6, toid: alice, msg: TRICKY, time: "2026-11-22 10:00:00" });
    await client.waitFor(
      new RegExp(`\\[2026-11-22 10:00:00\\] ${bobName} \\(${bobId}\\): ${escape(TRICKY)}\n`),
    );
    await bob.request({ msgid: 6, toid: alice, msg: "two\nlines \u001b[31m" });
    await client.waitFor(new RegExp(`${bobName} \\(${bobId}\\): two\n    lines \\\\u001b\\[31m\n`));
    await bob.request({ msgid: 10, groupid: Number(groupid), msg: "group hello 👋" });
    await client.waitFor(new RegExp(`#${groupid} · ${bobName} \\(${bobId}\\): group hello 👋`));
    await client.send("friends");
    await client.waitFor(new RegExp(`friends \\(1\\):\n  ${bobName} \\(${bobId}\\)  online`));
    bob.close();
    await client.waitFor(new RegExp(`○ ${bobName} \\(${bobId}\\) is now offline`));
    assert.equal(await client.finish(), 0, client.stderr);
  },
);

serverTest(
  "client.ts script mode: users and groups it knows are named in receipts, presence and group messages",
  async (port) => {
    const aliceName = uniqueName("alice");
    const alice = await registerUser(port, aliceName, "pw");
    const bobName = uniqueName("bob");
    const bobId = await registerUser(port, bobName, "pw");
    const stranger = await registerUser(port, uniqueName("carol"), "pw");
    const groupname = uniqueName("rustaceans");
    let groupid: number;
    {
      await using setup = await TestClient.connect(port);
      await setup.request({ msgid: 1, id: alice, password: "pw" });
      await setup.request({ msgid: 7, friendid: bobId });
      groupid = (await setup.request({ msgid: 8, groupname, groupdesc: "" })).groupid as number;
      await setup.request({ msgid: 3 });
      await using bobSetup = await TestClient.connect(port);
      await bobSetup.request({ msgid: 1, id: bobId, password: "pw" });
      assert.equal((await bobSetup.request({ msgid: 9, groupid })).errno, 0);
      await bobSetup.request({ msgid: 3 });
    }
    await using client = new ClientProcess(port);
    await client.send(`login ${alice} pw`);
    await client.waitFor(/logged in/);
    await using bob = await TestClient.connect(port);
    assert.equal((await bob.request({ msgid: 1, id: bobId, password: "pw" })).errno, 0);
    await client.waitFor(/is now online\n/);
    await bob.request({ msgid: 10, groupid, msg: "hi team", time: "2026-11-22 10:00:00" });
    await client.waitFor(/hi team\n/);
    await client.send(`chat ${bobId} hello`, `groupchat ${groupid} hello all`, `chat ${stranger} who?`);
    assert.equal(await client.finish(), 0, client.stderr);
    assertLines(
      client.stdout,
      `● ${bobName} (${bobId}) is now online`,
      `[2026-11-22 10:00:00] ${groupname} #${groupid} · ${bobName} (${bobId}): hi team`,
      `✓ sent to ${bobName} (${bobId})`,
      `✓ sent to group ${groupname} #${groupid}`,
      `✓ sent to user ${stranger}`,
    );
  },
);

serverTest(
  "client.ts script mode: groups lists each group with its members and their roles",
  async (port) => {
    const aliceName = uniqueName("alice");
    const alice = await registerUser(port, aliceName, "pw");
    await using client = new ClientProcess(port);
    await client.send(`login ${alice} pw`, `creategroup ${uniqueName("g")}`);
    const [, groupname, groupid] = await client.waitFor(/created group (\S+) #(\d+)/);
    const carol = await member(port);
    assert.equal((await carol.client.request({ msgid: 9, groupid: Number(groupid) })).errno, 0);
    await client.send("groups");
    assert.equal(await client.finish(), 0, client.stderr);
    assertLines(
      client.stdout,
      "groups (1):",
      `  ${groupname} #${groupid}`,
      `    ${aliceName} (${alice})  creator  online`,
    );
    carol.client.close();
  },
);

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

serverTest(
  "client.ts script mode: after the last line it keeps printing incoming messages for --wait ms",
  async (port) => {
    const alice = await registerUser(port, uniqueName("alice"), "pw");
    const bob = await member(port);
    await using client = new ClientProcess(port, { args: ["--wait", "1500"] });
    await client.send(`login ${alice} pw`);
    await client.waitFor(/logged in/);
    const exited = client.finish();
    await bob.client.request({ msgid: 6, toid: alice, msg: "just in time" });
    assert.equal(await exited, 0, client.stderr);
    assert.match(client.stdout, new RegExp(`${bob.name} \\(${bob.id}\\): just in time`));
    bob.client.close();
  },
);

serverTest("client.ts script mode: quit stops reading", async (port) => {
  const { code, stdout, stderr } = await runScript(port, ["quit", "chat 1 never sent", "frobnicate"]);
  assert.deepEqual([code, stdout, stderr], [0, "", ""]);
});

Deno.test({
  name: "client.ts script mode: bad commands and ids fail locally, nothing is sent, exit 1",
  fn: async () => {
    // A fake server that accepts any login and records every frame: the bad lines must never reach it.
    await using fake = new RecordingServer();
    const { code, stdout, stderr } = await runScript(fake.port, [
      "frobnicate now",
      "chat 2 before login",
      "login abc pw",
      "login 1 pw",
      "chat abc hi",
      "chat 2x hi",
      "addfriend -3",
      "addgroup",
      "groupchat 1.5 hi",
      "chat 2",
      "creategroup",
      "login 1 pw",
      "friends extra",
    ]);
    assert.equal(code, 1);
    assert.match(stdout, /logged in as alice \(1\)/);
    const errors = stderr.trimEnd().split("\n");
    assert.deepEqual(errors, [
      '✗ unknown command "frobnicate"; type help for the list',
      "✗ chat: not logged in; log in first with: login <id> <password>",
      '✗ invalid user id "abc": ids are positive whole numbers; usage: login <id> [password]',
      '✗ invalid user id "abc": ids are positive whole numbers; usage: chat <id> <message>',
      '✗ invalid user id "2x": ids are positive whole numbers; usage: chat <id> <message>',
      '✗ invalid user id "-3": ids are positive whole numbers; usage: addfriend <id>',
      "✗ missing groupid; usage: addgroup <groupid>",
      '✗ invalid group id "1.5": ids are positive whole numbers; usage: groupchat <groupid> <message>',
      "✗ missing message; usage: chat <id> <message>",
      "✗ missing groupname; usage: creategroup <groupname> [description]",
      "✗ login: already logged in as alice (1); use loginout first",
      '✗ unexpected "extra"; usage: friends',
    ]);
    assert.deepEqual(
      fake.frames.map((frame) => frame.msgid),
      [1, 16],
      "only the login (and the SYNC list it asks for) reached the server",
    );
  },
});

serverTest("client.ts script mode: server errors are shown with errno and errmsg, exit 1", async (port) => {
  const name = uniqueName("alice");
  const alice = await registerUser(port, name, "pw");
  const other = await member(port);
  const group = await other.client.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "" });
  const { code, stdout, stderr } = await runScript(port, [
    `login ${alice} wrong`,
    `register ${name} again`,
    `login ${alice} pw`,
    "chat 999999999 anyone?",
    "addgroup 999999999",
    `groupchat ${group.groupid} not a member`,
    `addfriend ${alice}`,
    `chat ${other.id} still works`,
  ]);
  assert.equal(code, 1);
  assert.deepEqual(stderr.trimEnd().split("\n"), [
    "✗ login failed: errno 1 (rejected): wrong id or password",
    "✗ register failed: errno 1 (rejected): this name is already taken",
    "✗ chat failed: errno 6 (no such user): no such user: 999999999",
    "✗ addgroup failed: errno 7 (no such group): no such group: 999999999",
    `✗ groupchat failed: errno 8 (not a member): ${await errmsgOf(port, group.groupid as number)}`,
    '✗ addfriend failed: errno 4 (invalid request): invalid request: "friendid" must not be your own id',
  ]);
  assert.match(stdout, /logged in as/);
  assert.match(stdout, new RegExp(`sent to user ${other.id}`));
  assert.equal((await other.client.nextOf(6)).msg, "still works");
  other.client.close();
});

/** The server's errmsg for GROUP_CHAT by a non-member, asked directly. */
async function errmsgOf(port: number, groupid: number): Promise<string> {
  await using client = await TestClient.connect(port);
  const id = await registerUser(port, uniqueName("x"), "pw");
  await client.request({ msgid: 1, id, password: "pw" });
  return (await client.request({ msgid: 10, groupid, msg: "x" })).errmsg as string;
}

Deno.test("client.ts: a server that is closed while the client runs is reported, exit 3", async () => {
  const node = await startTestNode();
  const alice = await registerUser(node.port, uniqueName("alice"), "pw");
  await using client = new ClientProcess(node.port);
  await client.send(`login ${alice} pw`);
  await client.waitFor(/logged in/);
  await node.close();
  assert.equal(await client.status(), 3, "exits without waiting for the end of input");
  assert.match(client.stderr, new RegExp(`connection to 127\\.0\\.0\\.1:${node.port} lost`));
});

Deno.test({
  name: "client.ts: a server killed with SIGKILL is reported, exit 3",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-client-" });
    try {
      const server = await ServerProcess.start(["--port", "0", "--db", ":memory:"], `${dir}/server.log`);
      const alice = await registerUser(server.port, uniqueName("alice"), "pw");
      await using client = new ClientProcess(server.port);
      await client.send(`login ${alice} pw`);
      await client.waitFor(/logged in/);
      await server.stop("SIGKILL");
      assert.equal(await client.status(), 3);
      assert.match(client.stderr, new RegExp(`connection to 127\\.0\\.0\\.1:${server.port} lost`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "client.ts: the heartbeat keeps an idle session past the server's idle timeout",
  fn: async () => {
    await using node = await startTestNode({ idleTimeout: 1 });
    const alice = await registerUser(node.port, uniqueName("alice"), "pw");
    const bob = await registerUser(node.port, uniqueName("bob"), "pw");
    await using kept = new ClientProcess(node.port, { args: ["--heartbeat", "300"] });
    await using dropped = new ClientProcess(node.port, { args: ["--heartbeat", "0"] });
    await kept.send(`login ${alice} pw`);
    await kept.waitFor(/logged in/);
    // Logged in, the server knows it speaks v2 (and so must PING); before its first frame it could be v1.
    await dropped.send(`login ${bob} pw`);
    // The server closes a silent v2 connection without a word: the client without heartbeat sees a loss.
    assert.equal(await dropped.status(), 3);
    assert.match(dropped.stderr, /lost/);
    // The server still takes alice's messages (v2 refuses one to herself, so it goes to bob).
    await kept.send(`chat ${bob} still here`);
    await kept.waitFor(new RegExp(`✓ sent to user ${bob}\n`));
    assert.equal(await kept.finish(), 0, kept.stderr);
  },
});

Deno.test({
  name: "client.ts: a server that stops answering PINGs is reported as lost, exit 3",
  fn: async () => {
    // Accepts and reads, never replies: only the heartbeat can tell.
    await using silent = new RecordingServer({ silent: true });
    await using client = new ClientProcess(silent.port, { args: ["--heartbeat", "100", "--timeout", "200"] });
    assert.equal(await client.status(), 3);
    assert.match(client.stderr, new RegExp(`connection to 127\\.0\\.0\\.1:${silent.port} lost`));
    assert.ok(silent.frames.some((frame) => frame.msgid === 13 && frame.v === 2), "it sent v2 PINGs");
  },
});

Deno.test("client.ts: an unreachable server is exit 3, bad flags exit 2", async () => {
  const port = freePort();
  const unreachable = await runScript(port, ["help"]);
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
  const bad = await runScript(port, [], ["--port", "abc"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--port must be a whole number/);
});

/**
 * A TCP server that records every frame and answers LOGIN with success, the SYNC list with no conversations
 * and PING with PONG, or nothing at all when `silent`.
 */
class RecordingServer implements AsyncDisposable {
  readonly frames: Reply[] = [];
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns: Deno.Conn[] = [];
  readonly #serving: Promise<void>;
  readonly #silent: boolean;

  constructor(options: { silent?: boolean } = {}) {
    this.#silent = options.silent ?? false;
    this.#serving = this.#serve();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  async #serve(): Promise<void> {
    const handlers: Promise<void>[] = [];
    try {
      for await (const conn of this.#listener) {
        this.#conns.push(conn);
        handlers.push(this.#handle(conn));
      }
    } catch {
      // Listener closed.
    }
    await Promise.all(handlers);
  }

  async #handle(conn: Deno.Conn): Promise<void> {
    let text = "";
    try {
      for await (const chunk of conn.readable.pipeThrough(new TextDecoderStream())) {
        text += chunk;
        let newline;
        while ((newline = text.indexOf("\n")) >= 0) {
          const frame = JSON.parse(text.slice(0, newline)) as Reply;
          text = text.slice(newline + 1);
          if (this.#silent) {
            this.frames.push(frame);
            continue;
          }
          if (frame.msgid === 13) {
            await conn.write(
              encoder.encode(JSON.stringify({ msgid: 14, cid: frame.cid, ts: Date.now() }) + "\n"),
            );
            continue;
          }
          this.frames.push(frame);
          if (frame.msgid === 1) {
            const ack = {
              msgid: 2,
              cid: frame.cid,
              errno: 0,
              id: 1,
              name: "alice",
              offlinemsg: [],
              friends: [],
              groups: [],
            };
            await conn.write(encoder.encode(JSON.stringify(ack) + "\n"));
          }
          if (frame.msgid === 16) {
            const list = { msgid: 11, ref: 16, cid: frame.cid, errno: 0, convs: [] };
            await conn.write(encoder.encode(JSON.stringify(list) + "\n"));
          }
        }
      }
    } catch {
      // Closed by the test.
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#serving;
  }
}

serverTest(
  "client.ts script mode: a friend request answered, a group's changes followed, against the server",
  async (port) => {
    const aliceName = uniqueName("alice");
    const alice = await registerUser(port, aliceName, "pw");
    const bob = await member(port);
    const bobLabel = `${bob.name} (${bob.id})`;
    await using client = new ClientProcess(port);
    await client.send(`login ${alice} pw`, `request ${bob.id} hi bob, it's alice 👋`);
    // The ACK does not name the user; bob's answer does.
    await client.waitFor(new RegExp(`friend request sent to user ${bob.id}$`, "m"));
    const asked = await bob.client.nextOf(21);
    assert.deepEqual([asked.id, asked.name, asked.note], [alice, aliceName, "hi bob, it's alice 👋"]);
    assert.equal((await bob.client.request({ msgid: 22, id: alice, accept: true })).errno, 0);
    await client.waitFor(new RegExp(`${escape(bobLabel)} accepted your friend request`));

    const groupname = uniqueName("g");
    await client.send(`creategroup ${groupname}`);
    const [, groupid] = await client.waitFor(new RegExp(`created group ${groupname} #(\\d+)`));
    const ref = `g:${groupid} (${groupname})`;
    assert.equal((await bob.client.request({ msgid: 9, groupid: Number(groupid) })).errno, 0);
    await client.waitFor(new RegExp(`${escape(bobLabel)} joined ${escape(ref)}`));
    await client.send(`admin ${groupid} ${bob.id}`);
    await client.waitFor(new RegExp(`${escape(bobLabel)} is now an admin of ${escape(ref)}`));
    const renamed = uniqueName("r");
    const update = await bob.client.request({ msgid: 28, groupid: Number(groupid), groupname: renamed });
    assert.equal(update.errno, 0);
    await client.waitFor(new RegExp(`${escape(bobLabel)} renamed ${escape(ref)} to ${renamed}`));
    await client.send(`kick ${groupid} ${bob.id}`, `kick ${groupid} ${bob.id}`, "groups", "friends");
    assert.equal(await client.finish(), 1, "the second kick fails");
    assertLines(
      client.stdout,
      `✓ kicked ${bobLabel} from g:${groupid} (${renamed})`,
      "groups (1):",
      `  ${renamed} #${groupid}`,
      `    ${aliceName} (${alice})  creator  online`,
      "friends (1):",
      `  ${bobLabel}  online`,
    );
    assert.equal(
      client.stderr,
      `✗ kick failed: errno 8 (not a member): user ${bob.id} is not a member of group ${groupid}\n`,
    );
    bob.client.close();
  },
);
