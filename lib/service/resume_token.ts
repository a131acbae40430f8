/**
 * Resume tokens (PROTOCOL.md "Devices and resume tokens"): 192 random bits in base64url, bound to one user
 * and device, stored only as their SHA-256 (hex). A token login costs a hash and a row read instead of
 * scrypt, so a node restart's reconnect storm is cheap.
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Store } from "../store/store.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
/** 192 bits: base64url of 24 bytes is 32 characters. */
const TOKEN_BYTES = 24;

/** A new token, as the client gets it. */
export function newToken(): string {
  return randomBytes(TOKEN_BYTES).toString("base64url");
}

/** How a token is stored: SHA-256 in hex. */
export function tokenHash(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** Issues a token for the device, replacing its previous one, valid `days` days from `now`. */
export async function issueToken(
  store: Store,
  userId: number,
  device: string,
  days: number,
  maxTokens: number,
  now = Date.now(),
): Promise<string> {
  const token = newToken();
  await store.setDeviceToken(userId, device, {
    tokenHash: tokenHash(token),
    expiresAt: now + days * DAY_MS,
  }, maxTokens);
  return token;
}

/**
 * Whether `token` is the device's current token and not expired. A token of another device, a revoked
 * one and a forged one all answer `false`, in constant time for the comparison itself.
 */
export async function tokenValid(
  store: Store,
  userId: number,
  device: string,
  token: string,
  now = Date.now(),
): Promise<boolean> {
  const stored = await store.findDeviceToken(userId, device);
  if (!stored || stored.expiresAt <= now) return false;
  const presented = Buffer.from(tokenHash(token), "utf8");
  const expected = Buffer.from(stored.tokenHash, "utf8");
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}
