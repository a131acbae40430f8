import assert from "node:assert/strict";
import { FakeChatServer, type Frame } from "./bench/fake_chat_server.ts";
import { kickCast, KickedWatch, kickRefusal } from "./bench/kick.ts";
import { LoadClient } from "./bench/load_client.ts";

Deno.test("kickCast() gives the sender, the creator and the kicked member three different users", () => {
  assert.deepEqual(kickCast(1000), { sender: 0, creator: 1, kicked: 500 });
  assert.deepEqual(kickCast(3), { sender: 0, creator: 1, kicked: 2 });
  assert.deepEqual(kickCast(4), { sender: 0, creator: 1, kicked: 2 });
  assert.deepEqual(kickCast(7), { sender: 0, creator: 1, kicked: 3 });
});

Deno.test("kickCast() refuses a group too small to kick from", () => {
  assert.throws(() => kickCast(2), /at least 3 users, got 2/);
  assert.throws(() => kickCast(3.5), /at least 3 users, got 3.5/);
});

Deno.test("kickRefusal() accepts only an ACK with errno 0 and says why otherwise", () => {
  assert.equal(kickRefusal({ msgid: 11, ref: 26, cid: 3, errno: 0, groupid: 1, userid: 2 }), undefined);
  assert.match(
    kickRefusal({ msgid: 12, errno: 14, errmsg: "unknown msgid" })!,
    /^the server does not know KICK \(msgid 26, errno 14\): \{"msgid":12/,
  );
  assert.match(kickRefusal({ msgid: 11, ref: 26, errno: 15 })!, /^KICK was refused: \{.*"errno":15/);
  assert.match(kickRefusal({ msgid: 12, errno: 0 })!, /^KICK was refused/);
});

/** A fake server that answers the sender's fence ONE_CHAT by writing `before` and then the fence itself to the
 * kicked member's connection (the first one made). */
async function fenceFixture(before: Frame[]) {
  const server = new FakeChatServer((frame) => {
    if (frame.msgid === 6) void server.connections[0].write(...before, { msgid: 6, id: 1, msg: frame.msg });
    return [];
  });
  const kicked = await LoadClient.connect(server.endpoint);
  const sender = await LoadClient.connect(server.endpoint);
  return {
    server,
    kicked,
    sender,
    async [Symbol.asyncDispose]() {
      kicked.close();
      sender.close();
      await server[Symbol.asyncDispose]();
    },
  };
}

Deno.test("KickedWatch counts a group message that reached the kicked member before the fence", async () => {
  await using fixture = await fenceFixture([
    { msgid: 10, groupid: 7, id: 1, msg: "leaked" },
    { msgid: 29, groupid: 7, event: "kicked", userid: 5, by: 2 },
  ]);
  const watch = new KickedWatch(fixture.kicked, 7, 5);
  await watch.fence(fixture.sender, "fence 1");
  assert.equal(watch.groupMessages, 1);
  assert.equal(watch.sawKickedEvent, true);
  assert.deepEqual(fixture.server.frames(6).map((frame) => [frame.toid, frame.msg]), [[5, "fence 1"]]);
  watch.release();
  assert.equal(fixture.kicked.onRawFrame, undefined);
});

Deno.test("KickedWatch sees nothing when only the fence arrives, nor another member's or group's kick", async () => {
  await using fixture = await fenceFixture([
    { msgid: 29, groupid: 7, event: "kicked", userid: 6, by: 2 },
    { msgid: 29, groupid: 8, event: "kicked", userid: 5, by: 2 },
    { msgid: 29, groupid: 7, event: "joined", userid: 5, by: 5 },
  ]);
  const watch = new KickedWatch(fixture.kicked, 7, 5);
  await watch.fence(fixture.sender, "fence 1");
  assert.equal(watch.groupMessages, 0);
  assert.equal(watch.sawKickedEvent, false);
});

Deno.test("KickedWatch.fence() rejects, naming the fence, when it never reaches the kicked member", async () => {
  await using server = new FakeChatServer(() => []);
  const kicked = await LoadClient.connect(server.endpoint);
  const sender = await LoadClient.connect(server.endpoint);
  try {
    const watch = new KickedWatch(kicked, 7, 5);
    await assert.rejects(
      watch.fence(sender, "lost fence", 50),
      /kick: the fence ONE_CHAT "lost fence" did not reach the kicked member/,
    );
  } finally {
    kicked.close();
    sender.close();
  }
});
