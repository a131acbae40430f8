import assert from "node:assert/strict";
import { rowLimit, safeId, uniqueIds } from "../lib/store/argument_checks.ts";

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
