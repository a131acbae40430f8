import assert from "node:assert/strict";
import { kickCast, kickRefusal } from "./bench/kick.ts";

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
