import assert from "node:assert/strict";
import { type Answer, FakeChatServer, type Frame } from "./bench/fake_chat_server.ts";
import { SoakCounters, SoakDevice } from "./bench/soak_device.ts";
import { SoakLedger } from "./bench/soak_ledger.ts";
import { newSend, type SendContext, sendOne } from "./bench/soak_send.ts";

const TOKEN = "T".repeat(32);

/** Users 1, 2, 3; user 1 (device "phone") is in group 7 with user 3. */
function setUp() {
  const accounts = [1, 2, 3].map((id) => ({ user: { id, password: "pw" }, groups: id === 2 ? [] : [7] }));
  const ledger = new SoakLedger(40, ["phone"]);
  const counters = new SoakCounters();
  const run: SendContext = { accounts, members: new Map([[7, [1, 3]]]), ledger, counters };
  const device = new SoakDevice(accounts[0], 0, "phone", { ledger, counters, serverMayClose: false });
  return { run, device, ledger, counters };
}

/** LOGIN answered; each chat answered by the next of `chatAcks` (then errno 0 with conv and seq 1). */
function answers(chatAcks: Frame[]): Answer {
  return (frame) => {
    if (frame.msgid === 1) return [{ msgid: 2, errno: 0, id: frame.id, offlinemsg: [], token: TOKEN }];
    if (frame.msgid === 3) return [{ msgid: 11, ref: 3, errno: 0 }];
    const conv = frame.msgid === 10 ? `g:${frame.groupid}` : `u:1:${frame.toid}`;
    return [
      chatAcks.shift() ?? { msgid: 11, ref: frame.msgid, errno: 0, conv, seq: 1, mid: "t.n1.1", ts: 1 },
    ];
  };
}

Deno.test("newSend() addresses a group's other members, or one other user, and names the conversation", () => {
  const { run, device } = setUp();
  const group = newSend(run, device, 1);
  assert.deepEqual([group.frame.msgid, group.frame.groupid, group.conv, group.recipients], [10, 7, "g:7", [
    3,
  ]]);
  assert.equal(group.frame.cmid, group.key);
  assert.ok(String(group.frame.msg).startsWith(`${group.key} `));
  for (let i = 0; i < 20; i++) {
    const direct = newSend(run, device, 0);
    assert.equal(direct.frame.msgid, 6);
    assert.notEqual(direct.frame.toid, 1, "never to itself");
    assert.deepEqual(direct.recipients, [direct.frame.toid]);
    assert.equal(direct.conv, `u:1:${direct.frame.toid}`);
  }
});

Deno.test({
  name:
    "sendOne() keeps a message refused as busy pending and resends it with the same cmid until it is acknowledged",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { run, device, ledger, counters } = setUp();
    await using server = new FakeChatServer(answers([{ msgid: 11, ref: 6, errno: 11, errmsg: "busy" }]));
    await device.login(server.endpoint);
    device.account.groups.length = 0;
    assert.equal(await sendOne(run, device), false);
    assert.ok(device.pendingSend, "still pending after errno 11");
    assert.equal(await sendOne(run, device), true);
    assert.equal(device.pendingSend, undefined);
    const sent = server.frames(6);
    assert.equal(sent.length, 2);
    assert.equal(sent[1].cmid, sent[0].cmid);
    assert.deepEqual([counters.busy, counters.resends, counters.errors], [1, 1, 0]);
    assert.deepEqual([ledger.tally().acknowledged, ledger.outstanding()], [1, 1]);
    assert.equal(device.seen.has(`u:1:${sent[0].toid}`, 1), true, "its own seq is known");
    assert.deepEqual([...counters.acksByNode], [["n1", 1]]);
    await device.logout();
  },
});

Deno.test({
  name: "sendOne() records a refusal (nothing expected) and an ACK that lacks the conv or seq as an error",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { run, device, ledger, counters } = setUp();
    await using server = new FakeChatServer(answers([
      { msgid: 11, ref: 10, errno: 8, errmsg: "not a member" },
      { msgid: 11, ref: 10, errno: 0, mid: "t.n1.2", ts: 1 },
    ]));
    await device.login(server.endpoint);
    device.pendingSend = newSend(run, device, 1);
    assert.equal(await sendOne(run, device), true);
    assert.equal(ledger.tally().refused, 1);
    assert.match(counters.lastError!, /chat refused: .*"errno":8/);
    device.pendingSend = newSend(run, device, 1);
    await sendOne(run, device);
    assert.match(counters.lastError!, /chat ACK without the conv g:7 and a seq/);
    assert.equal(counters.errors, 2);
    await device.logout();
  },
});

Deno.test({
  name: "sendOne() leaves the message pending when the connection ends before the ACK",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { run, device, counters } = setUp();
    await using server = new FakeChatServer((frame, connection) => {
      if (frame.msgid !== 6 && frame.msgid !== 10) return answers([])(frame, connection);
      connection.close();
      return [];
    });
    await device.login(server.endpoint);
    const sending = sendOne(run, device);
    await assert.rejects(sending, /connection closed/);
    assert.ok(device.pendingSend, "to be resent after the next login");
    assert.equal(counters.serverCloses, 1);
  },
});
