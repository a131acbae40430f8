/** Resume tokens: 192 random bits in base64url, stored only as SHA-256 hex, checked for device and expiry. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { issueToken, newToken, tokenHash, tokenValid } from "../lib/service/resume_token.ts";
import type { DeviceToken, Store } from "../lib/store/store.ts";

const DAY_MS = 24 * 60 * 60 * 1000;

/** The store's token calls over a map, recording `maxTokens`. */
class MemoryTokenStore {
  readonly tokens = new Map<string, DeviceToken>();
  maxTokens = 0;
  setDeviceToken(userId: number, device: string, token: DeviceToken, maxTokens: number): Promise<void> {
    this.tokens.set(`${userId}/${device}`, token);
    this.maxTokens = maxTokens;
    return Promise.resolve();
  }
  findDeviceToken(userId: number, device: string): Promise<DeviceToken | null> {
    return Promise.resolve(this.tokens.get(`${userId}/${device}`) ?? null);
  }
}

const asStore = (store: MemoryTokenStore) => store as unknown as Store;

Deno.test("newToken() is 192 random bits as base64url (32 characters), never the same twice", () => {
  const tokens = new Set(Array.from({ length: 100 }, newToken));
  assert.equal(tokens.size, 100);
  for (const token of tokens) assert.match(token, /^[A-Za-z0-9_-]{32}$/);
});

Deno.test("tokenHash() is SHA-256 in hex", () => {
  assert.equal(tokenHash("abc"), createHash("sha256").update("abc").digest("hex"));
  assert.match(tokenHash(newToken()), /^[0-9a-f]{64}$/);
});

Deno.test("issueToken() stores only the hash, with expiry now + days, and passes maxTokens on", async () => {
  const store = new MemoryTokenStore();
  const token = await issueToken(asStore(store), 7, "phone", 30, 20, 1_000);
  assert.deepEqual(store.tokens.get("7/phone"), {
    tokenHash: tokenHash(token),
    expiresAt: 1_000 + 30 * DAY_MS,
  });
  assert.equal(store.maxTokens, 20);
  assert.ok(!JSON.stringify([...store.tokens]).includes(token), "the token itself is not stored");
});

Deno.test("tokenValid(): the device's own token until it expires; forged, other device's or revoked are refused", async () => {
  const store = new MemoryTokenStore();
  const now = 5_000;
  const token = await issueToken(asStore(store), 7, "phone", 1, 20, now);
  assert.equal(await tokenValid(asStore(store), 7, "phone", token, now), true);
  assert.equal(await tokenValid(asStore(store), 7, "phone", token, now + DAY_MS - 1), true);
  assert.equal(await tokenValid(asStore(store), 7, "phone", token, now + DAY_MS), false, "expired");
  assert.equal(await tokenValid(asStore(store), 7, "phone", newToken(), now), false, "forged");
  assert.equal(await tokenValid(asStore(store), 7, "laptop", token, now), false, "another device");
  assert.equal(await tokenValid(asStore(store), 8, "phone", token, now), false, "another user");
  store.tokens.delete("7/phone");
  assert.equal(await tokenValid(asStore(store), 7, "phone", token, now), false, "revoked");
});
