/**
 * Friends by request, blocking and group roles in the client (`lib/client/social.ts`), against a scripted
 * server (`client_fake_server.ts`) that speaks the frames of issue 13: each command's frame and result,
 * each push (FRIEND_REQUEST, FRIEND_REPLY, GROUP_EVENT) shown and followed by the local copy that
 * `friends`, `groups` and `requests` print, and the server's refusals (errnos 4, 8, 15, 16, 17).
 */
import assert from "node:assert/strict";
import { ChatClient, type ClientCommand } from "../lib/client/chat_client.ts";
import { parseLine } from "../lib/client/commands.ts";
import { Renderer } from "../lib/client/render.ts";
import {
  ack,
  FakeServer,
  friendReplyPush,
  friendRequestPush,
  groupEvent,
  type GroupEventFields,
  type Handler,
  loginAck,
  refuse,
} from "./client_fake_server.ts";
import { RecordingOutput } from "./client_output.ts";
import type { Reply } from "./harness/test_client.ts";

/** A test that must leave no socket, file or timer behind. */
function clientTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** Group 5 "dev": bob (2) its creator, alice (1, the client) an admin, dave (4) a normal member. */
const DEV = {
  id: 5,
  groupname: "dev",
  groupdesc: "the devs",
  users: [
    { id: 2, name: "bob", state: "online", role: "creator" },
    { id: 1, name: "alice", state: "online", role: "admin" },
    { id: 4, name: "dave", state: "offline", role: "normal" },
  ],
};

/**
 * A client of a fake server logged in as alice (1), with `login` fields added to the LOGIN_ACK and
 * `handler` answering everything else (the fake server's defaults where it answers `undefined`).
 */
async function loggedIn(
  server: FakeServer,
  login: Record<string, unknown> = {},
  handler: Handler = () => undefined,
) {
  server.handler = (frame, s) => frame.msgid === 1 ? [loginAck(frame, login)] : handler(frame, s);
  const output = new RecordingOutput();
  const client = new ChatClient({
    hostname: "127.0.0.1",
    port: server.port,
    output,
    render: new Renderer({ color: false }),
    heartbeatMs: 0,
    onLost: (message) => output.event(message),
  });
  assert.ok(await client.connect());
  assert.ok(await client.execute({ name: "login", id: 1, password: "pw" }));
  return { client, output };
}

/** Runs `command` and returns whether it succeeded and what it printed. */
async function run(client: ChatClient, output: RecordingOutput, command: ClientCommand) {
  const from = output.lines.length;
  const ok = await client.execute(command);
  return { ok, printed: output.lines.slice(from).map((line) => `${line.kind}: ${line.text}`) };
}

/** The text a listing command (`friends`, `groups`, `requests`) printed. */
async function listing(client: ChatClient, output: RecordingOutput, name: "friends" | "groups" | "requests") {
  const { ok, printed } = await run(client, output, { name });
  assert.ok(ok);
  assert.equal(printed.length, 1);
  return printed[0].replace(/^result: /, "");
}

/** Pushes `frame` and waits for the event it should print. */
async function pushAndWait(server: FakeServer, output: RecordingOutput, frame: Reply, expected: string) {
  const from = output.lines.length;
  await server.push(frame);
  await output.waitFor(new RegExp(`^${expected.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`), from);
  assert.deepEqual(output.texts().slice(from), [expected]);
}

/** A handler that sends `events` before each ACK of `msgid`, as the server does to the actor's devices. */
function withEcho(msgid: number, events: (frame: Reply) => GroupEventFields[]): Handler {
  return (frame) => frame.msgid === msgid ? [...events(frame).map(groupEvent), ackOf(frame)] : undefined;
}

/** The fake server's default ACK of a request (with its result fields). */
function ackOf(frame: Reply): Reply {
  switch (frame.msgid) {
    case 25:
      return ack(frame, { groupid: frame.groupid });
    case 26:
      return ack(frame, { groupid: frame.groupid, userid: frame.userid });
    case 27:
      return ack(frame, { groupid: frame.groupid, userid: frame.userid, role: frame.role });
    case 28:
      return ack(frame, { groupid: frame.groupid, groupname: frame.groupname, groupdesc: "the devs" });
    case 8:
      return ack(frame, { groupid: 12 });
  }
  return ack(frame);
}

// --- the parser ---

Deno.test("parseLine() reads the friend and group commands, their rest-of-line note and name", () => {
  const parsed = (line: string) => {
    const result = parseLine(line);
    assert.equal(result.kind, "command", JSON.stringify(result));
    return result.kind === "command" ? result.command : undefined;
  };
  assert.deepEqual(parsed("request 2 hi bob, it's me 😀  "), {
    name: "request",
    id: 2,
    note: "hi bob, it's me 😀  ",
  });
  assert.deepEqual(parsed("request 2"), { name: "request", id: 2 });
  assert.deepEqual(parsed("request:2:note: with colon"), {
    name: "request",
    id: 2,
    note: "note: with colon",
  });
  assert.deepEqual(parsed("accept 2"), { name: "accept", id: 2 });
  assert.deepEqual(parsed("DECLINE 2"), { name: "decline", id: 2 });
  assert.deepEqual(parsed("requests"), { name: "requests" });
  assert.deepEqual(parsed("unfriend 3"), { name: "unfriend", id: 3 });
  assert.deepEqual(parsed("block 3"), { name: "block", id: 3 });
  assert.deepEqual(parsed("unblock:3"), { name: "unblock", id: 3 });
  assert.deepEqual(parsed("leave 5"), { name: "leave", groupid: 5 });
  assert.deepEqual(parsed("kick 5 3"), { name: "kick", groupid: 5, id: 3 });
  assert.deepEqual(parsed("kick:5:3"), { name: "kick", groupid: 5, id: 3 });
  assert.deepEqual(parsed("admin 5 3"), { name: "admin", groupid: 5, id: 3 });
  assert.deepEqual(parsed("unadmin 5 3"), { name: "unadmin", groupid: 5, id: 3 });
  assert.deepEqual(parsed("rename 5 the dev team"), {
    name: "rename",
    groupid: 5,
    groupname: "the dev team",
  });
  assert.deepEqual(parsed("rename:5:dev: 2"), { name: "rename", groupid: 5, groupname: "dev: 2" });
});

Deno.test("parseLine() rejects the friend and group commands' bad and missing arguments", () => {
  const error = (line: string) => {
    const result = parseLine(line);
    return result.kind === "error" ? result.message : `not an error: ${JSON.stringify(result)}`;
  };
  assert.equal(error("accept"), "missing id; usage: accept <id>");
  assert.equal(
    error("accept bob"),
    'invalid user id "bob": ids are positive whole numbers; usage: accept <id>',
  );
  assert.equal(error("kick 5"), "missing id; usage: kick <groupid> <id>");
  assert.equal(
    error("kick 0 3"),
    'invalid group id "0": ids are positive whole numbers; usage: kick <groupid> <id>',
  );
  assert.equal(error("rename 5"), "missing name; usage: rename <groupid> <name>");
  assert.equal(error("leave 5 6"), 'unexpected "6"; usage: leave <groupid>');
  assert.equal(error("requests now"), 'unexpected "now"; usage: requests');
});

// --- friends ---

clientTest("ChatClient login shows the pending friend requests and the blocked users", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, {
    friends: [{ id: 2, name: "bob", state: "online" }],
    requests: [{ id: 3, name: "carol", note: "hi, from the conference" }, { id: 6, name: "frank", note: "" }],
    blocked: [7, 4],
  });
  await using _ = client;
  const summary = output.texts("result")[0].split("\n");
  assert.deepEqual(summary.slice(0, 6), [
    "✓ logged in as alice (1)",
    "friends (1):",
    "  bob (2)  online",
    "blocked: user 4, user 7",
    "friend requests (2):",
    "  friend request from carol (3): hi, from the conference — accept 3 / decline 3",
  ]);
  assert.equal(summary[6], "  friend request from frank (6) — accept 6 / decline 6");
  assert.equal(
    await listing(client, output, "requests"),
    [
      "friend requests (2):",
      "  friend request from carol (3): hi, from the conference — accept 3 / decline 3",
      "  friend request from frank (6) — accept 6 / decline 6",
    ].join("\n"),
  );
  assert.equal(
    await listing(client, output, "friends"),
    "friends (1):\n  bob (2)  online\nblocked: user 4, user 7",
  );
});

clientTest(
  "ChatClient: a FRIEND_REQUEST push is shown with how to answer it; accept makes a friend",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(server);
    await using _ = client;
    assert.equal(await listing(client, output, "requests"), "friend requests: none");
    await pushAndWait(
      server,
      output,
      friendRequestPush(2, "bob", "let's talk"),
      "friend request from bob (2): let's talk — accept 2 / decline 2",
    );
    assert.equal(
      await listing(client, output, "requests"),
      "friend requests (1):\n  friend request from bob (2): let's talk — accept 2 / decline 2",
    );
    assert.deepEqual(await run(client, output, { name: "accept", id: 2 }), {
      ok: true,
      printed: ["result: ✓ you and bob (2) are now friends"],
    });
    assert.deepEqual(server.of(22).map(({ id, accept }) => ({ id, accept })), [{ id: 2, accept: true }]);
    assert.equal(await listing(client, output, "requests"), "friend requests: none");
    assert.equal(await listing(client, output, "friends"), "friends (1):\n  bob (2)  state unknown");
    // The server exchanges presence on accepting.
    await pushAndWait(server, output, { msgid: 15, id: 2, state: "online" }, "● bob (2) is now online");
    assert.equal(await listing(client, output, "friends"), "friends (1):\n  bob (2)  online");
  },
);

clientTest("ChatClient: decline answers the request and makes no friend", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, { requests: [{ id: 3, name: "carol", note: "" }] });
  await using _ = client;
  assert.deepEqual(await run(client, output, { name: "decline", id: 3 }), {
    ok: true,
    printed: ["result: ✓ declined the friend request from carol (3)"],
  });
  assert.deepEqual(server.of(22).map(({ id, accept }) => ({ id, accept })), [{ id: 3, accept: false }]);
  assert.equal(await listing(client, output, "requests"), "friend requests: none");
  assert.equal(await listing(client, output, "friends"), "friends: none");
});

clientTest("ChatClient: request sends the note and says what the server's status means", async () => {
  await using server = new FakeServer();
  const statuses: Record<number, string> = { 2: "sent", 3: "pending", 4: "friends", 6: "accepted" };
  const { client, output } = await loggedIn(
    server,
    { requests: [{ id: 6, name: "frank", note: "" }] },
    (frame) =>
      frame.msgid === 21
        ? [ack(frame, { friendid: frame.friendid, status: statuses[frame.friendid as number] })]
        : undefined,
  );
  await using _ = client;
  const results = [];
  for (const id of [2, 3, 4, 6]) {
    results.push(await run(client, output, { name: "request", id, ...(id === 2 ? { note: "hi 😀" } : {}) }));
  }
  assert.deepEqual(results, [
    { ok: true, printed: ["result: ✓ friend request sent to user 2"] },
    { ok: true, printed: ["result: ✓ your friend request to user 3 is still waiting for an answer"] },
    { ok: true, printed: ["result: ✓ user 4 is already your friend"] },
    { ok: true, printed: ["result: ✓ frank (6) had asked you too: you are now friends"] },
  ]);
  assert.deepEqual(server.of(21).map(({ friendid, note }) => ({ friendid, note })), [
    { friendid: 2, note: "hi 😀" },
    { friendid: 3, note: "" },
    { friendid: 4, note: "" },
    { friendid: 6, note: "" },
  ]);
  assert.equal(
    await listing(client, output, "friends"),
    "friends (2):\n  user 4  state unknown\n  frank (6)  state unknown",
  );
  assert.equal(
    await listing(client, output, "requests"),
    "friend requests: none",
    "frank's request was answered",
  );
});

clientTest(
  "ChatClient: a FRIEND_REPLY push says the request was answered; an accept makes a friend",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(server);
    await using _ = client;
    await pushAndWait(
      server,
      output,
      friendReplyPush(3, "carol", false),
      "carol (3) declined your friend request",
    );
    assert.equal(await listing(client, output, "friends"), "friends: none");
    await pushAndWait(
      server,
      output,
      friendReplyPush(2, "bob", true),
      "bob (2) accepted your friend request",
    );
    await pushAndWait(server, output, { msgid: 15, id: 2, state: "online" }, "● bob (2) is now online");
    assert.equal(await listing(client, output, "friends"), "friends (1):\n  bob (2)  online");
  },
);

clientTest("ChatClient: unfriend, block and unblock change the friend and blocked lists", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, {
    friends: [{ id: 2, name: "bob", state: "online" }, { id: 3, name: "carol", state: "offline" }],
    requests: [{ id: 4, name: "dave", note: "" }],
  });
  await using _ = client;
  assert.deepEqual((await run(client, output, { name: "unfriend", id: 2 })).printed, [
    "result: ✓ bob (2) is no longer your friend",
  ]);
  assert.deepEqual((await run(client, output, { name: "unfriend", id: 2 })).printed, [
    "result: ✓ bob (2) was not your friend",
  ]);
  for (const id of [3, 4]) {
    assert.deepEqual((await run(client, output, { name: "block", id })).printed, [
      `result: ✓ blocked ${id === 3 ? "carol (3)" : "dave (4)"}: ` +
      "no messages, friend requests or presence between you until you unblock",
    ]);
  }
  assert.deepEqual(server.of(23).map(({ friendid }) => friendid), [2, 2]);
  assert.deepEqual(server.of(24).map(({ userid, on }) => ({ userid, on })), [
    { userid: 3, on: true },
    { userid: 4, on: true },
  ]);
  assert.equal(await listing(client, output, "friends"), "friends: none\nblocked: carol (3), dave (4)");
  assert.equal(
    await listing(client, output, "requests"),
    "friend requests: none",
    "blocking drops the request",
  );
  assert.deepEqual((await run(client, output, { name: "unblock", id: 3 })).printed, [
    "result: ✓ unblocked carol (3); to be friends again, send a request",
  ]);
  assert.deepEqual(server.of(24).map(({ userid, on }) => ({ userid, on })).at(-1), { userid: 3, on: false });
  assert.equal(await listing(client, output, "friends"), "friends: none\nblocked: dave (4)");
});

// --- groups ---

clientTest("ChatClient follows every GROUP_EVENT in groups and prints it with names", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, { groups: [DEV] });
  await using _ = client;
  assert.equal(
    await listing(client, output, "groups"),
    [
      "groups (1):",
      "  dev #5 — the devs",
      "    bob (2)  creator  online",
      "    alice (1)  admin  online",
      "    dave (4)  normal  offline",
    ].join("\n"),
  );
  const event = (fields: Omit<GroupEventFields, "groupid">) => groupEvent({ groupid: 5, ...fields });
  await pushAndWait(
    server,
    output,
    event({ event: "joined", userid: 3, by: 3, role: "normal", name: "carol" }),
    "carol (3) joined g:5 (dev)",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "role", userid: 3, by: 2, role: "admin" }),
    "bob (2) made carol (3) an admin of g:5 (dev)",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "role", userid: 3, by: 2, role: "normal" }),
    "bob (2) made carol (3) a normal member of g:5 (dev)",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "kicked", userid: 4, by: 3 }),
    "carol (3) kicked dave (4) from g:5 (dev)",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "updated", userid: 2, by: 2, groupname: "devs", groupdesc: "the devs" }),
    "bob (2) renamed g:5 (dev) to devs",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "updated", userid: 2, by: 2, groupname: "devs", groupdesc: "all of us" }),
    "bob (2) changed the description of g:5 (devs) to: all of us",
  );
  await pushAndWait(
    server,
    output,
    event({ event: "updated", userid: 3, by: 3, groupname: "team", groupdesc: "" }),
    "carol (3) renamed g:5 (devs) to team and changed its description to: ",
  );
  // The creator leaves and hands over to the earliest admin: this user.
  await pushAndWait(server, output, event({ event: "left", userid: 2, by: 2 }), "bob (2) left g:5 (team)");
  await pushAndWait(
    server,
    output,
    event({ event: "role", userid: 1, by: 2, role: "creator" }),
    "you took over g:5 (team) from bob (2) as its creator",
  );
  assert.equal(
    await listing(client, output, "groups"),
    ["groups (1):", "  team #5", "    alice (1)  creator  online", "    carol (3)  normal  online"].join(
      "\n",
    ),
  );
  await pushAndWait(
    server,
    output,
    event({ event: "kicked", userid: 1, by: 3 }),
    "carol (3) kicked you from g:5 (team)",
  );
  assert.equal(
    await listing(client, output, "groups"),
    "groups: none",
    "a group one was kicked from is gone",
  );
});

clientTest("ChatClient: a group joined or left on another device appears and disappears", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, { groups: [DEV] });
  await using _ = client;
  await pushAndWait(
    server,
    output,
    groupEvent({
      groupid: 12,
      event: "joined",
      userid: 1,
      by: 1,
      role: "creator",
      name: "alice",
      groupname: "ops",
      groupdesc: "",
    }),
    "you joined g:12 as creator",
  );
  await pushAndWait(
    server,
    output,
    groupEvent({ groupid: 5, event: "left", userid: 1, by: 1 }),
    "you left g:5 (dev)",
  );
  assert.equal(
    await listing(client, output, "groups"),
    "groups (1):\n  ops #12\n    alice (1)  creator  online",
  );
});

clientTest(
  "ChatClient ignores a GROUP_EVENT it cannot read, and one about a group it does not know",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(server, { groups: [DEV] });
    await using _ = client;
    const from = output.lines.length;
    await server.push(
      { msgid: 29, groupid: 5, event: "exploded", userid: 2, by: 2 },
      { msgid: 29, groupid: "5", event: "left", userid: 2, by: 2 },
      { msgid: 21, name: "no id" },
      { msgid: 22, id: 2, name: "bob" },
    );
    await pushAndWait(
      server,
      output,
      groupEvent({ groupid: 9, event: "left", userid: 7, by: 7 }),
      "user 7 left g:9",
    );
    assert.deepEqual(output.texts().slice(from), ["user 7 left g:9"]);
    assert.match(
      await listing(client, output, "groups"),
      /^groups \(1\):\n {2}dev #5 — the devs\n {4}bob \(2\) {2}creator/,
    );
    assert.equal(await listing(client, output, "friends"), "friends: none");
  },
);

clientTest(
  "ChatClient: leave, kick, admin, unadmin and rename update groups; their own events are not repeated",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(server, {
      groups: [DEV, {
        id: 6,
        groupname: "ops",
        groupdesc: "",
        users: [{ id: 1, name: "alice", state: "online", role: "normal" }],
      }],
    }, (frame) => {
      const echo = (fields: Omit<GroupEventFields, "groupid">) =>
        groupEvent({ groupid: frame.groupid as number, ...fields });
      switch (frame.msgid) {
        case 25:
          return [echo({ event: "left", userid: 1, by: 1 }), ackOf(frame)];
        case 26:
          return [echo({ event: "kicked", userid: frame.userid as number, by: 1 }), ackOf(frame)];
        case 27:
          // The event after the ACK, as it may come through another node.
          return [
            ackOf(frame),
            echo({ event: "role", userid: frame.userid as number, by: 1, role: frame.role as string }),
          ];
        case 28:
          return [
            echo({
              event: "updated",
              userid: 1,
              by: 1,
              groupname: frame.groupname as string,
              groupdesc: "the devs",
            }),
            ackOf(frame),
          ];
      }
      return undefined;
    });
    await using _ = client;
    const results = [];
    results.push(await run(client, output, { name: "leave", groupid: 6 }));
    results.push(await run(client, output, { name: "admin", groupid: 5, id: 4 }));
    results.push(await run(client, output, { name: "unadmin", groupid: 5, id: 4 }));
    results.push(await run(client, output, { name: "rename", groupid: 5, groupname: "the dev team 🚀" }));
    results.push(await run(client, output, { name: "kick", groupid: 5, id: 4 }));
    assert.deepEqual(results, [
      { ok: true, printed: ["result: ✓ left g:6 (ops)"] },
      { ok: true, printed: ["result: ✓ dave (4) is now an admin of g:5 (dev)"] },
      { ok: true, printed: ["result: ✓ dave (4) is now a normal member of g:5 (dev)"] },
      { ok: true, printed: ["result: ✓ renamed g:5 (dev) to the dev team 🚀"] },
      { ok: true, printed: ["result: ✓ kicked dave (4) from g:5 (the dev team 🚀)"] },
    ]);
    assert.deepEqual(
      server.frames.filter((f) => f.msgid >= 25).map(({ msgid, cid: _, v: __, ...rest }) => ({
        msgid,
        ...rest,
      })),
      [
        { msgid: 25, groupid: 6 },
        { msgid: 27, groupid: 5, userid: 4, role: "admin" },
        { msgid: 27, groupid: 5, userid: 4, role: "normal" },
        { msgid: 28, groupid: 5, groupname: "the dev team 🚀" },
        { msgid: 26, groupid: 5, userid: 4 },
      ],
    );
    // The role events came after their ACKs, and before the later replies on the same connection: they
    // were handled, and not printed either.
    await client.execute({ name: "groups" });
    assert.equal(
      output.texts().at(-1),
      [
        "groups (1):",
        "  the dev team 🚀 #5 — the devs",
        "    bob (2)  creator  online",
        "    alice (1)  admin  online",
      ].join("\n"),
    );
    assert.deepEqual(output.texts("event"), []);
  },
);

clientTest(
  "ChatClient: addgroup shows the group the v2 ACK carries; creategroup's own event is not repeated",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(
      server,
      {},
      withEcho(8, (frame) => [{
        groupid: 12,
        event: "joined",
        userid: 1,
        by: 1,
        role: "creator",
        name: "alice",
        groupname: frame.groupname as string,
        groupdesc: frame.groupdesc as string,
      }]),
    );
    await using _ = client;
    assert.deepEqual(await run(client, output, { name: "addgroup", groupid: 7 }), {
      ok: true,
      printed: ["result: ✓ joined group g7 #7"],
    });
    assert.deepEqual(await run(client, output, { name: "creategroup", groupname: "ops", description: "" }), {
      ok: true,
      printed: ["result: ✓ created group ops #12"],
    });
    assert.equal(
      await listing(client, output, "groups"),
      [
        "groups (2):",
        "  g7 #7",
        "    carol (9)  creator  online",
        "    alice (1)  normal  online",
        "  ops #12",
        "    alice (1)  creator  online",
      ].join("\n"),
    );
    // Someone else joining is news.
    await pushAndWait(
      server,
      output,
      groupEvent({ groupid: 7, event: "joined", userid: 3, by: 3, role: "normal", name: "carol" }),
      "carol (3) joined g:7 (g7)",
    );
  },
);

// --- refusals ---

clientTest(
  "ChatClient shows the server's refusals of the new requests with errno, meaning and errmsg",
  async () => {
    await using server = new FakeServer();
    const refusals: Record<number, [number, string]> = {
      21: [16, "blocked: user 3 has blocked you"],
      22: [17, "nothing to answer: no pending friend request from user 3"],
      23: [4, "that is you"],
      25: [8, "not a member of group 5"],
      26: [15, "not permitted: only the creator and admins may remove members"],
      27: [15, "not permitted: only the creator may change roles"],
      28: [15, "not permitted: only the creator and admins may change the group"],
    };
    const { client, output } = await loggedIn(server, {
      groups: [DEV],
      requests: [{ id: 3, name: "carol", note: "" }],
    }, (frame) => {
      const refusal = refusals[frame.msgid as number];
      return refusal ? [refuse(frame, ...refusal)] : undefined;
    });
    await using _ = client;
    const commands: ClientCommand[] = [
      { name: "request", id: 3 },
      { name: "accept", id: 3 },
      { name: "unfriend", id: 1 },
      { name: "leave", groupid: 5 },
      { name: "kick", groupid: 5, id: 2 },
      { name: "admin", groupid: 5, id: 4 },
      { name: "rename", groupid: 5, groupname: "x" },
    ];
    const results = [];
    for (const command of commands) results.push(await run(client, output, command));
    assert.deepEqual(results, [
      {
        ok: false,
        printed: ["error: ✗ request failed: errno 16 (blocked): blocked: user 3 has blocked you"],
      },
      {
        ok: false,
        printed: [
          "error: ✗ accept failed: errno 17 (no pending request): nothing to answer: no pending friend request from user 3",
        ],
      },
      { ok: false, printed: ["error: ✗ unfriend failed: errno 4 (invalid request): that is you"] },
      { ok: false, printed: ["error: ✗ leave failed: errno 8 (not a member): not a member of group 5"] },
      {
        ok: false,
        printed: [
          "error: ✗ kick failed: errno 15 (not permitted): not permitted: only the creator and admins may remove members",
        ],
      },
      {
        ok: false,
        printed: [
          "error: ✗ admin failed: errno 15 (not permitted): not permitted: only the creator may change roles",
        ],
      },
      {
        ok: false,
        printed: [
          "error: ✗ rename failed: errno 15 (not permitted): not permitted: only the creator and admins may change the group",
        ],
      },
    ]);
    // Errno 17: the request was answered elsewhere, so it is no longer listed; the refused changes changed nothing.
    assert.equal(await listing(client, output, "requests"), "friend requests: none");
    assert.equal(
      await listing(client, output, "groups"),
      [
        "groups (1):",
        "  dev #5 — the devs",
        "    bob (2)  creator  online",
        "    alice (1)  admin  online",
        "    dave (4)  normal  offline",
      ].join("\n"),
    );
    assert.equal(await listing(client, output, "friends"), "friends: none");
  },
);

clientTest(
  "ChatClient: a refused kick leaves its echo unexpected, so a later kick by another device is shown",
  async () => {
    await using server = new FakeServer();
    const { client, output } = await loggedIn(
      server,
      { groups: [DEV] },
      (frame) => frame.msgid === 26 ? [refuse(frame, 8, "user 4 is not a member of group 5")] : undefined,
    );
    await using _ = client;
    assert.equal((await run(client, output, { name: "kick", groupid: 5, id: 4 })).ok, false);
    await pushAndWait(
      server,
      output,
      groupEvent({ groupid: 5, event: "kicked", userid: 4, by: 1 }),
      "you kicked dave (4) from g:5 (dev)",
    );
  },
);

clientTest("ChatClient: the new commands need a login", async () => {
  await using server = new FakeServer();
  const output = new RecordingOutput();
  await using client = new ChatClient({
    hostname: "127.0.0.1",
    port: server.port,
    output,
    render: new Renderer({ color: false }),
    heartbeatMs: 0,
    onLost: () => {},
  });
  assert.ok(await client.connect());
  assert.equal(await client.execute({ name: "kick", groupid: 5, id: 2 }), false);
  assert.equal(await client.execute({ name: "requests" }), false);
  assert.deepEqual(output.texts("error"), [
    "✗ kick: not logged in; log in first with: login <id> <password>",
    "✗ requests: not logged in; log in first with: login <id> <password>",
  ]);
  assert.deepEqual(server.frames, []);
});

clientTest("ChatClient: friend and group pushes that cross a logout are dropped", async () => {
  await using server = new FakeServer();
  const { client, output } = await loggedIn(server, { groups: [DEV] });
  await using _ = client;
  assert.ok(await client.execute({ name: "loginout" }));
  const from = output.lines.length;
  await server.push(
    groupEvent({ groupid: 5, event: "kicked", userid: 4, by: 2 }),
    friendRequestPush(2, "bob"),
    friendReplyPush(3, "carol", true),
  );
  // PRESENCE is shown logged in or not: once it is, the pushes before it were handled.
  await pushAndWait(server, output, { msgid: 15, id: 2, state: "offline" }, "○ user 2 is now offline");
  assert.deepEqual(output.texts().slice(from), ["○ user 2 is now offline"]);
});
