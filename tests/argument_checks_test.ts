import assert from "node:assert/strict";
import {
  convName,
  deviceName,
  rowLimit,
  safeId,
  seqNumber,
  text,
  uniqueIds,
} from "../lib/store/argument_checks.ts";

Deno.test("safeId() returns a safe integer unchanged", () => {
  assert.equal(safeId(42, "user id"), 42);
  assert.equal(safeId(-7, "user id"), -7);
});

Deno.test("safeId() rejects a fraction, NaN or an unsafe integer with a RangeError naming what it was", () => {
  for (const bad of [1.5, Number.NaN, 2 ** 53, Infinity]) {
    assert.throws(() => safeId(bad, "friend id"), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, `friend id must be a safe integer, got ${String(bad)}`);
      return true;
    });
  }
});

Deno.test("uniqueIds() keeps each id once, in first-seen order", () => {
  assert.deepEqual(uniqueIds([3, 1, 3, 2, 1], "user id"), [3, 1, 2]);
  assert.deepEqual(uniqueIds([], "user id"), []);
});

Deno.test("uniqueIds() rejects the whole list when one id is not a safe integer", () => {
  assert.throws(() => uniqueIds([1, 0.5], "offline message id"), /offline message id must be a safe integer/);
});

Deno.test("rowLimit() accepts zero and positive integers", () => {
  assert.equal(rowLimit(0), 0);
  assert.equal(rowLimit(100), 100);
});

Deno.test("rowLimit() rejects a negative or fractional limit, which SQLite would read as no limit", () => {
  for (const bad of [-1, 2.5, Number.NaN]) {
    assert.throws(() => rowLimit(bad), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, `limit must be a non-negative integer, got ${String(bad)}`);
      return true;
    });
  }
});

Deno.test("seqNumber() accepts zero and positive integers and rejects the rest naming what it was", () => {
  assert.equal(seqNumber(0, "after"), 0);
  assert.equal(seqNumber(Number.MAX_SAFE_INTEGER, "upTo"), Number.MAX_SAFE_INTEGER);
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => seqNumber(bad, "before"), (error: unknown) => {
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, `before must be a non-negative integer, got ${String(bad)}`);
      return true;
    });
  }
});

Deno.test("convName() accepts conversation names and rejects malformed ones with RangeError", () => {
  assert.equal(convName("u:3:7"), "u:3:7");
  assert.equal(convName("g:12"), "g:12");
  for (const bad of ["u:7:3", "u:3:3", "g:0", "x:1", "", "g:1 ", 5 as unknown as string]) {
    assert.throws(() => convName(bad), RangeError, JSON.stringify(bad));
  }
});

Deno.test("deviceName() accepts a non-empty string and rejects the rest with RangeError", () => {
  assert.equal(deviceName("phone"), "phone");
  for (const bad of ["", undefined as unknown as string, 7 as unknown as string]) {
    assert.throws(() => deviceName(bad), RangeError);
  }
});

Deno.test("text() accepts a string and rejects anything else with TypeError naming what it was", () => {
  assert.equal(text("", "mid"), "");
  assert.throws(() => text(null, "message frame"), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.equal(error.message, "message frame must be a string, got object");
    return true;
  });
});
