/**
 * Salted scrypt password hashes, computed on the runtime's worker threads (never on the event loop)
 * and compared in constant time. Encoded as `scrypt$N$r$p$salt$hash` (base64) so the cost can be raised
 * later without invalidating stored hashes.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import { ConcurrencyLimit } from "./concurrency_limit.ts";

/** scrypt cost. N=2^14, r=8 takes about 40 ms and 16 MiB per hash on the reference machine. */
export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_COST: Readonly<ScryptCost> = { N: 16384, r: 8, p: 1 };

const KEY_BYTES = 32;
const SALT_BYTES = 16;

/**
 * Hashes running at once: one core is left to the event loop, so chat latency holds during a login storm
 * (`deno task bench storm`), and memory stays at 16 MiB per running hash.
 */
const hashing = new ConcurrencyLimit(Math.max(1, (navigator.hardwareConcurrency ?? 2) - 1));

function derive(password: string, salt: Uint8Array, cost: ScryptCost): Promise<Uint8Array> {
  return hashing.run(() => deriveNow(password, salt, cost));
}

function deriveNow(password: string, salt: Uint8Array, cost: ScryptCost): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_BYTES, { ...cost, maxmem: 256 * cost.N * cost.r * cost.p }, (error, key) => {
      if (error) reject(error);
      else resolve(new Uint8Array(key));
    });
  });
}

/** Hashes `password` with a fresh random salt. */
export async function hashPassword(password: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = new Uint8Array(randomBytes(SALT_BYTES));
  const key = await derive(password, salt, cost);
  return [
    "scrypt",
    cost.N,
    cost.r,
    cost.p,
    btoa(String.fromCharCode(...salt)),
    btoa(String.fromCharCode(...key)),
  ]
    .join("$");
}

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (char) => char.charCodeAt(0));
}

/** Whether `password` matches `encoded`. A malformed encoding never matches. */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parts = encoded.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every(Number.isSafeInteger)) return false;
  const expected = fromBase64(parts[5]);
  const key = await derive(password, fromBase64(parts[4]), { N, r, p });
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/**
 * A hash that no password matches in practice, verified for unknown ids so that a wrong id costs as
 * much time as a wrong password (no user enumeration by timing).
 */
export const UNKNOWN_USER_HASH = `scrypt$${DEFAULT_COST.N}$${DEFAULT_COST.r}$${DEFAULT_COST.p}$` +
  "AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
