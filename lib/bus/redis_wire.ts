/**
 * The Redis bus's names and payloads. Every key a script touches carries the user's hash tag (`{u:ID}`),
 * so one user's scripts, and the channel of their frames, stay in one slot of a Redis Cluster (DESIGN.md
 * "Growing past one machine"):
 *
 * - `{keyPrefix}devices:{u:ID}`: a hash, field = device, value = `{expiry ms}|{token}|{nodeId}` (see
 *   `redis_scripts.ts`);
 * - `{keyPrefix}user:{u:ID}`: the pub/sub channel of the user's frames; a payload is the publishing
 *   node's token followed by the frame as is (no re-encoding), so a node can skip its own publishes;
 * - `{keyPrefix}node:{nodeId}`: the node id's lease (one live process per node id).
 *
 * @module
 */

/** The length of a node's token (a `randomUUID()`), which starts every payload. */
export const TOKEN_LENGTH = 36;

/**
 * The hash of `userId`'s devices.
 *
 * @example
 * ```ts
 * import { devicesKey } from "./redis_wire.ts";
 *
 * devicesKey("chat:", 7); // "chat:devices:{u:7}"
 * ```
 */
export function devicesKey(keyPrefix: string, userId: number): string {
  return `${keyPrefix}devices:{u:${userId}}`;
}

/**
 * The channel of `userId`'s frames.
 *
 * @example
 * ```ts
 * import { userChannel } from "./redis_wire.ts";
 *
 * userChannel("chat:", 7); // "chat:user:{u:7}"
 * ```
 */
export function userChannel(keyPrefix: string, userId: number): string {
  return `${keyPrefix}user:{u:${userId}}`;
}
