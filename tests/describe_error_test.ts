import assert from "node:assert/strict";
import { describeError } from "../lib/describe_error.ts";

Deno.test("describeError() gives the class name and message of an Error", () => {
  assert.equal(describeError(new RangeError("too big")), "RangeError: too big");
});

Deno.test("describeError() prefers a driver's error code to the class name", () => {
  const error = Object.assign(new Error("Unknown database 'chat'"), { code: "ER_BAD_DB_ERROR" });
  assert.equal(describeError(error), "ER_BAD_DB_ERROR: Unknown database 'chat'");
});

Deno.test("describeError() follows wrapped causes, at most three deep, even in a cycle", () => {
  const inner = new Error("refused");
  assert.equal(
    describeError(new Error("no bus", { cause: inner })),
    "Error: no bus (cause: Error: refused)",
  );
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  (a as { cause?: unknown }).cause = b;
  assert.equal(describeError(a), "Error: a (cause: Error: b) (cause: Error: a) (cause: Error: b)");
});

Deno.test("describeError() converts what is not an Error-like object with String()", () => {
  assert.equal(describeError("plain"), "plain");
  assert.equal(describeError(42), "42");
  assert.equal(describeError(undefined), "undefined");
  assert.equal(describeError(null), "null");
  assert.equal(describeError({ reason: "x" }), "[object Object]");
});
