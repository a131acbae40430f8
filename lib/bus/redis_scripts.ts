/**
 * The Lua scripts of the Redis bus, and how they are run. Each runs atomically in Redis: two claims of
 * one user's devices, or a claim and a release, never interleave.
 *
 * A device entry (field of `{keyPrefix}devices:{u:ID}`, see `redis_wire.ts`) is `{expiry}|{token}|{nodeId}`:
 * the Redis clock's time (ms) until which it lives, the claiming process's token (its owner: a restarted
 * node is another owner) and the node id (for operators). The owning node renews its entries; an entry
 * past its expiry belongs to a node that died or was cut off, is ignored, and deleted by the next script
 * that reads the hash. The hash itself expires a lease after its last write, so a user whose every node
 * died leaves nothing behind.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { RedisClient } from "./redis_connection.ts";

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
 * What every device script starts with: `now` (Redis's clock, ms), `live_devices()` (device → owner token
 * of the live entries of KEYS[1], and their count, deleting the expired ones), `entry(leaseMs, owner)` and
 * `keep(leaseMs)` (the hash outlives its newest entry).
 */
const DEVICES = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local function live_devices()
  local owners, count = {}, 0
  local flat = redis.call('HGETALL', KEYS[1])
  for i = 1, #flat, 2 do
    local expiry, owner = string.match(flat[i + 1], '^(%d+)|([^|]+)')
    if expiry and tonumber(expiry) > now then
      owners[flat[i]] = owner
      count = count + 1
    else
      redis.call('HDEL', KEYS[1], flat[i])
    end
  end
  return owners, count
end
local function entry(lease_ms, owner)
  return string.format('%.0f', now + lease_ms) .. '|' .. owner
end
local function keep(lease_ms)
  if redis.call('PTTL', KEYS[1]) < lease_ms then redis.call('PEXPIRE', KEYS[1], lease_ms) end
end
`;

/**
 * KEYS[1] the user's devices; ARGV[1] device, ARGV[2] `{token}|{nodeId}`, ARGV[3] lease ms, ARGV[4] max
 * devices. `"first"` or `"more"` (claimed; other live devices existed), `"taken"` or `"full"` (not).
 */
export const CLAIM = new LuaScript(`${DEVICES}
local owners, count = live_devices()
if owners[ARGV[1]] then return 'taken' end
if count >= tonumber(ARGV[4]) then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], entry(tonumber(ARGV[3]), ARGV[2]))
keep(tonumber(ARGV[3]))
if count == 0 then return 'first' end
return 'more'`);

/**
 * KEYS[1] the user's devices; ARGV[1] device, ARGV[2] this process's token. Deletes the entry when this
 * process owns it; returns the number of live devices left.
 */
export const RELEASE = new LuaScript(`${DEVICES}
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and string.match(value, '^%d+|([^|]+)') == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
local _, count = live_devices()
return count`);

/**
 * The owning node's renewal of its devices of one user. KEYS[1] the user's devices; ARGV[1] this
 * process's token, ARGV[2] `{token}|{nodeId}`, ARGV[3] lease ms, then pairs of device and the max devices
 * it was claimed with.
 *
 * An entry of this process is renewed. One that is gone (Redis restarted empty, or the entry expired while
 * the node was cut off) is claimed again when the device is free and the user has room. Returns
 * `{claimed again, {devices lost}}`: lost are those another node claimed meanwhile.
 */
export const RENEW_DEVICES = new LuaScript(`${DEVICES}
local owners, count = live_devices()
local value = entry(tonumber(ARGV[3]), ARGV[2])
local again, lost = 0, {}
for i = 4, #ARGV, 2 do
  local owner = owners[ARGV[i]]
  if owner == ARGV[1] then
    redis.call('HSET', KEYS[1], ARGV[i], value)
  elseif owner == nil and count < tonumber(ARGV[i + 1]) then
    redis.call('HSET', KEYS[1], ARGV[i], value)
    count = count + 1
    again = again + 1
  else
    lost[#lost + 1] = ARGV[i]
  end
end
keep(tonumber(ARGV[3]))
return {again, lost}`);

/** KEYS[1] the user's devices. The number of live devices. */
export const ONLINE = new LuaScript(`${DEVICES}
local _, count = live_devices()
return count`);

/**
 * A node's start (ARGV[2] lease ms given) or close (no ARGV[2]). KEYS[1] the node id's lease; ARGV[1]
 * this process's token. When another process holds the lease, nothing changes and the script returns
 * `{0, lease PTTL}`: at start that process may be a live node with the same id, at close it is one that
 * took the id over. Otherwise it sets (start) or deletes (close) the lease and returns `{1, 0}`.
 */
export const NODE_LEASE = new LuaScript(`
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return {0, redis.call('PTTL', KEYS[1])} end
if ARGV[2] then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) else redis.call('DEL', KEYS[1]) end
return {1, 0}`);

/**
 * KEYS[1] the node id's lease; ARGV[1] this process's token, ARGV[2] lease ms. 1: renewed; 0: it had
 * expired; 2: another process renews a lease with this node id.
 */
export const RENEW_NODE = new LuaScript(`
local current = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if current == ARGV[1] then return 1 end
if current then return 2 end
return 0`);

/**
 * The frames of one turn of the event loop, published in order: KEYS[i] the channel, ARGV[i] the payload.
 * One command for the whole turn instead of one PUBLISH each: for this process a command costs far more
 * than its arguments (a command object, a promise and a timeout timer each in ioredis). Returns nothing.
 */
export const PUBLISH_ALL = new LuaScript(`
for i = 1, #KEYS do redis.call('PUBLISH', KEYS[i], ARGV[i]) end`);

/**
 * Runs `script` with EVALSHA, falling back to EVAL once when Redis does not know it (first use, or a
 * restarted server).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { evalScript, RENEW_NODE } from "./redis_scripts.ts";
 *
 * const redis = new Redis("redis://127.0.0.1:6380", { lazyConnect: true });
 * await evalScript(redis, RENEW_NODE, { keys: ["chat:node:n1"], args: ["token", 5000] });
 * ```
 */
export async function evalScript(
  redis: RedisClient,
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
