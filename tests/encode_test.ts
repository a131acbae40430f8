import assert from "node:assert/strict";
import {
  ackFrame,
  errorFrame,
  frameConvSeq,
  frameMsgid,
  groupChatFrame,
  JsonText,
  loginAckFrame,
  oneChatFrame,
  pongFrame,
  presenceFrame,
  registeredFrame,
  rejectionFrame,
} from "../lib/protocol/encode.ts";
import { MsgId } from "../lib/protocol/msg_id.ts";
import { pageFields, receiptFrame, typingFrame } from "../lib/protocol/conversation_frames.ts";

Deno.test("ackFrame() writes the same JSON as JSON.stringify of the fields, without undefined ones", () => {
  const cases: [number, string | number | undefined, Record<string, unknown> | undefined][] = [
    [6, 7, { mid: "n1-1", ts: 1795000000000 }],
    [6, 'a "quoted" cid \\ 你好 😀', { mid: "x\ny", ts: 1 }],
    [7, undefined, { friendid: 2 }],
    [8, 0, { groupid: 3, extra: undefined, none: null, list: [1, "b"] }],
    [3, "c", {}],
    [3, "c", undefined],
  ];
  for (const [ref, cid, fields] of cases) {
    const frame = ackFrame(ref, { cid, fields });
    assert.equal(frame, JSON.stringify({ msgid: 11, ref, cid, errno: 0, ...fields }));
  }
});

Deno.test("ackFrame() of a failure carries errno and errmsg instead of fields", () => {
  const frame = ackFrame(6, { cid: 1, errno: 6, errmsg: 'no such user: 9 "x"' });
  assert.equal(frame, JSON.stringify({ msgid: 11, ref: 6, cid: 1, errno: 6, errmsg: 'no such user: 9 "x"' }));
  assert.equal(
    ackFrame(3, { errno: 5, errmsg: "not logged in" }),
    '{"msgid":11,"ref":3,"errno":5,"errmsg":"not logged in"}',
    "no cid when the request had none",
  );
});

Deno.test("errorFrame() writes msgid, errno, errmsg, then ref and cid when known", () => {
  assert.equal(
    errorFrame({ errno: 13, errmsg: "malformed JSON" }),
    '{"msgid":12,"errno":13,"errmsg":"malformed JSON"}',
  );
  assert.equal(
    errorFrame({ errno: 14, errmsg: "unknown msgid: 99", ref: 99, cid: "c" }),
    '{"msgid":12,"errno":14,"errmsg":"unknown msgid: 99","ref":99,"cid":"c"}',
  );
  assert.equal(
    errorFrame({ errno: 4, errmsg: "x", cid: 0 }),
    '{"msgid":12,"errno":4,"errmsg":"x","cid":0}',
  );
});

Deno.test("rejectionFrame() answers with the reply's own msgid (what the C++ client reads)", () => {
  assert.equal(
    rejectionFrame(MsgId.LOGIN_ACK, { errno: 1, errmsg: "wrong id or password" }),
    '{"msgid":2,"errno":1,"errmsg":"wrong id or password"}',
  );
  assert.equal(
    rejectionFrame(MsgId.REG_ACK, { errno: 1, errmsg: "taken", cid: "r1" }),
    '{"msgid":5,"errno":1,"errmsg":"taken","cid":"r1"}',
  );
});

Deno.test("frameMsgid() reads the msgid of every frame the server builds without parsing it", () => {
  const chat = { conv: "u:1:2", seq: 3, id: 1, name: "a", msg: "m", time: "t", mid: "x", ts: 1 };
  const frames = [
    errorFrame({ errno: 13, errmsg: "e" }),
    ackFrame(6, { cid: 1, fields: { mid: "x" } }),
    ackFrame(6, { errno: 6, errmsg: "e" }),
    rejectionFrame(MsgId.LOGIN_ACK, { errno: 1, errmsg: "e" }),
    registeredFrame(7, undefined),
    pongFrame("c"),
    presenceFrame(7, true),
    oneChatFrame({ ...chat, toid: 2 }),
    groupChatFrame({ ...chat, groupid: 2 }),
    loginAckFrame(1, { id: 1, name: "a", offline: [], friends: [], groups: [] }),
    loginAckFrame(2, { id: 1, name: "a", offline: [], friends: [], groups: [] }),
    receiptFrame({ conv: "u:1:2", id: 2, seq: 3 }),
    typingFrame({ conv: "g:4", id: 1 }),
  ];
  for (const frame of frames) assert.equal(frameMsgid(frame), JSON.parse(frame).msgid, frame);
});

Deno.test("frameMsgid() is 0 for text that does not start as a built frame", () => {
  for (const text of ["", "{}", '{"id":6,"msgid":6}', '{ "msgid":6}', '{"msgid":"6"}']) {
    assert.equal(frameMsgid(text), 0, text);
  }
});

Deno.test("ackFrame() splices a JsonText field in unparsed, between the other fields", () => {
  const stored = [
    '{"msgid":6,"conv":"u:1:2","seq":1,"msg":"a \\"q\\" 你好"}',
    '{"msgid":6,"conv":"u:1:2","seq":2}',
  ];
  const frame = ackFrame(16, { cid: "c", fields: { messages: JsonText.array(stored), more: true } });
  assert.equal(
    frame,
    `{"msgid":11,"ref":16,"cid":"c","errno":0,"messages":[${stored.join(",")}],"more":true}`,
  );
  assert.deepEqual(JSON.parse(frame).messages, stored.map((text) => JSON.parse(text)));
  assert.equal(
    ackFrame(17, { fields: pageFields([], false) }),
    '{"msgid":11,"ref":17,"errno":0,"messages":[],"more":false}',
  );
});

Deno.test("oneChatFrame() and groupChatFrame() put conv and seq right after msgid", () => {
  const chat = { conv: "g:4", seq: 12, id: 1, name: "a", msg: "m", time: "t", mid: "x", ts: 1 };
  assert.match(groupChatFrame({ ...chat, groupid: 4 }), /^\{"msgid":10,"conv":"g:4","seq":12,"id":1,/);
  assert.match(
    oneChatFrame({ ...chat, conv: "u:1:2", toid: 2 }),
    /^\{"msgid":6,"conv":"u:1:2","seq":12,"id":1,/,
  );
});

Deno.test("frameConvSeq() reads conv and seq of chat frames, and nothing of other frames", () => {
  const chat = { id: 1, name: "a", msg: "m", time: "t", mid: "x", ts: 1 };
  assert.deepEqual(frameConvSeq(oneChatFrame({ ...chat, conv: "u:1:2", seq: 9007199254740991, toid: 2 })), {
    conv: "u:1:2",
    seq: 9007199254740991,
  });
  assert.deepEqual(frameConvSeq(groupChatFrame({ ...chat, conv: "g:4", seq: 1, groupid: 4 })), {
    conv: "g:4",
    seq: 1,
  });
  const others = [
    receiptFrame({ conv: "u:1:2", id: 2, seq: 3 }),
    typingFrame({ conv: "u:1:2", id: 2 }),
    presenceFrame(1, true),
    // An offline frame of the first release: a chat frame without conv and seq.
    '{"msgid":6,"id":1,"name":"a","toid":2,"msg":"m","time":"t"}',
    '{"msgid":6,"conv":"u:1:2","seq":"x"}',
  ];
  for (const frame of others) assert.equal(frameConvSeq(frame), undefined, frame);
});

Deno.test("receiptFrame() and typingFrame() write exactly the fields PROTOCOL.md names", () => {
  assert.equal(receiptFrame({ conv: "u:1:2", id: 2, seq: 7 }), '{"msgid":19,"conv":"u:1:2","id":2,"seq":7}');
  assert.equal(typingFrame({ conv: "g:3", id: 1 }), '{"msgid":20,"conv":"g:3","id":1}');
});
