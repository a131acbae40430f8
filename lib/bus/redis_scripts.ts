/**
 * The Lua scripts of the Redis bus, and how they are run. Each runs atomically in Redis: a claim, a
 * release or a node's start can never interleave with another node's.
 *
 * The scripts read a node's lease key from a value (a user's owner), so they need one Redis server (or
 * every key in one slot); Redis Cluster would need hash tags in the prefix.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** A script and its SHA-1, for EVALSHA. */
export class LuaScript {
  /** The SHA-1 of {@linkcode LuaScript.lua}, hex: EVALSHA's name for it. */
  readonly sha: string;
  /** `lua` is the script's source. */
  constructor(readonly lua: string) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }
}

/**
 * KEYS[1] owner key, KEYS[2] this node's user set; ARGV[1] node id, ARGV[2] node lease key prefix,
 * ARGV[3] user id. 1 when claimed; 0 when this node or another live one holds the user.
 */
export const CLAIM = new LuaScript(`
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return 0 end
if owner and redis.call('EXISTS', ARGV[2] .. owner) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return 1`);

/**
 * Claims again what this node holds after its lease lapsed (Redis restarted, or a partition outlived the
 * lease). KEYS[1] this node's user set; ARGV[1] node id, ARGV[2] node lease key prefix, ARGV[3] owner key
 * prefix, ARGV[4..] user ids. Returns the ids that a live node claimed meanwhile.
 */
export const REASSERT = new LuaScript(`
local conflicts = {}
for i = 4, #ARGV do
  local key = ARGV[3] .. ARGV[i]
  local owner = redis.call('GET', key)
  if owner and owner ~= ARGV[1] and redis.call('EXISTS', ARGV[2] .. owner) == 1 then
    conflicts[#conflicts + 1] = ARGV[i]
  else
    redis.call('SET', key, ARGV[1])
    redis.call('SADD', KEYS[1], ARGV[i])
  end
end
return conflicts`);

/** KEYS[1] this node's user set; ARGV[1] node id, ARGV[2] owner key prefix, ARGV[3..] user ids. */
export const RELEASE = new LuaScript(`
for i = 3, #ARGV do
  local key = ARGV[2] .. ARGV[i]
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
  redis.call('SREM', KEYS[1], ARGV[i])
end
return 0`);

/**
 * A node's start (ARGV[4] lease ms given) or close (no ARGV[4]). KEYS[1] this node's user set, KEYS[2] its
 * lease; ARGV[1] node id, ARGV[2] owner key prefix, ARGV[3] this process's token.
 *
 * When the lease is held by another process (another token), nothing changes and the script returns
 * `{0, lease PTTL}`: at start that process may be a live node with the same id, at close it is one that
 * took the id over. Otherwise it drops every claim in the user set, sets a new lease (start) or deletes it
 * (close), and returns `{1, claims dropped}`.
 */
export const NODE_LEASE = new LuaScript(`
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[3] then return {0, redis.call('PTTL', KEYS[2])} end
local released = 0
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local key = ARGV[2] .. id
  if redis.call('GET', key) == ARGV[1] then
    redis.call('DEL', key)
    released = released + 1
  end
end
redis.call('DEL', KEYS[1])
if ARGV[4] then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4]) else redis.call('DEL', KEYS[2]) end
return {1, released}`);

/**
 * KEYS[1] this node's lease; ARGV[1] this process's token, ARGV[2] lease ms. 1: renewed; 0: it had expired
 * (claims must be re-asserted); 2: another process renews a lease with this node id.
 */
export const RENEW = new LuaScript(`
local current = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if current == ARGV[1] then return 1 end
if current then return 2 end
return 0`);

/** KEYS storing counters; ARGV[1] their TTL in ms. */
export const STORING_BEGIN = new LuaScript(`
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('PEXPIRE', key, ARGV[1])
end
return 0`);

/** KEYS storing counters: one fewer each; a counter at zero is deleted. */
export const STORING_END = new LuaScript(`
for _, key in ipairs(KEYS) do
  if redis.call('DECR', key) <= 0 then redis.call('DEL', key) end
end
return 0`);

/** KEYS owner keys; ARGV[1] node lease key prefix. 1 per key whose owner node is alive, else 0. */
export const ONLINE = new LuaScript(`
local alive = {}
local result = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  local up = 0
  if owner then
    if alive[owner] == nil then alive[owner] = redis.call('EXISTS', ARGV[1] .. owner) end
    up = alive[owner]
  end
  result[i] = up
end
return result`);

/**
 * Runs `script` with EVALSHA, falling back to EVAL once when Redis does not know it (first use, or a
 * restarted server).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { evalScript, RENEW } from "./redis_scripts.ts";
 *
 * const redis = new Redis("redis://127.0.0.1:6380", { lazyConnect: true });
 * await evalScript(redis, RENEW, { keys: ["chat:node:n1"], args: ["token", 5000] });
 * ```
 */
export async function evalScript(
  redis: Redis,
  script: LuaScript,
  { keys, args }: { keys: string[]; args: (string | number)[] },
): Promise<unknown> {
  try {
    return await redis.call("EVALSHA", [script.sha, keys.length, ...keys, ...args]);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
    return await redis.call("EVAL", [script.lua, keys.length, ...keys, ...args]);
  }
}
