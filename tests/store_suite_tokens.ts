/**
 * The shared store suite's cases for resume tokens (`tests/store_suite.ts`): setDeviceToken(),
 * findDeviceToken() and revokeDeviceToken(). The store keeps only what it is given (a hash and an expiry);
 * checking a presented token is the service's job.
 *
 * @module
 */

import assert from "node:assert/strict";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { type SuiteTest, users } from "./store_suite_fixture.ts";

const HOUR = 3_600_000;

function token(n: number) {
  return { tokenHash: `${n}`.padStart(64, "a"), expiresAt: 1_795_000_000_000 + n * HOUR };
}

/** Registers the cases of setDeviceToken(), findDeviceToken() and revokeDeviceToken(). */
export function tokenCases(test: SuiteTest): void {
  test("setDeviceToken() stores a device's token that findDeviceToken() reads back", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setDeviceToken(a, "phone", token(1), 5);
    assert.deepEqual(await store.findDeviceToken(a, "phone"), token(1));
    assert.equal(await store.findDeviceToken(a, "laptop"), null);
    assert.equal(await store.findDeviceToken(b, "phone"), null, "tokens are per user");
  });

  test("setDeviceToken() replaces the device's previous token", async ({ store }) => {
    const [a] = await users(store, "a");
    await store.setDeviceToken(a, "phone", token(1), 5);
    await store.setDeviceToken(a, "phone", token(2), 5);
    assert.deepEqual(await store.findDeviceToken(a, "phone"), token(2));
  });

  test("revokeDeviceToken() removes only that device's token", async ({ store }) => {
    const [a] = await users(store, "a");
    await store.setDeviceToken(a, "phone", token(1), 5);
    await store.setDeviceToken(a, "laptop", token(2), 5);
    await store.revokeDeviceToken(a, "phone");
    await store.revokeDeviceToken(a, "never had one");
    assert.equal(await store.findDeviceToken(a, "phone"), null);
    assert.deepEqual(await store.findDeviceToken(a, "laptop"), token(2));
  });

  test("setDeviceToken() keeps at most maxTokens per user, the newest", async ({ store }) => {
    const [a, b] = await users(store, "a", "b");
    await store.setDeviceToken(b, "other user", token(9), 1);
    await store.setDeviceToken(a, "d1", token(1), 2);
    await store.setDeviceToken(a, "d2", token(2), 2);
    // Renewing d1 makes it the newest: d2 is now the oldest.
    await store.setDeviceToken(a, "d1", token(3), 2);
    await store.setDeviceToken(a, "d3", token(4), 2);
    assert.equal(await store.findDeviceToken(a, "d2"), null);
    assert.deepEqual(await store.findDeviceToken(a, "d1"), token(3));
    assert.deepEqual(await store.findDeviceToken(a, "d3"), token(4));
    assert.deepEqual(await store.findDeviceToken(b, "other user"), token(9), "other users keep theirs");
  });

  test("setDeviceToken() rejects bad arguments with RangeError or TypeError and stores nothing", async ({ store }) => {
    const [a] = await users(store, "a");
    await assert.rejects(store.setDeviceToken(a, "phone", token(1), 0), RangeError);
    await assert.rejects(store.setDeviceToken(a, "phone", { ...token(1), expiresAt: 1.5 }, 5), RangeError);
    await assert.rejects(
      store.setDeviceToken(a, "phone", { ...token(1), tokenHash: 5 as unknown as string }, 5),
      TypeError,
    );
    await assert.rejects(store.setDeviceToken(a, "", token(1), 5), RangeError);
    assert.equal(await store.findDeviceToken(a, "phone"), null);
    await assert.rejects(store.findDeviceToken(1.5, "phone"), RangeError);
    await assert.rejects(store.revokeDeviceToken(a, ""), RangeError);
  });

  test("the token methods reject with StoreUnavailableError once the store is closed", async ({ store }) => {
    await store.close();
    await assert.rejects(store.setDeviceToken(1, "phone", token(1), 5), StoreUnavailableError);
    await assert.rejects(store.findDeviceToken(1, "phone"), StoreUnavailableError);
    await assert.rejects(store.revokeDeviceToken(1, "phone"), StoreUnavailableError);
  });
}
