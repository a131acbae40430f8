import assert from "node:assert/strict";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";

type Hook = () => void | Promise<void>;

/** Hooks captured instead of registered, so the test runs them itself. */
function captureHooks() {
  const captured: { beforeAll?: Hook; afterAll?: Hook } = {};
  return {
    captured,
    hooks: {
      beforeAll: (fn: Hook) => void (captured.beforeAll = fn),
      afterAll: (fn: Hook) => void (captured.afterAll = fn),
    },
  };
}

Deno.test("mariaDbPerFile() starts the server in beforeAll and closes it in afterAll", async () => {
  const { captured, hooks } = captureHooks();
  let closed = 0;
  const fake = { close: () => Promise.resolve(void closed++) };
  const mariadb = mariaDbPerFile({ hooks, start: () => Promise.resolve(fake) });
  assert.throws(mariadb, /MariaDB is not running: mariaDbPerFile\(\)'s beforeAll hook did not finish/);
  await captured.beforeAll!();
  assert.equal(mariadb(), fake);
  assert.equal(closed, 0);
  await captured.afterAll!();
  assert.equal(closed, 1);
});

Deno.test("mariaDbPerFile() fails its beforeAll with the start error, and afterAll has nothing to close", async () => {
  const { captured, hooks } = captureHooks();
  const mariadb = mariaDbPerFile({ hooks, start: () => Promise.reject(new Error("mariadbd not found")) });
  await assert.rejects(async () => await captured.beforeAll!(), /mariadbd not found/);
  assert.throws(mariadb, /not running/);
  await captured.afterAll!();
});
