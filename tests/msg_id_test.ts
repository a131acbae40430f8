import assert from "node:assert/strict";
import { MsgId, msgName, UNKNOWN_MSG_NAME } from "../lib/protocol/msg_id.ts";

Deno.test("msgName() names every MsgId as MsgId spells it", () => {
  for (const [name, id] of Object.entries(MsgId)) assert.equal(msgName(id), name);
  assert.equal(msgName(6), "ONE_CHAT");
});

Deno.test("msgName() answers UNKNOWN for anything else, so labels stay bounded", () => {
  for (const id of [0, -1, 30, 99, 2 ** 53, 1.5, Number.NaN]) assert.equal(msgName(id), UNKNOWN_MSG_NAME);
  assert.equal(UNKNOWN_MSG_NAME, "UNKNOWN");
});
