import assert from "node:assert/strict";
import { byActivity, type CpuProfile, summarise } from "./bench/profile_summary.ts";

const file = (path: string) => `file:///work/app/${path}`;

/** root → idle; root → readLoop → parseEnvelope; root → appendMessages (SQLite) → oneChatFrame; root → flush → op_write. */
function profile(): CpuProfile {
  const frame = (functionName: string, url = "") => ({ functionName, url, lineNumber: 0 });
  return {
    nodes: [
      { id: 1, callFrame: frame("(root)"), children: [2, 3, 5, 7, 9] },
      { id: 2, callFrame: frame("(idle)") },
      { id: 3, callFrame: frame("#readLoop", file("lib/net/connection.ts")), children: [4] },
      { id: 4, callFrame: frame("parseEnvelope", file("lib/protocol/requests.ts")) },
      { id: 5, callFrame: frame("appendMessages", file("lib/store/sqlite_messages.ts")), children: [6] },
      { id: 6, callFrame: frame("oneChatFrame", file("lib/protocol/encode.ts")) },
      { id: 7, callFrame: frame("#flush", file("lib/net/connection.ts")), children: [8] },
      { id: 8, callFrame: frame("op_write") },
      { id: 9, callFrame: frame("deliver", file("lib/service/session.ts")) },
    ],
    startTime: 0,
    endTime: 100,
    samples: [2, 3, 4, 4, 5, 6, 6, 8, 8, 9],
    timeDeltas: [10, 10, 10, 10, 10, 10, 10, 10, 10, 10],
  };
}

Deno.test("byActivity() charges a sample to the first activity on its stack, SQLite before the frames it builds", () => {
  const split = Object.fromEntries(byActivity(profile()).map((activity) => [activity.name, activity.us]));
  assert.deepEqual(split, {
    "idle": 10,
    "SQLite store calls (lib/store/sqlite_*)": 30,
    "JSON parse and validation (lib/protocol requests)": 20,
    "socket reads (read loop, framing, op_read)": 10,
    "socket writes (output queue, op_write)": 20,
    "other (dispatch, delivery, sessions, runtime)": 10,
  });
});

Deno.test("byActivity() lists the largest activity first", () => {
  const names = byActivity(profile()).map((activity) => activity.name);
  assert.equal(names[0], "SQLite store calls (lib/store/sqlite_*)");
});

Deno.test("summarise() counts a function's total time over its callees", () => {
  const { totalUs, functions } = summarise(profile());
  assert.equal(totalUs, 100);
  const append = functions.find((f) => f.name.startsWith("appendMessages "));
  assert.deepEqual([append?.self, append?.total], [10, 30]);
});
