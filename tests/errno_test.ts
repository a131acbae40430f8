import assert from "node:assert/strict";
import { Errno, ERRNO_MEANINGS, errnoMeaning } from "../lib/protocol/errno.ts";

Deno.test("ERRNO_MEANINGS has a meaning for every Errno and nothing else", () => {
  assert.deepEqual(
    Object.keys(ERRNO_MEANINGS).map(Number).sort((a, b) => a - b),
    Object.values(Errno).sort((a, b) => a - b),
  );
  assert.equal(new Set(Object.values(ERRNO_MEANINGS)).size, Object.keys(ERRNO_MEANINGS).length, "distinct");
});

Deno.test("errnoMeaning() gives the meaning, or 'unknown errno' for a value this side does not know", () => {
  assert.equal(errnoMeaning(Errno.NO_SUCH_USER), "no such user");
  assert.equal(errnoMeaning(Errno.OK), "success");
  for (const errno of [3, 9, 18, -1, 1.5]) assert.equal(errnoMeaning(errno), "unknown errno");
});
