/**
 * Resume tokens for the benchmarks: one password login per (user, device) whose LOGIN_ACK carries the
 * token, then a leave that keeps it (half-close, never LOGINOUT, which revokes it).
 *
 * @module
 */

import type { Endpoint } from "./args.ts";
import { LoadClient, type Reply } from "./load_client.ts";
import { forEachLimited } from "./for_each_limited.ts";

/** A user the bench can log in as (structurally `users.ts`'s BenchUser). */
interface Credentials {
  id: number;
  password: string;
}

/** A device's resume token (PROTOCOL.md "Devices and resume tokens"). */
export interface TokenCredential {
  device: string;
  token: string;
}

/** 128 random bits in base64url are 22 characters: a shorter token cannot be what PROTOCOL.md promises. */
const MIN_TOKEN_LENGTH = 22;

/**
 * The token of a successful v2 LOGIN_ACK; throws (naming the user) when the login failed or the ACK has no
 * usable token.
 *
 * @example
 * ```ts
 * tokenFromAck({ msgid: 2, errno: 0, token: "abcdefghijklmnopqrstuvwxyz" }, 7); // "abcdefghijklmnopqrstuvwxyz"
 * ```
 */
export function tokenFromAck(ack: Reply, userId: number): string {
  if (ack.msgid !== 2 || ack.errno !== 0) {
    throw new Error(`LOGIN ${userId} failed: ${JSON.stringify(ack)}`);
  }
  const token = ack.token;
  if (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH) {
    throw new Error(
      `LOGIN_ACK of user ${userId} has no resume token of at least ${MIN_TOKEN_LENGTH} characters: ` +
        JSON.stringify(token),
    );
  }
  return token;
}

/** Options for {@linkcode issueTokens}. */
export interface IssueOptions {
  /** The device every token is for. */
  device: string;
  /** Password logins in flight (default 8: each costs a scrypt hash on the server). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Logs every user in once with the password as `device` and keeps the token; user id → credential. */
export async function issueTokens(
  endpoint: Endpoint,
  users: Credentials[],
  options: IssueOptions,
): Promise<Map<number, TokenCredential>> {
  const credentials = new Map<number, TokenCredential>();
  await forEachLimited(users.length, options.concurrency ?? 8, async (i) => {
    const user = users[i];
    const client = await LoadClient.connect(endpoint, { bufferBytes: 4096 });
    try {
      const ack = await client.request(
        { msgid: 1, id: user.id, password: user.password, device: options.device },
        (reply) => reply.msgid === 2,
        120_000,
      );
      credentials.set(user.id, { device: options.device, token: tokenFromAck(ack, user.id) });
      // Leave without LOGINOUT (it would revoke the token); the server ends the session at end of input.
      client.closeWrite();
      await client.closed;
    } finally {
      client.close();
    }
    options.onProgress?.(credentials.size, users.length);
  });
  return credentials;
}
