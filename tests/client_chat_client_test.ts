/**
 * `ChatClient` on the wire, against a scripted server (`client_fake_server.ts`): login tokens, devices,
 * `cmid` resends, conversations in seq order with SYNC gap fill, history, read receipts, unread counts and
 * typing. `client_test.ts` runs the same client against a real server.
 */
import assert from "node:assert/strict";
import { ChatClient, type ChatClientOptions } from "../lib/client/chat_client.ts";
import type { ClientCommand } from "../lib/client/chat_client.ts";
import { Renderer } from "../lib/client/render.ts";
import { TokenStore } from "../lib/client/token_store.ts";
import { ack, FakeServer, loginAck } from "./client_fake_server.ts";
import { RecordingOutput } from "./client_output.ts";
import type { Reply } from "./harness/test_client.ts";

/** A test that must leave no socket, file or timer behind. */
function clientTest(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

/** A connected client of `server` with recorded output; no heartbeat, no pauses between busy retries. */
async function connectClient(server: FakeServer, options: Partial<ChatClientOptions> = {}) {
  const output = new RecordingOutput();
  const client = new ChatClient({
    hostname: "127.0.0.1",
    port: server.port,
    output,
    render: new Renderer({ color: false }),
    heartbeatMs: 0,
    busyRetryMs: [0, 0],
    onLost: (message) => output.event(message),
    ...options,
  });
  assert.ok(await client.connect());
  return { client, output };
}

async function run(client: ChatClient, ...commands: ClientCommand[]): Promise<boolean[]> {
  const results: boolean[] = [];
  for (const command of commands) results.push(await client.execute(command));
  return results;
}

/** A fresh state directory, removed after `fn`. */
async function withStateDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-client-test-" });
  try {
    await fn(`${dir}/state`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A chat frame from bob (2) to alice (1) in their conversation. */
function fromBob(seq: number, msg = `m${seq}`): Reply {
  return { msgid: 6, conv: "u:1:2", seq, id: 2, name: "bob", toid: 1, msg, time: "2026-12-03 01:00:00" };
}

// --- tokens and devices ---

clientTest(
  "ChatClient keeps the login token, and a restarted client logs in with login <id> alone",
  async () => {
    await withStateDir(async (dir) => {
      await using server = new FakeServer((frame) =>
        frame.msgid === 1 ? [loginAck(frame, { token: "tok-1" })] : undefined
      );
      {
        const { client, output } = await connectClient(server, { tokens: new TokenStore({ dir }) });
        await using _ = client;
        assert.deepEqual(await run(client, { name: "login", id: 1, password: "pw" }), [true]);
        assert.deepEqual(output.texts("error"), []);
        assert.deepEqual(
          server.of(1).map(({ id, password, token, device }) => ({ id, password, token, device })),
          [
            { id: 1, password: "pw", token: undefined, device: undefined },
          ],
        );
      }
      const { client, output } = await connectClient(server, { tokens: new TokenStore({ dir }) });
      await using _ = client;
      assert.deepEqual(await run(client, { name: "login", id: 1 }), [true]);
      assert.match(output.texts("result")[0], /^✓ logged in as alice \(1\)/);
      const login = server.of(1)[1];
      assert.deepEqual([login.token, login.password, login.v], ["tok-1", undefined, 2]);
    });
  },
);

clientTest("ChatClient: login <id> without a saved token fails locally and says how to log in", async () => {
  await withStateDir(async (dir) => {
    await using server = new FakeServer();
    const { client, output } = await connectClient(server, { tokens: new TokenStore({ dir }) });
    await using _ = client;
    assert.deepEqual(await run(client, { name: "login", id: 7 }), [false]);
    assert.deepEqual(output.texts("error"), [
      "✗ login: no saved token for user 7 at 127.0.0.1:" + server.port + "; log in with: login 7 <password>",
    ]);
    const unavailable = await connectClient(server, {
      tokens: new TokenStore({ unavailable: "no --state-dir" }),
    });
    await using __ = unavailable.client;
    await run(unavailable.client, { name: "login", id: 7 });
    assert.match(unavailable.output.texts("error")[0], /no saved token for user 7 at \S+ \(no --state-dir\)/);
    assert.deepEqual(server.of(1), [], "nothing was sent");
  });
});

clientTest(
  "ChatClient: a refused token (errno 1) is deleted and the user is asked for the password",
  async () => {
    await withStateDir(async (dir) => {
      const key = { server: "", userId: 1, device: "default" };
      await using server = new FakeServer((frame) =>
        frame.msgid === 1 && frame.token
          ? [{ msgid: 2, cid: frame.cid, errno: 1, errmsg: "wrong id or token" }]
          : undefined
      );
      key.server = `127.0.0.1:${server.port}`;
      const store = new TokenStore({ dir });
      await store.save(key, "revoked");
      const { client, output } = await connectClient(server, { tokens: store });
      await using _ = client;
      assert.deepEqual(await run(client, { name: "login", id: 1 }), [false]);
      assert.deepEqual(output.texts("error"), [
        "✗ login: the saved token for user 1 was refused (expired, revoked or replaced) and is deleted; " +
        "log in with: login 1 <password>",
      ]);
      assert.equal(await store.load(key), undefined);
      assert.equal(client.user, undefined);
    });
  },
);

clientTest(
  "ChatClient: --device goes with every LOGIN and keys the token; loginout deletes the token",
  async () => {
    await withStateDir(async (dir) => {
      await using server = new FakeServer((frame) =>
        frame.msgid === 1 ? [loginAck(frame, { token: `tok-${frame.device}` })] : undefined
      );
      const store = new TokenStore({ dir });
      const phone = { server: `127.0.0.1:${server.port}`, userId: 1, device: "my phone" };
      const { client } = await connectClient(server, { tokens: store, device: "my phone" });
      await using _ = client;
      await run(client, { name: "login", id: 1, password: "pw" });
      assert.equal(server.of(1)[0].device, "my phone");
      assert.equal(await store.load(phone), "tok-my phone");
      assert.equal(await store.load({ ...phone, device: "default" }), undefined);
      assert.deepEqual(await run(client, { name: "loginout" }, { name: "login", id: 1 }), [true, false]);
      assert.equal(await store.load(phone), undefined);
    });
  },
);

clientTest(
  "ChatClient: reconnect logs in with the token, and with the password when the token is refused",
  async () => {
    let refuseTokens = false;
    await using server = new FakeServer((frame) => {
      if (frame.msgid !== 1) return undefined;
      if (frame.token && refuseTokens) return [{ msgid: 2, cid: frame.cid, errno: 1, errmsg: "no" }];
      return [loginAck(frame, { token: "tok" })];
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(client, { name: "login", id: 1, password: "pw" });
    server.drop();
    await output.waitFor(/connection to .* lost/);
    assert.deepEqual(await run(client, { name: "reconnect" }), [true]);
    assert.deepEqual(
      server.of(1).map((f) => f.token ?? f.password),
      ["pw", "tok"],
      "the token, kept in memory",
    );

    refuseTokens = true;
    const seen = output.lines.length;
    server.drop();
    await output.waitFor(/lost/, seen);
    assert.deepEqual(await run(client, { name: "reconnect" }), [true]);
    assert.deepEqual(server.of(1).map((f) => f.token ?? f.password), ["pw", "tok", "tok", "pw"]);
    assert.ok(
      output.texts("result").includes(
        "! the saved token for user 1 was refused (expired, revoked or replaced) and is deleted; " +
          "logging in with the password",
      ),
    );
  },
);

clientTest("ChatClient says once when it cannot keep tokens on disk", async () => {
  await using server = new FakeServer((frame) =>
    frame.msgid === 1 ? [loginAck(frame, { token: "t" })] : undefined
  );
  const { client, output } = await connectClient(server, {
    tokens: new TokenStore({ unavailable: "no permission for /x (run with …)" }),
  });
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" }, { name: "loginout" }, {
    name: "login",
    id: 1,
    password: "pw",
  });
  const notices = output.texts().filter((text) => text.includes("not kept"));
  assert.deepEqual(notices, [
    "! login tokens are not kept after the client exits: no permission for /x (run with …)",
  ]);
  const all = output.texts();
  assert.ok(
    all.indexOf(notices[0]) > all.findIndex((text) => text.startsWith("✓ logged in")),
    "after the summary",
  );
});

// --- cmid ---

clientTest(
  "ChatClient sends each chat message with its own cmid and retries errno 11 with the same one",
  async () => {
    let busy = 2;
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 6 && busy > 0) {
        busy--;
        return [ack(frame, { errno: 11, errmsg: "server busy" })];
      }
      if (frame.msgid === 6 || frame.msgid === 10) {
        return [ack(frame, { conv: "u:1:2", seq: 1, mid: "m", ts: 1 })];
      }
      return undefined;
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    assert.deepEqual(
      await run(
        client,
        { name: "login", id: 1, password: "pw" },
        { name: "chat", id: 2, message: "hi" },
        { name: "groupchat", groupid: 3, message: "all" },
      ),
      [true, true, true],
    );
    const cmids = [...server.of(6), ...server.of(10)].map((frame) => frame.cmid as string);
    assert.equal(cmids.length, 4);
    assert.equal(new Set(cmids.slice(0, 3)).size, 1, "the retries repeat the cmid");
    assert.notEqual(cmids[3], cmids[0], "a new message has a new cmid");
    for (const cmid of cmids) assert.match(cmid, /^[\x20-\x7e]{1,64}$/);
    assert.deepEqual(output.texts("error"), []);
    assert.ok(output.texts("result").includes("✓ sent to user 2"));
  },
);

clientTest("ChatClient reports errno 11 after its retries, and other errors at once", async () => {
  await using server = new FakeServer((frame) =>
    frame.msgid === 6 ? [ack(frame, { errno: frame.toid === 2 ? 11 : 6, errmsg: "nope" })] : undefined
  );
  const { client, output } = await connectClient(server);
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" });
  assert.deepEqual(
    await run(client, { name: "chat", id: 2, message: "a" }, { name: "chat", id: 9, message: "b" }),
    [
      false,
      false,
    ],
  );
  assert.equal(server.of(6).length, 4, "three sends of the first (two retries), one of the second");
  assert.deepEqual(output.texts("error"), [
    "✗ chat failed: errno 11 (server busy): nope",
    "✗ chat failed: errno 6 (no such user): nope",
  ]);
});

clientTest("ChatClient sends again after a reconnect what had no ACK, with the same cmid", async () => {
  let answer = false;
  await using server = new FakeServer((frame) => {
    if (frame.msgid !== 6) return undefined;
    // The first send is taken and never answered: the connection drops before the ACK.
    if (!answer) return [];
    return [ack(frame, { conv: "u:1:2", seq: 4, mid: "m", ts: 1, dup: true })];
  });
  const { client, output } = await connectClient(server);
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" });
  const sent = server.next((frame) => frame.msgid === 6);
  const chat = client.execute({ name: "chat", id: 2, message: "are you there?" });
  await sent;
  server.drop();
  assert.equal(await chat, false);
  await output.waitFor(/lost/);
  assert.deepEqual(output.texts("error"), [], "the loss is told once, by the lost notice");

  answer = true;
  assert.deepEqual(await run(client, { name: "reconnect" }), [true]);
  const [first, again] = server.of(6);
  assert.deepEqual({ ...again, cid: 0 }, { ...first, cid: 0 }, "the very same frame, cmid included");
  assert.ok(
    output.texts("result").includes("sending again 1 message(s) that had no answer before the reconnect"),
  );
  assert.ok(
    output.texts("result").includes(
      "✓ sent to user 2 (sent again); the server had it already, so it is not stored twice",
    ),
  );
  // Answered: nothing is sent again after the next reconnect.
  const seen = output.lines.length;
  server.drop();
  await output.waitFor(/lost/, seen);
  assert.deepEqual(await run(client, { name: "reconnect" }), [true]);
  assert.equal(server.of(6).length, 2);
});

clientTest("ChatClient: loginout, or a login as another user, drops the unanswered messages", async () => {
  // The server takes chat messages and never answers them: each times out, its outcome unknown.
  await using server = new FakeServer((frame) => frame.msgid === 6 ? [] : undefined);
  const { client, output } = await connectClient(server, { requestTimeoutMs: 50 });
  await using _ = client;
  assert.deepEqual(
    await run(
      client,
      { name: "login", id: 1, password: "pw" },
      { name: "chat", id: 2, message: "lost?" },
      { name: "loginout" },
      { name: "login", id: 1, password: "pw" },
    ),
    [true, false, true, true],
  );
  assert.equal(server.of(6).length, 1, "not sent again after a logout");
  assert.match(output.texts("error")[0], /^✗ chat failed: no reply from \S+ within 50 ms$/);

  await run(client, { name: "chat", id: 2, message: "lost too?" });
  const seen = output.lines.length;
  server.drop();
  await output.waitFor(/lost/, seen);
  assert.ok(await client.connect());
  assert.deepEqual(await run(client, { name: "login", id: 3, password: "pw" }), [true]);
  assert.equal(server.of(6).length, 2, "user 1's message is not sent as user 3's");
  assert.ok(!output.texts().some((text) => text.startsWith("sending again")));
});

// --- conversations ---

clientTest("ChatClient shows messages in seq order, fills a gap with SYNC and drops repeats", async () => {
  await using server = new FakeServer((frame) => {
    if (frame.msgid === 16 && frame.conv === "u:1:2") {
      return [
        ack(frame, {
          messages: [fromBob(2), fromBob(3)].filter((m) => (m.seq as number) > (frame.after as number)),
          more: false,
        }),
      ];
    }
    return undefined;
  });
  const { client, output } = await connectClient(server);
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" });
  await server.push(fromBob(1), fromBob(3), fromBob(2), fromBob(1));
  await output.waitFor(/m3/);
  await client.settled();
  assert.deepEqual(output.texts("event").filter((text) => /: m\d/.test(text)), [
    "[2026-12-03 01:00:00] bob (2): m1",
    "[2026-12-03 01:00:00] bob (2): m2",
    "[2026-12-03 01:00:00] bob (2): m3",
  ]);
  assert.deepEqual(server.of(16).filter((f) => f.conv).map(({ conv, after }) => ({ conv, after })), [
    { conv: "u:1:2", after: 1 },
  ]);
});

clientTest(
  "ChatClient: after login the SYNC list gives unread counts, and friends/groups show them",
  async () => {
    const convs = [
      { conv: "u:1:2", lastseq: 5, readseq: 2, peerread: 5, unread: 3 },
      { conv: "u:1:9", lastseq: 1, readseq: 0, unread: 1 },
      { conv: "g:4", lastseq: 8, readseq: 8, unread: 0 },
      { conv: "g:5", lastseq: 2, readseq: 0, unread: 2 },
    ];
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 16 && frame.conv === undefined) return [ack(frame, { convs })];
      if (frame.msgid !== 1) return undefined;
      return [loginAck(frame, {
        friends: [{ id: 2, name: "bob", state: "online" }, { id: 3, name: "carol", state: "offline" }],
        groups: [
          { id: 4, groupname: "quiet", groupdesc: "", users: [] },
          {
            id: 5,
            groupname: "devs",
            groupdesc: "d",
            users: [{ id: 1, name: "alice", state: "online", role: "creator" }],
          },
        ],
      })];
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(client, { name: "login", id: 1, password: "pw" }, { name: "friends" }, { name: "groups" });
    const [summary, friends, groups] = output.texts("result");
    const expectedFriends = [
      "friends (2):",
      "  bob (2)  online  3 unread",
      "  carol (3)  offline",
      "others with unread messages:",
      "  user 9  1 unread",
    ].join("\n");
    const expectedGroups = [
      "groups (2):",
      "  quiet #4",
      "  devs #5 — d  2 unread",
      "    alice (1)  creator  online",
    ].join("\n");
    assert.equal(friends, expectedFriends);
    assert.equal(groups, expectedGroups);
    assert.ok(summary.includes(expectedFriends) && summary.includes(expectedGroups), summary);
    assert.equal(server.of(16).length, 3, "one SYNC list after login, one for each list command");
  },
);

clientTest(
  "ChatClient: a server without SYNC (errno 14) still logs in and lists, without counts",
  async () => {
    await using server = new FakeServer((frame) =>
      frame.msgid === 16
        ? [{ msgid: 12, cid: frame.cid, errno: 14, errmsg: "unknown msgid", ref: 16 }]
        : undefined
    );
    const { client, output } = await connectClient(server);
    await using _ = client;
    assert.deepEqual(await run(client, { name: "login", id: 1, password: "pw" }, { name: "friends" }), [
      true,
      true,
    ]);
    assert.deepEqual(output.texts("error"), []);
    assert.equal(output.texts("result")[1], "friends: none");
  },
);

clientTest(
  "ChatClient: login shows the offline messages once and in order, other events after the summary",
  async () => {
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 1) {
        // The server sends a presence change right after the LOGIN_ACK.
        return [
          loginAck(frame, { offlinemsg: [fromBob(4), fromBob(5), fromBob(4)] }),
          { msgid: 15, id: 2, state: "online" },
        ];
      }
      return undefined;
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(client, { name: "login", id: 1, password: "pw" });
    await output.waitFor(/is now online/);
    const texts = output.texts();
    assert.match(
      texts[0],
      /offline messages \(2\):\n {2}\[[^\]]+\] bob \(2\): m4\n {2}\[[^\]]+\] bob \(2\): m5$/,
    );
    assert.equal(texts[1], "● bob (2) is now online");
  },
);

clientTest(
  "ChatClient: history pages backwards with more, marking own messages ✓✓ read up to peerread",
  async () => {
    const all = [1, 2, 3, 4, 5].map((seq) =>
      seq % 2
        ? fromBob(seq)
        : { msgid: 6, conv: "u:1:2", seq, id: 1, name: "alice", toid: 2, msg: `m${seq}`, time: "t" }
    );
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 16 && frame.conv === undefined) {
        return [ack(frame, { convs: [{ conv: "u:1:2", lastseq: 5, readseq: 5, peerread: 2, unread: 0 }] })];
      }
      if (frame.msgid !== 17) return undefined;
      const before = (frame.before as number | undefined) ?? 6;
      const older = all.filter((m) => (m.seq as number) < before);
      const page = older.slice(-(frame.limit as number));
      return [ack(frame, { messages: page, more: older.length > page.length })];
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(
      client,
      { name: "login", id: 1, password: "pw" },
      { name: "history", target: { user: 2 }, count: 3 },
      { name: "more" },
    );
    assert.deepEqual(await run(client, { name: "more" }), [false]);
    const [, newest, older] = output.texts("result");
    assert.equal(
      newest,
      [
        "history with bob (2) (3; type more for older ones):",
        "  #3 [2026-12-03 01:00:00] bob (2): m3",
        "  #4 [t] alice (1): m4  ✓ sent",
        "  #5 [2026-12-03 01:00:00] bob (2): m5",
      ].join("\n"),
    );
    assert.equal(
      older,
      [
        "history with bob (2) (2 older):",
        "  #1 [2026-12-03 01:00:00] bob (2): m1",
        "  #2 [t] alice (1): m2  ✓✓ read",
      ]
        .join("\n"),
    );
    assert.deepEqual(server.of(17).map(({ conv, before, limit }) => ({ conv, before, limit })), [
      { conv: "u:1:2", before: undefined, limit: 3 },
      { conv: "u:1:2", before: 3, limit: 3 },
    ]);
    assert.deepEqual(output.texts("error"), [
      "✗ more: nothing older to show; start with: history <user|g:group> [n]",
    ]);
  },
);

clientTest("ChatClient: history of a group, and of your own id", async () => {
  await using server = new FakeServer((frame) =>
    frame.msgid === 17 ? [ack(frame, { messages: [], more: false })] : undefined
  );
  const { client, output } = await connectClient(server);
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" }, {
    name: "history",
    target: { group: 5 },
    count: 20,
  });
  assert.deepEqual(await run(client, { name: "history", target: { user: 1 } }), [false]);
  assert.equal(output.texts("result")[1], "history of group #5: no messages");
  assert.deepEqual(server.of(17).map(({ conv, limit }) => ({ conv, limit })), [{ conv: "g:5", limit: 20 }]);
  assert.deepEqual(output.texts("error"), [
    "✗ history: 1 is your own id; a conversation is with another user or a group",
  ]);
});

clientTest(
  "ChatClient: read sends READ to the last seq, and RECEIPTs from the other side are shown",
  async () => {
    let lastseq = 0;
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 16 && frame.conv === undefined) {
        return [
          ack(frame, { convs: lastseq ? [{ conv: "u:1:2", lastseq, readseq: 0, unread: lastseq }] : [] }),
        ];
      }
      if (frame.msgid === 18) return [ack(frame, { readseq: frame.seq })];
      return undefined;
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(client, { name: "login", id: 1, password: "pw" }, { name: "read", target: { user: 2 } });
    lastseq = 7;
    await run(client, { name: "read", target: { user: 2 } }, { name: "friends" });
    assert.deepEqual(server.of(18).map(({ conv, seq }) => ({ conv, seq })), [{ conv: "u:1:2", seq: 7 }]);
    const results = output.texts("result");
    assert.equal(results[1], "✓ nothing to mark read: no messages with user 2");
    assert.equal(results[2], "✓ read up to #7 with user 2");

    await server.push(
      { msgid: 19, conv: "u:1:2", id: 2, seq: 6 },
      { msgid: 19, conv: "u:1:2", id: 1, seq: 7 },
      { msgid: 19, conv: "u:1:2", id: "x", seq: 6 },
    );
    await output.waitFor(/✓✓ read by/);
    await server.push({ msgid: 20, conv: "g:4", id: 2 }, { msgid: 20, conv: "u:1:2", id: 2 });
    await output.waitFor(/is typing$/);
    assert.deepEqual(output.texts("event"), [
      "✓✓ read by user 2: your messages up to #6",
      "… user 2 is typing in group #4",
      "… user 2 is typing",
    ]);
  },
);

clientTest("ChatClient: typing sends TYPING without waiting for an answer", async () => {
  await using server = new FakeServer();
  const { client, output } = await connectClient(server);
  await using _ = client;
  await run(client, { name: "login", id: 1, password: "pw" });
  const typing = server.next((frame) => frame.msgid === 20);
  assert.deepEqual(await run(client, { name: "typing", target: { group: 4 } }), [true]);
  const frame = await typing;
  assert.deepEqual(frame, { msgid: 20, conv: "g:4", v: 2 });
  assert.equal(output.texts("result")[1], "✓ told group #4 you are typing");
});

clientTest(
  "ChatClient: an own message's ACK places its seq, and copies from the user's other devices show",
  async () => {
    await using server = new FakeServer((frame) => {
      if (frame.msgid === 6) return [ack(frame, { conv: "u:1:2", seq: 2, mid: "m", ts: 1 })];
      return undefined;
    });
    const { client, output } = await connectClient(server);
    await using _ = client;
    await run(client, { name: "login", id: 1, password: "pw" });
    await server.push(fromBob(1, "hi alice"));
    await output.waitFor(/hi alice/);
    await run(client, { name: "chat", id: 2, message: "hi bob" });
    // The copy of what alice sent from her phone, seq 3: after the own seq 2, with no gap to fill.
    await server.push({
      msgid: 6,
      conv: "u:1:2",
      seq: 3,
      id: 1,
      name: "alice",
      toid: 2,
      msg: "from my phone",
      time: "t",
    });
    await output.waitFor(/from my phone/);
    assert.deepEqual(output.texts("event"), [
      "[2026-12-03 01:00:00] bob (2): hi alice",
      "[t] alice (1) → bob (2): from my phone",
    ]);
    assert.deepEqual(server.of(16).filter((f) => f.conv), [], "no gap, no SYNC");
  },
);
