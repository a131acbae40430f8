import assert from "node:assert/strict";
import {
  historyRequest,
  readRequest,
  syncRequest,
  typingRequest,
} from "../lib/protocol/conversation_requests.ts";
import { RequestError } from "../lib/protocol/errors.ts";
import type { Frame } from "../lib/protocol/fields.ts";
import { chatCmid } from "../lib/protocol/requests.ts";

/** Asserts errno 4 whose message names `field`. */
function assertInvalid(decode: () => unknown, field: string, frame: unknown): void {
  assert.throws(decode, (error) => {
    assert.ok(error instanceof RequestError, String(error));
    assert.equal(error.errno, 4, JSON.stringify(frame));
    assert.match(error.message, new RegExp(`"${field}"`), JSON.stringify(frame));
    return true;
  });
}

const BAD_CONVS: unknown[] = [
  42,
  true,
  ["u:1:2"],
  { conv: "u:1:2" },
  "",
  "u:2:1",
  "u:1:1",
  "u:0:2",
  "u:1:02",
  "u:1",
  "g:0",
  "g:-1",
  "g:1.5",
  "g:x",
  " g:1",
  "g:1 ",
  "g:99999999999",
  "x:1:2",
  "u:1:2:3",
];

Deno.test("syncRequest() without conv lists conversations, with conv pages after a seq with defaults", () => {
  assert.deepEqual(syncRequest({ msgid: 16 }, 1000), { kind: "list", id: undefined });
  assert.deepEqual(syncRequest({ msgid: 16, id: 3, conv: null }, 1000), { kind: "list", id: 3 });
  const after = syncRequest({ msgid: 16, conv: "u:1:2" }, 1000);
  assert.deepEqual(after, {
    kind: "after",
    id: undefined,
    name: "u:1:2",
    conv: { kind: "direct", low: 1, high: 2 },
    after: 0,
    limit: 100,
  });
  assert.deepEqual(syncRequest({ msgid: 16, conv: "g:7", after: 5, limit: 1000 }, 1000), {
    kind: "after",
    id: undefined,
    name: "g:7",
    conv: { kind: "group", groupId: 7 },
    after: 5,
    limit: 1000,
  });
  // A page limit below the default page is the default.
  assert.equal((syncRequest({ msgid: 16, conv: "g:7" }, 10) as { limit: number }).limit, 10);
});

Deno.test("syncRequest() refuses wrong types and out-of-range after/limit, and after/limit without conv", () => {
  const cases: [Frame, string][] = [
    [{ after: -1, conv: "g:1" }, "after"],
    [{ after: 1.5, conv: "g:1" }, "after"],
    [{ after: "3", conv: "g:1" }, "after"],
    [{ after: 2 ** 53, conv: "g:1" }, "after"],
    [{ limit: 0, conv: "g:1" }, "limit"],
    [{ limit: 1001, conv: "g:1" }, "limit"],
    [{ limit: -5, conv: "g:1" }, "limit"],
    [{ limit: "10", conv: "g:1" }, "limit"],
    [{ limit: 10.5, conv: "g:1" }, "limit"],
    [{ after: 3 }, "after"],
    [{ limit: 3 }, "limit"],
    [{ conv: "g:1", id: 0 }, "id"],
  ];
  for (const [frame, field] of cases) {
    assertInvalid(() => syncRequest({ msgid: 16, ...frame }, 1000), field, frame);
  }
  assertInvalid(() => syncRequest({ msgid: 16, conv: "g:1", limit: 11 }, 10), "limit", "pageLimit 10");
});

Deno.test("every conversation request refuses a malformed conv with errno 4", () => {
  for (const conv of BAD_CONVS) {
    const frame = { msgid: 16, conv, seq: 1 };
    assertInvalid(() => syncRequest(frame, 1000), "conv", frame);
    assertInvalid(() => historyRequest(frame, 1000), "conv", frame);
    assertInvalid(() => readRequest(frame), "conv", frame);
    assertInvalid(() => typingRequest(frame), "conv", frame);
  }
  for (
    const decode of [() => historyRequest({}, 1000), () => readRequest({ seq: 1 }), () => typingRequest({})]
  ) {
    assertInvalid(decode, "conv", "missing");
  }
});

Deno.test("historyRequest() defaults before to after the last and limit to 100", () => {
  assert.deepEqual(historyRequest({ conv: "u:3:7" }, 1000), {
    id: undefined,
    name: "u:3:7",
    conv: { kind: "direct", low: 3, high: 7 },
    before: undefined,
    limit: 100,
  });
  assert.equal(historyRequest({ conv: "g:1", before: 1 }, 1000).before, 1);
  const cases: [Frame, string][] = [
    [{ before: 0 }, "before"],
    [{ before: -3 }, "before"],
    [{ before: "9" }, "before"],
    [{ before: 2.5 }, "before"],
    [{ limit: 0 }, "limit"],
    [{ limit: 1001 }, "limit"],
    [{ limit: [1] }, "limit"],
  ];
  for (const [frame, field] of cases) {
    assertInvalid(() => historyRequest({ conv: "g:1", ...frame }, 1000), field, frame);
  }
});

Deno.test("readRequest() needs a non-negative integer seq", () => {
  assert.equal(readRequest({ conv: "g:1", seq: 0 }).seq, 0);
  assert.equal(readRequest({ conv: "g:1", seq: 12 }).seq, 12);
  for (const seq of [undefined, null, -1, 1.5, "3", true, 2 ** 53]) {
    assertInvalid(() => readRequest({ conv: "g:1", seq }), "seq", seq);
  }
});

Deno.test("chatCmid() takes 1-64 printable ASCII characters and refuses anything else", () => {
  assert.equal(chatCmid({}), undefined);
  assert.equal(chatCmid({ cmid: null }), undefined);
  for (const cmid of ["a", " ", "~", "x".repeat(64), 'c-1 {"quoted"}']) {
    assert.equal(chatCmid({ cmid }), cmid);
  }
  for (
    const cmid of ["", "x".repeat(65), "tab\there", "new\nline", "é", "你好", "😀", "\x7f", 42, ["a"], {}]
  ) {
    assertInvalid(() => chatCmid({ cmid }), "cmid", cmid);
  }
});
