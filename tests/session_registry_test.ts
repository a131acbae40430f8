import assert from "node:assert/strict";
import { SessionLimitError, SessionRegistry } from "../lib/service/session_registry.ts";

Deno.test("SessionRegistry.add() registers a session under its user", () => {
  const registry = new SessionRegistry<string>();
  assert.equal(registry.has(7), false);
  assert.deepEqual(registry.ofUser(7), []);
  registry.add(7, "a");
  assert.equal(registry.has(7), true);
  assert.deepEqual(registry.ofUser(7), ["a"]);
  assert.deepEqual([registry.size, registry.userCount], [1, 1]);
  assert.equal(registry.has(8), false, "other users are unaffected");
});

Deno.test("SessionRegistry.add() refuses a second session of a user by default (one login per user)", () => {
  const registry = new SessionRegistry<string>();
  registry.add(7, "a");
  assert.equal(registry.hasRoom(7), false);
  assert.equal(registry.hasRoom(8), true);
  assert.throws(() => registry.add(7, "b"), SessionLimitError);
  assert.deepEqual(registry.ofUser(7), ["a"], "the first session stays");
  assert.equal(registry.size, 1);
});

Deno.test("SessionRegistry.add() of the same session twice is a no-op", () => {
  const registry = new SessionRegistry<string>();
  registry.add(7, "a");
  registry.add(7, "a");
  assert.deepEqual(registry.ofUser(7), ["a"]);
  assert.equal(registry.size, 1);
});

Deno.test("SessionRegistry holds several sessions per user up to maxPerUser, oldest first", () => {
  const registry = new SessionRegistry<string>({ maxPerUser: 3 });
  registry.add(7, "phone");
  assert.equal(registry.hasRoom(7), true);
  registry.add(7, "laptop");
  registry.add(9, "tablet");
  registry.add(7, "desk");
  assert.deepEqual(registry.ofUser(7), ["phone", "laptop", "desk"]);
  assert.equal(registry.hasRoom(7), false);
  assert.throws(() => registry.add(7, "fourth"), /user 7 already has 3 session/);
  assert.deepEqual([registry.size, registry.userCount], [4, 2]);
  assert.deepEqual(registry.all().sort(), ["desk", "laptop", "phone", "tablet"]);
});

Deno.test("SessionRegistry.remove() removes only that session and is idempotent", () => {
  const registry = new SessionRegistry<string>({ maxPerUser: 2 });
  registry.add(7, "a");
  registry.add(7, "b");
  assert.equal(registry.remove(7, "a"), true);
  assert.deepEqual(registry.ofUser(7), ["b"]);
  assert.equal(registry.remove(7, "a"), false, "already removed");
  assert.equal(registry.remove(8, "b"), false, "registered under another user");
  assert.equal(registry.remove(7, "b"), true);
  assert.equal(registry.has(7), false);
  assert.deepEqual([registry.size, registry.userCount], [0, 0]);
  assert.deepEqual(registry.all(), []);
});

Deno.test("SessionRegistry.remove() of a replaced login leaves the new one (a late logout of an old session)", () => {
  const registry = new SessionRegistry<string>();
  registry.add(7, "old");
  registry.remove(7, "old");
  registry.add(7, "new");
  assert.equal(registry.remove(7, "old"), false);
  assert.deepEqual(registry.ofUser(7), ["new"]);
});

Deno.test("SessionRegistry.ofUser() returns a snapshot that later changes do not touch", () => {
  const registry = new SessionRegistry<string>({ maxPerUser: 3 });
  registry.add(7, "a");
  registry.add(7, "b");
  const seen = registry.ofUser(7);
  registry.remove(7, "a");
  registry.add(7, "c");
  assert.deepEqual(seen, ["a", "b"]);
  assert.deepEqual(registry.ofUser(7), ["b", "c"]);
  assert.ok(Object.isFrozen(registry.ofUser(8)), "the shared empty answer cannot be changed");
});

Deno.test("SessionRegistry.all() is a copy: ending sessions while iterating it is safe", () => {
  const registry = new SessionRegistry<string>();
  registry.add(1, "a");
  registry.add(2, "b");
  for (const session of registry.all()) registry.remove(session === "a" ? 1 : 2, session);
  assert.equal(registry.size, 0);
});

Deno.test("SessionRegistry constructor refuses a maxPerUser that is not a positive integer", () => {
  for (const maxPerUser of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => new SessionRegistry({ maxPerUser }), RangeError, String(maxPerUser));
  }
});
