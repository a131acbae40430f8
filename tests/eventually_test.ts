import assert from "node:assert/strict";
import { eventually, type WatchedProcess } from "./harness/eventually.ts";

function test(name: string, fn: () => Promise<void>): void {
  Deno.test({ name, sanitizeOps: true, sanitizeResources: true, fn });
}

test("eventually() resolves with the probe's first ready value, past throws and false", async () => {
  const answers: (() => number | false)[] = [
    () => {
      throw new Error("not yet");
    },
    () => false,
    () => 0,
  ];
  let calls = 0;
  const value = await eventually(() => answers[calls++](), { what: "the third answer", intervalMs: 1 });
  assert.equal(value, 0, "0 is a ready value: only false means not ready");
  assert.equal(calls, 3);
});

test("eventually() treats a probe that resolves to undefined as ready", async () => {
  let calls = 0;
  const value = await eventually(() => {
    calls++;
    return calls < 2 ? Promise.reject(new Error("refused")) : Promise.resolve();
  }, { what: "a connection", intervalMs: 1 });
  assert.equal(value, undefined);
  assert.equal(calls, 2);
});

test("eventually() fails after timeoutMs naming what and the last error, kept as cause", async () => {
  let calls = 0;
  const refused = new Error(`connection refused #2`);
  const error = await eventually(() => {
    calls++;
    throw calls === 1 ? new Error("first") : refused;
  }, { what: "Redis on 127.0.0.1:1", timeoutMs: 0, intervalMs: 1 }).then(
    () => assert.fail("resolved"),
    (error: Error) => error,
  );
  // A timeout of 0 still probes once: the deadline is checked after each attempt.
  assert.equal(calls, 1);
  assert.equal(error.message, "Redis on 127.0.0.1:1: not ready after 0 ms; last error: first");
  assert.equal((error.cause as Error).message, "first");

  let attempts = 0;
  const second = await eventually(() => {
    attempts++;
    throw refused;
  }, { what: "nginx", timeoutMs: 20, intervalMs: 1 }).catch((error: Error) => error);
  assert.ok(attempts >= 2, `probed ${attempts} times`);
  assert.match(second.message, /^nginx: not ready after 20 ms; last error: connection refused #2$/);
  assert.equal(second.cause, refused);
});

test("eventually() says the probe returned false when it never threw", async () => {
  const error = await eventually(() => false, { what: "three messages", timeoutMs: 5, intervalMs: 1 })
    .catch((error: Error) => error);
  assert.ok(error instanceof Error);
  assert.equal(error.message, "three messages: not ready after 5 ms; the probe returned false");
  assert.equal("cause" in error, false);
});

test("eventually() stops at once when the watched process exits, with its log tail", async () => {
  const process: WatchedProcess & { running: boolean } = {
    running: true,
    exitCode: null,
    logTail: () => Promise.resolve("--- last lines ---\nport in use"),
  };
  let calls = 0;
  const error = await eventually(() => {
    calls++;
    Object.assign(process, { running: false, exitCode: 1 });
    throw new Error("refused");
  }, { what: "MariaDB", timeoutMs: 60_000, intervalMs: 1, process }).catch((error: Error) => error);
  assert.equal(calls, 1);
  assert.ok(error instanceof Error);
  assert.equal(
    error.message,
    "MariaDB: process exited with code 1 before it was ready; last error: refused\n" +
      "--- last lines ---\nport in use",
  );
  assert.equal((error.cause as Error).message, "refused");
});

test("eventually() appends the watched process's log tail on timeout", async () => {
  const process: WatchedProcess = {
    running: true,
    exitCode: null,
    logTail: () => Promise.resolve("--- tail ---"),
  };
  const error = await eventually(() => false, { what: "nginx", timeoutMs: 0, process })
    .catch((error: Error) => error);
  assert.ok(error instanceof Error);
  assert.equal(error.message, "nginx: not ready after 0 ms; the probe returned false\n--- tail ---");
});
