/** `localTime()`: the `time` field of chat frames, shared by the server and the client (lib/protocol). */
import assert from "node:assert/strict";
import { localTime } from "../lib/protocol/encode.ts";

Deno.test("localTime() pads every field to the C++ client's YYYY-MM-DD HH:MM:SS", () => {
  // Built from local fields, so the expectation holds in any time zone.
  assert.equal(localTime(new Date(2026, 0, 2, 3, 4, 5)), "2026-01-02 03:04:05");
  assert.equal(localTime(new Date(2026, 11, 31, 23, 59, 59, 999)), "2026-12-31 23:59:59");
});

Deno.test("localTime() with no argument formats the present moment", () => {
  const before = new Date();
  const now = localTime();
  const after = new Date();
  assert.match(now, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
  // The fixed-width format sorts as time does; the clock may tick between the calls.
  assert.ok(
    localTime(before) <= now && now <= localTime(after),
    `${localTime(before)} ≤ ${now} ≤ ${localTime(after)}`,
  );
});
