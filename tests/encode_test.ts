import assert from "node:assert/strict";
import { ackFrame } from "../lib/protocol/encode.ts";

Deno.test("ackFrame() writes the same JSON as JSON.stringify of the fields, without undefined ones", () => {
  const cases: [number, string | number | undefined, 0 | 6, Record<string, unknown>][] = [
    [6, 7, 0, { mid: "n1-1", ts: 1795000000000 }],
    [6, 'a "quoted" cid \\ 你好 😀', 0, { mid: "x\ny", ts: 1 }],
    [7, undefined, 0, { friendid: 2 }],
    [8, 0, 0, { groupid: 3, extra: undefined, none: null, list: [1, "b"] }],
    [3, "c", 0, {}],
  ];
  for (const [ref, cid, errno, fields] of cases) {
    const frame = ackFrame(ref, cid, errno, fields);
    assert.equal(frame, JSON.stringify({ msgid: 11, ref, cid, errno, ...fields }));
  }
});

Deno.test("ackFrame() with an errmsg carries it instead of fields", () => {
  assert.deepEqual(JSON.parse(ackFrame(6, 1, 6, 'no such user: 9 "x"')), {
    msgid: 11,
    ref: 6,
    cid: 1,
    errno: 6,
    errmsg: 'no such user: 9 "x"',
  });
});
