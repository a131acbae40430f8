/**
 * Fuzz of the request path (issue 7): random bytes, random JSON values, frames of every msgid of
 * PROTOCOL.md with wrong types in every field, raw JSON tricks (huge and non-finite numbers, `6.0`,
 * duplicate keys, `__proto__`, lone surrogate escapes) and mutated valid frames (byte flips, truncation,
 * duplication, deletion, insertion), all from a fixed-seed PRNG so a failure is reproducible.
 *
 * The frame decoder on its own is already fuzzed by `tests/frame_decoder_test.ts` (100,000 random
 * chunks, and chunking invariance), so this file does not repeat that: it fuzzes the dispatcher
 * (`ChatService` and every handler behind it) over real TCP against a `main.ts` process, with the
 * decoder on the path, through logged-in and anonymous connections at v1 and v2.
 *
 * Per connection the test keeps a model of what the server sees: the real {@linkcode FrameDecoder} (the
 * oracle for where frames split, since cases run into each other: a truncated frame swallows the next
 * case) and the protocol's own envelope and request parsers (which requests pass validation). With it
 * the test knows, after each batch, how many replies each connection must have had (exactly one per
 * frame at v2, between the sure ones and all of them at v1), and it keeps the expensive cases in
 * budget: a REG or LOGIN that passes validation costs an scrypt hash (about 40 ms), and a valid
 * LOGINOUT would leave a "logged-in" connection logged out for the rest of the run.
 *
 * After every batch each connection sends a probe (PING at v2, an unknown msgid at v1) after a `\n`
 * that ends any partial frame, and awaits its answer: no hang. At the end the process must still
 * answer, a fresh login and chat round trip works, the victim user's friends and groups are unchanged
 * by the rejected garbage that named them, the log has no `error` line, and SIGTERM exits 0.
 *
 * A second test hands the same kind of cases straight to `ChatService.onFrame()` in this process (an
 * in-memory SQLite store, the in-process bus and stand-in connections), where a rejected promise, a
 * logged warning or error, or a wrong number of answers is seen directly.
 */
import assert from "node:assert/strict";
import { FrameDecoder } from "../lib/net/frame_decoder.ts";
import { DEFAULT_LIMITS } from "../lib/protocol/limits.ts";
import {
  addFriendRequest,
  addGroupRequest,
  createGroupRequest,
  type Envelope,
  groupChatRequest,
  loginRequest,
  logoutRequest,
  oneChatRequest,
  parseEnvelope,
  registerRequest,
} from "../lib/protocol/requests.ts";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { readLines, type Reply, TestClient } from "./harness/test_client.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const SEED = 0x5eed_0007;
/** Cases sent over TCP (each one generated item: bytes, a JSON value or a frame, with its terminator). */
const TOTAL_CASES = 100_000;
const CASES_PER_BATCH = 500;
/** Connections per kind: {v1, v2} × {anonymous, logged in}. */
const PER_KIND = 2;
/** scrypt hashes (valid REG, or LOGIN on an anonymous connection) the whole run may cost. */
const HASH_BUDGET = 30;
/** Valid LOGINOUTs let through (each costs a re-login after its batch). */
const LOGOUT_BUDGET = 4;
const PROBE_TIMEOUT_MS = 15_000;

/** Server-to-client msgids that answer a request (chat, presence, receipts, typing are deliveries). */
const ANSWERS = new Set([2, 5, 11, 12, 14]);
/** What a v1 connection may receive (PROTOCOL.md "Rules"). */
const V1_MSGIDS = new Set([2, 5, 6, 10, 12]);
const SERVER_MSGIDS = new Set([2, 5, 6, 10, 11, 12, 14, 15, 19, 20, 21, 22, 29]);
/** Requests the server knows at both levels; the rest of 1..15 are server-to-client ids. */
const REQUESTS = new Set([1, 3, 4, 6, 7, 8, 9, 10, 13]);
/**
 * Requests of kept conversations, friends and groups: v2 only (a v1 connection gets errno 14 as for any
 * unknown msgid).
 */
const V2_REQUESTS = new Set([16, 17, 18, 20, 21, 22, 23, 24, 25, 26, 27, 28]);
/** TYPING: never answered at v2. */
const TYPING = 20;

/** Fields of every msgid in PROTOCOL.md's table; every frame may also carry `v` and `cid`. */
const FIELDS: Record<number, string[]> = {
  1: ["id", "password"],
  2: ["errno", "errmsg", "id", "name", "offlinemsg", "friends", "groups"],
  3: ["id"],
  4: ["name", "password"],
  5: ["errno", "errmsg", "id"],
  6: ["id", "name", "toid", "msg", "time", "cmid"],
  7: ["id", "friendid"],
  8: ["id", "groupname", "groupdesc"],
  9: ["id", "groupid"],
  10: ["id", "name", "groupid", "msg", "time", "cmid"],
  11: ["ref", "errno", "errmsg", "mid", "ts"],
  12: ["errno", "errmsg", "ref"],
  13: [],
  14: ["ts"],
  15: ["id", "state"],
  16: ["id", "conv", "after", "limit"],
  17: ["id", "conv", "before", "limit"],
  18: ["id", "conv", "seq"],
  19: ["conv", "id", "seq"],
  20: ["id", "conv"],
  21: ["id", "friendid", "note"],
  22: ["id", "accept"],
  23: ["id", "friendid"],
  24: ["id", "userid", "on"],
  25: ["id", "groupid"],
  26: ["id", "groupid", "userid"],
  27: ["id", "groupid", "userid", "role"],
  28: ["id", "groupid", "groupname", "groupdesc"],
  29: ["groupid", "event", "userid", "by", "role", "groupname", "groupdesc", "name"],
};

const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** The text of `bytes`, or `null` when they are not valid UTF-8 (without a fatal decoder's costly throw). */
function utf8Text(bytes: Uint8Array): string | null {
  const text = utf8.decode(bytes);
  if (!text.includes("\ufffd")) return text;
  // U+FFFD also stands for itself: the bytes were valid exactly when the text encodes back to them.
  const again = encoder.encode(text);
  return again.length === bytes.length && again.every((byte, i) => byte === bytes[i]) ? text : null;
}

/** mulberry32: tiny, fast and good enough to drive a fuzzer reproducibly. */
class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed | 0;
  }
  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) | 0;
    let t = Math.imul(this.#state ^ (this.#state >>> 15), 1 | this.#state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

// --- generators -------------------------------------------------------------------------------------

const NUMBERS = [
  0,
  -0,
  1,
  2,
  -1,
  6,
  13,
  1.5,
  -0.5,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53 - 1,
  2 ** 53,
  2 ** 53 + 2,
  -(2 ** 53),
  1e21,
  1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  999_999_999,
];

/** Number and literal tokens JSON.stringify never writes, spliced into frames as raw text. */
const RAW_TOKENS = [
  "1e999",
  "-1e999",
  "-0",
  "1.0",
  "6.0",
  "13.000",
  "1E0",
  "0.13e2",
  "123456789012345678901234567890",
  "1e-400",
  "NaN",
  "Infinity",
  "0x10",
  "01",
  "+1",
  '"\\ud800"',
  '"\\udfff\\ud800"',
  '"a\\ud83d"',
  '"\\u0000"',
  '"\\uZZZZ"',
  '"\\"',
  '"\\/\\b\\f\\t"',
  '"\u2028\u2029"',
  "true",
  "null",
  "[]",
  "{}",
  '{"msgid":1}',
  "[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]",
];

const KEYS = ["msgid", "v", "cid", "id", "__proto__", "constructor", "toString", "", "a", "msgid ", "MSGID"];

/** Text from many scripts: ASCII, JSON metacharacters, controls, CJK, emoji, combining marks, lone surrogates. */
function randomText(rng: Rng, min: number, max: number): string {
  const length = min + rng.int(max - min + 1);
  let text = "";
  for (let i = 0; i < length; i++) {
    const r = rng.next();
    if (r < 0.5) text += String.fromCharCode(0x20 + rng.int(0x5f));
    else if (r < 0.6) text += rng.pick(['"', "\\", "/", "{", "}", "\n", "\0", "\t", "\r"]);
    else if (r < 0.65) text += String.fromCharCode(rng.int(0x20));
    else if (r < 0.75) text += String.fromCharCode(0x4e00 + rng.int(0x5000));
    else if (r < 0.85) text += String.fromCodePoint(0x1f600 + rng.int(0x50));
    else if (r < 0.9) text += rng.pick(["\u0301", "\u200d", "\ufeff", "\u2028", "\uffff", "é"]);
    else text += String.fromCharCode(0xd800 + rng.int(0x800)); // a lone surrogate
  }
  return text;
}

function randomJson(rng: Rng, depth = 0): unknown {
  const r = rng.next();
  if (r < 0.08) return null;
  if (r < 0.14) return rng.chance(0.5);
  if (r < 0.35) return rng.pick(NUMBERS);
  if (r < 0.42) return (rng.next() - 0.5) * 10 ** rng.int(30);
  if (r < 0.7) return randomText(rng, 0, rng.chance(0.01) ? 5000 : 20);
  if (depth > 3) return rng.int(10);
  if (r < 0.85) return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
  const object: Record<string, unknown> = {};
  for (let i = rng.int(5); i > 0; i--) {
    object[rng.chance(0.5) ? rng.pick(KEYS) : randomText(rng, 0, 8)] = randomJson(rng, depth + 1);
  }
  return object;
}

/** Users and groups a connection's frames name. */
interface World {
  alice: number;
  bob: number;
  users: number[];
  aliceGroup: number;
  fuzzGroup: number;
}

/** A value of the right type and size for `field`, as a client would send it. */
function validValue(rng: Rng, field: string, conn: Model, world: World): unknown {
  const ids = [world.alice, world.bob, ...world.users, 999_999_999];
  switch (field) {
    case "id":
      return conn.user && rng.chance(0.7) ? conn.user.id : rng.pick(ids);
    case "toid":
    case "friendid":
    case "userid":
      return rng.pick(ids);
    case "accept":
    case "on":
      return rng.chance(0.5);
    case "role":
      return rng.pick(["admin", "normal", "creator"]);
    case "note":
      return randomText(rng, 0, 200);
    case "groupid":
      return rng.pick([world.aliceGroup, world.fuzzGroup, 999_999_999]);
    case "name":
    case "groupname":
    case "password":
      return randomText(rng, 1, 50);
    case "groupdesc":
      return randomText(rng, 0, 200);
    case "msg":
      return rng.chance(0.005) ? "😀".repeat(4095 + rng.int(3)) : randomText(rng, 1, 40);
    case "time":
      return rng.chance(0.3) ? "2026-11-22 10:00:00" : randomText(rng, 0, 64);
    case "state":
      return rng.pick(["online", "offline"]);
    case "conv":
      return rng.pick(convNames(conn, world));
    case "after":
    case "before":
    case "seq":
      return rng.pick([0, 1, 2, 5, 1000, 2 ** 53 - 1]);
    case "limit":
      return rng.pick([1, 2, 100, 1000, 1001]);
    case "cmid":
      return rng.chance(0.8) ? `c-${rng.int(50)}` : randomText(rng, 0, 70);
    case "errno":
    case "ref":
    case "ts":
      return rng.int(20);
    default:
      return randomText(rng, 0, 10);
  }
}

/** Conversation names a client might send: its own, other people's, groups, malformed ones. */
function convNames(conn: Model, world: World): string[] {
  const me = conn.user?.id ?? world.alice;
  const direct = (a: number, b: number) => a < b ? `u:${a}:${b}` : `u:${b}:${a}`;
  return [
    direct(me, world.bob === me ? world.alice : world.bob),
    direct(world.alice, world.bob),
    direct(me, 999_999_999),
    `g:${world.aliceGroup}`,
    `g:${world.fuzzGroup}`,
    "g:999999999",
    `u:${world.bob}:${world.alice}`,
    "u:1",
    "",
  ];
}

/** A frame of `msgid` whose fields are each valid, missing, null or a random JSON value. */
function typedFrame(rng: Rng, msgid: number, conn: Model, world: World): string {
  const frame: Record<string, unknown> = { msgid };
  for (const field of [...FIELDS[msgid] ?? [], "v", "cid"]) {
    const r = rng.next();
    if (r < 0.45) {
      if (field === "v") frame.v = conn.kind.v2 ? 2 : rng.pick([1, 0, "2"]);
      else if (field === "cid") frame.cid = rng.chance(0.5) ? rng.int(1e9) : randomText(rng, 0, 64);
      else frame[field] = validValue(rng, field, conn, world);
    } else if (r < 0.6) continue;
    else if (r < 0.65) frame[field] = null;
    else frame[field] = randomJson(rng);
  }
  return JSON.stringify(frame);
}

/** A frame built as text, so it can hold tokens JSON.stringify never writes. */
function rawFrame(rng: Rng, msgid: number): string {
  const value = () => rng.chance(0.5) ? rng.pick(RAW_TOKENS) : JSON.stringify(randomJson(rng, 2));
  const parts = [`"msgid":${rng.chance(0.3) ? value() : msgid}`];
  for (const field of FIELDS[msgid] ?? []) {
    if (rng.chance(0.7)) parts.push(`${JSON.stringify(field)}:${value()}`);
  }
  if (rng.chance(0.3)) parts.push(`"msgid":${rng.chance(0.5) ? value() : rng.int(16)}`); // duplicate key
  if (rng.chance(0.3)) parts.push(`"v":${rng.chance(0.5) ? value() : 2}`);
  if (rng.chance(0.3)) parts.push(`"cid":${value()}`);
  if (rng.chance(0.1)) parts.push(`"__proto__":{"msgid":6}`);
  for (let i = parts.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [parts[i], parts[j]] = [parts[j], parts[i]];
  }
  return `{${parts.join(rng.chance(0.9) ? "," : " , ")}}`;
}

/** A valid request of `msgid` as this connection would send it (LOGIN with a wrong password). */
function validFrame(rng: Rng, msgid: number, conn: Model, world: World): Record<string, unknown> {
  const user = conn.user ?? { id: world.alice, name: "alice" };
  const frames: Record<number, Record<string, unknown>> = {
    1: { msgid: 1, id: rng.pick([user.id, world.alice, world.bob]), password: "wrong-password" },
    3: rng.chance(0.5) ? { msgid: 3 } : { msgid: 3, id: user.id },
    4: { msgid: 4, name: `fz-${rng.int(1e9)}-ü😀`, password: "pw" },
    6: {
      msgid: 6,
      id: user.id,
      name: user.name,
      toid: world.bob,
      msg: 'hi "你好" 😀 \\',
      time: "2026-11-22 10:00:00",
    },
    7: { msgid: 7, id: user.id, friendid: world.bob },
    8: { msgid: 8, id: user.id, groupname: `g-${rng.int(1e9)}`, groupdesc: "a group" },
    9: { msgid: 9, id: user.id, groupid: world.aliceGroup },
    10: { msgid: 10, id: user.id, name: user.name, groupid: world.fuzzGroup, msg: "hello", time: "" },
    13: { msgid: 13 },
    16: rng.chance(0.3)
      ? { msgid: 16 }
      : { msgid: 16, conv: rng.pick(convNames(conn, world)), after: rng.int(5), limit: 1 + rng.int(10) },
    17: {
      msgid: 17,
      conv: rng.pick(convNames(conn, world)),
      before: 1 + rng.int(10),
      limit: 1 + rng.int(10),
    },
    18: { msgid: 18, conv: rng.pick(convNames(conn, world)), seq: rng.int(3) },
    20: { msgid: 20, conv: rng.pick(convNames(conn, world)) },
    21: { msgid: 21, friendid: rng.pick([world.alice, world.bob]), note: "hi" },
    22: { msgid: 22, id: rng.pick([world.alice, world.bob]), accept: rng.chance(0.5) },
    23: { msgid: 23, friendid: rng.pick([world.alice, world.bob]) },
    24: { msgid: 24, userid: rng.pick([world.alice, world.bob]), on: rng.chance(0.5) },
    25: { msgid: 25, groupid: rng.pick([world.aliceGroup, world.fuzzGroup]) },
    26: { msgid: 26, groupid: rng.pick([world.aliceGroup, world.fuzzGroup]), userid: world.bob },
    27: { msgid: 27, groupid: world.fuzzGroup, userid: world.bob, role: rng.pick(["admin", "normal"]) },
    28: { msgid: 28, groupid: world.fuzzGroup, groupdesc: "fuzzed" },
  };
  if ((msgid === 6 || msgid === 10) && rng.chance(0.5)) frames[msgid].cmid = `c-${rng.int(50)}`;
  const frame = frames[msgid];
  if (conn.kind.v2) frame.v = 2;
  if (rng.chance(0.7)) frame.cid = rng.int(1e6);
  return frame;
}

function randomBytes(rng: Rng): Uint8Array {
  const bytes = new Uint8Array(1 + rng.int(64));
  for (let i = 0; i < bytes.length; i++) {
    const r = rng.next();
    bytes[i] = r < 0.1
      ? 0x7b
      : r < 0.2
      ? 0x7d
      : r < 0.28
      ? 0x22
      : r < 0.32
      ? 0x5c
      : r < 0.35
      ? 0x0a
      : r < 0.37
      ? 0x00
      : r < 0.6
      ? 0x20 + rng.int(0x5f)
      : rng.int(256);
  }
  return bytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** One to three of: byte flips, truncation, duplication of the frame or a slice, deletion, insertion. */
function mutate(rng: Rng, bytes: Uint8Array): Uint8Array {
  let out = bytes;
  for (let n = 1 + rng.int(3); n > 0 && out.length > 0; n--) {
    const at = rng.int(out.length);
    switch (rng.int(6)) {
      case 0:
      case 1: {
        out = out.slice();
        out[at] = rng.chance(0.5)
          ? out[at] ^ (1 << rng.int(8))
          : rng.pick([0x7b, 0x7d, 0x22, 0x5c, 0, 0xff, 0xc3]);
        break;
      }
      case 2:
        out = out.slice(0, at);
        break;
      case 3:
        out = rng.chance(0.5) ? concat(out, out) : concat(out.slice(0, at), out.slice(rng.int(at + 1)));
        break;
      case 4:
        out = concat(out.slice(0, at), out.slice(at + 1 + rng.int(8)));
        break;
      default:
        out = concat(concat(out.slice(0, at), randomBytes(rng).slice(0, 1 + rng.int(4))), out.slice(at));
    }
  }
  return out;
}

const TERMINATORS = ["\n", "\n", "\n", "\n", "\0", "\0", "", "", "\r\n", " "].map((t) => encoder.encode(t));

function randomCase(rng: Rng, conn: Model, world: World): Uint8Array {
  const r = rng.next();
  const msgid = rng.chance(0.9) ? 1 + rng.int(29) : rng.pick([0, -1, 30, 99, 2 ** 31, 2 ** 53 - 1]);
  let bytes: Uint8Array;
  if (r < 0.12) return randomBytes(rng);
  if (r < 0.2) bytes = encoder.encode(JSON.stringify(randomJson(rng)) ?? "null");
  else if (r < 0.55) bytes = encoder.encode(typedFrame(rng, msgid, conn, world));
  else if (r < 0.65) bytes = encoder.encode(rawFrame(rng, msgid));
  else {
    const request = rng.pick([...REQUESTS, ...V2_REQUESTS]);
    bytes = encoder.encode(JSON.stringify(validFrame(rng, request, conn, world)));
    if (rng.chance(0.9)) bytes = mutate(rng, bytes);
  }
  return concat(bytes, rng.pick(TERMINATORS));
}

// --- the model of one connection -----------------------------------------------------------------------

interface Kind {
  v2: boolean;
  loggedIn: boolean;
}

interface FuzzUser {
  id: number;
  name: string;
  password: string;
}

/** What the run may still spend. */
interface Budget {
  hashes: number;
  logouts: number;
}

/** What one candidate does on the server, as far as the client can know. */
interface Effect {
  /** The frames it completes, as the server's decoder splits them (`null`: not UTF-8). */
  texts: (string | null)[];
  /** Frames that are answered whatever the server's data. */
  sure: number;
  /** Frames that may or may not be answered (v1 requests that succeed get no answer). */
  maybe: number;
  hashes: number;
  logouts: number;
}

/**
 * Parses one frame the server wrote and records what is wrong with it: not a JSON object with a
 * server msgid, a v2-only frame on a connection that never became v2, or errno 11 (with an in-memory
 * SQLite store nothing is ever busy: errno 11 means a request failed inside the server).
 */
function inspect(line: string, everV2: boolean, problems: string[]): Reply | undefined {
  let frame: Reply;
  try {
    frame = JSON.parse(line);
  } catch {
    problems.push(`not JSON: ${line.slice(0, 200)}`);
    return undefined;
  }
  if (typeof frame !== "object" || frame === null || !SERVER_MSGIDS.has(frame.msgid)) {
    problems.push(`not a server frame: ${line.slice(0, 200)}`);
    return undefined;
  }
  if (!everV2 && !V1_MSGIDS.has(frame.msgid)) problems.push(`v2 frame on a v1 connection: ${line}`);
  if (frame.errno === 11) problems.push(`errno 11 (a request failed inside the server): ${line}`);
  return frame;
}

/**
 * What the server holds for one connection, as far as the client can know: the unfinished frame, the
 * protocol level, the login and failed logins, and how many answers must (`sure`) or may (`maybe`) come.
 */
class Model {
  readonly kind: Kind;
  readonly user: FuzzUser | undefined;
  /** Bytes of the frame the server's decoder holds unfinished. */
  #tail = new Uint8Array(0);
  version: 1 | 2 = 1;
  loggedIn = false;
  #failedLogins = 0;
  everV2 = false;
  sure = 0;
  maybe = 0;
  frames = 0;

  constructor(kind: Kind, user: FuzzUser | undefined) {
    this.kind = kind;
    this.user = user;
  }

  /** Frames `candidate` would complete on the server, given what it holds unfinished. */
  #split(candidate: Uint8Array): { frames: Uint8Array[]; held: number } | undefined {
    const decoder = new FrameDecoder();
    decoder.push(this.#tail);
    const out = decoder.push(candidate);
    const frames: Uint8Array[] = [];
    for (const frame of out) {
      if (frame.kind === "too_large") return undefined;
      frames.push(frame.bytes.slice());
    }
    return { frames, held: decoder.buffered };
  }

  /**
   * Runs `candidate` through the model; returns its effect, or `undefined` (and changes nothing) when
   * it would exceed `budget` or a frame limit.
   */
  accept(candidate: Uint8Array, budget: Budget, relogin = false): Effect | undefined {
    const split = this.#split(candidate);
    if (!split) return undefined;
    const effect: Effect = { texts: [], sure: 0, maybe: 0, hashes: 0, logouts: 0 };
    let version = this.version;
    let loggedIn = this.loggedIn;
    let failedLogins = this.#failedLogins;
    for (const bytes of split.frames) {
      const text = utf8Text(bytes);
      effect.texts.push(text);
      let envelope: Envelope;
      try {
        envelope = parseEnvelope(text, DEFAULT_LIMITS);
      } catch {
        effect.sure++;
        continue;
      }
      if (envelope.v2) version = 2;
      const { msgid, frame } = envelope;
      const valid = (check: () => unknown) => {
        try {
          check();
          return true;
        } catch {
          return false;
        }
      };
      if (!REQUESTS.has(msgid) && !(version === 2 && V2_REQUESTS.has(msgid))) {
        effect.sure++;
      } else if (msgid === TYPING) {
        // Never answered, whatever it holds.
      } else if (msgid === 13) {
        if (version === 2) effect.sure++;
      } else if (msgid === 4) {
        effect.sure++;
        if (valid(() => registerRequest(frame, DEFAULT_LIMITS))) effect.hashes++;
      } else if (msgid === 1) {
        effect.sure++;
        if (!valid(() => loginRequest(frame, DEFAULT_LIMITS)) || loggedIn || failedLogins >= 5) continue;
        effect.hashes++;
        if (relogin && frame.id === this.user?.id && frame.password === this.user?.password) loggedIn = true;
        else failedLogins++;
      } else if (!loggedIn || version === 2) {
        // Refused before login (errno 5), or a v2 request: answered either way.
        effect.sure++;
        if (msgid === 3 && loggedIn && valid(() => logoutRequest(frame))) {
          const id = logoutRequest(frame).id;
          if (id === undefined || id === this.user?.id) {
            [loggedIn, effect.logouts] = [false, effect.logouts + 1];
          }
        }
      } else {
        // v1 and logged in: nothing on success, ERROR on failure.
        const decode = {
          3: () => logoutRequest(frame),
          6: () => oneChatRequest(frame, DEFAULT_LIMITS),
          7: () => addFriendRequest(frame),
          8: () => createGroupRequest(frame, DEFAULT_LIMITS),
          9: () => addGroupRequest(frame),
          10: () => groupChatRequest(frame, DEFAULT_LIMITS),
        }[msgid]!;
        if (!valid(decode)) {
          effect.sure++;
          continue;
        }
        const id = (decode() as { id: number | undefined }).id;
        if (id !== undefined && id !== this.user?.id) effect.sure++;
        else if (msgid === 3) [loggedIn, effect.logouts] = [false, effect.logouts + 1];
        else effect.maybe++;
      }
    }
    if (effect.hashes > budget.hashes || effect.logouts > budget.logouts) return undefined;
    // A logged-in connection that was logged out must be able to log in again (5 failures block it).
    if (this.kind.loggedIn && failedLogins > 0) return undefined;
    budget.hashes -= effect.hashes;
    budget.logouts -= effect.logouts;
    const stream = concat(this.#tail, candidate);
    this.#tail = stream.slice(stream.length - split.held);
    this.version = version;
    this.everV2 ||= version === 2;
    this.loggedIn = loggedIn;
    this.#failedLogins = failedLogins;
    this.sure += effect.sure;
    this.maybe += effect.maybe;
    this.frames += effect.texts.length;
    return effect;
  }
}

/** A TCP connection to the server under fuzz, with its model. */
class FuzzConnection extends Model {
  readonly #conn: Deno.TcpConn;
  /** What came back. */
  answers = 0;
  /** Answers by errno, for the summary. */
  readonly errnos = new Map<number, number>();
  readonly problems: string[] = [];
  readonly #probes = new Map<string, () => void>();
  readonly #ended = Promise.withResolvers<void>();

  private constructor(conn: Deno.TcpConn, kind: Kind, user: FuzzUser | undefined) {
    super(kind, user);
    this.#conn = conn;
    this.#read();
  }

  static async open(port: number, kind: Kind, user?: FuzzUser): Promise<FuzzConnection> {
    return new FuzzConnection(await Deno.connect({ hostname: "127.0.0.1", port }), kind, user);
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let written = 0; written < bytes.length;) written += await this.#conn.write(bytes.subarray(written));
  }

  /**
   * The bytes that close a batch: a `\n` that ends any unfinished frame, a LOGIN when the model says the
   * connection lost its login, and a probe whose answer comes after the answers to everything before it.
   * Returns them with the probe's answer (rejected when it does not come: a hang).
   */
  endBatch(round: number): { bytes: Uint8Array; answered: Promise<void> } {
    const parts = [encoder.encode("\n")];
    if (this.kind.loggedIn && !this.loggedIn) {
      const { id, password } = this.user!;
      parts.push(
        encoder.encode(JSON.stringify({ msgid: 1, id, password, ...this.kind.v2 ? { v: 2 } : {} }) + "\n"),
      );
    }
    const key = `probe:${round}`;
    const probe = this.version === 2 ? { msgid: 13, cid: key } : { msgid: 7_000_000 + round, cid: key };
    parts.push(encoder.encode(JSON.stringify(probe) + "\n"));
    let bytes: Uint8Array = new Uint8Array(0);
    for (const part of parts) {
      assert.ok(
        this.accept(part, { hashes: Infinity, logouts: 0 }, true),
        "the closing bytes are always accepted",
      );
      bytes = concat(bytes, part);
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#probes.set(key, resolve);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answered = Promise.race([
      promise,
      this.#ended.promise.then(() => {
        throw new Error(`${this.label}: the server closed the connection before answering ${key}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${this.label}: no answer to ${key} (hang?)`)),
          PROBE_TIMEOUT_MS,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    // Awaited later; a failure meanwhile must not count as unhandled.
    answered.catch(() => {});
    return { bytes, answered };
  }

  /** Writes what {@linkcode endBatch} returns after `batch`, and waits for the probe's answer. */
  async send(batch: Uint8Array, round: number): Promise<void> {
    const end = this.endBatch(round);
    await this.write(concat(batch, end.bytes));
    await end.answered;
  }

  get label(): string {
    return `${this.kind.v2 ? "v2" : "v1"} ${this.kind.loggedIn ? `user ${this.user!.id}` : "anonymous"}`;
  }

  async #read(): Promise<void> {
    await readLines(this.#conn, (line) => this.#onLine(line));
    this.#ended.resolve();
  }

  #onLine(line: string): void {
    const frame = inspect(line, this.everV2, this.problems);
    if (!frame || !ANSWERS.has(frame.msgid)) return;
    this.answers++;
    if (typeof frame.errno === "number") {
      this.errnos.set(frame.errno, (this.errnos.get(frame.errno) ?? 0) + 1);
    }
    const probe = typeof frame.cid === "string" ? this.#probes.get(frame.cid) : undefined;
    if (probe) {
      this.#probes.delete(frame.cid as string);
      probe();
    }
  }

  close(): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // Closed by the server.
    }
    return this.#ended.promise;
  }
}

// --- the test ---------------------------------------------------------------------------------------

async function request(client: TestClient, frame: Record<string, unknown>): Promise<Reply> {
  const reply = await client.request(frame, 20_000);
  assert.equal(reply.errno, 0, `${JSON.stringify(frame)} → ${JSON.stringify(reply)}`);
  return reply;
}

async function register(port: number, name: string, password: string): Promise<number> {
  await using client = await TestClient.connect(port);
  return (await request(client, { msgid: 4, name, password })).id as number;
}

/** Friends and groups as a LOGIN_ACK lists them, without presence (which may change). */
function socialState(login: Reply): unknown {
  const friends = (login.friends as Reply[]).map(({ id, name }) => ({ id, name }));
  const groups = (login.groups as Reply[]).map(({ id, groupname, groupdesc }) => ({
    id,
    groupname,
    groupdesc,
  }));
  return { friends, groups };
}

Deno.test({
  name: "ChatService survives 100,000 fuzzed cases over TCP and keeps serving (seed 0x5eed0007)",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-fuzz-" });
    const logFile = `${dir}/server.log`;
    const server = await ServerProcess.start(
      [
        "--port",
        "0",
        "--db",
        `${dir}/chat.db`,
        "--rate-limit",
        "1000000",
        "--log-level",
        "warn",
        "--log-format",
        "json",
      ],
      logFile,
    );
    const connections: FuzzConnection[] = [];
    try {
      // Fixed names (the database is new), so the cases that mutate frames naming them repeat exactly.
      const run = "run";
      const password = () => `pw-${crypto.randomUUID()}`;
      // Alice is the victim: frames name her id, her friend and her group; none may change her data.
      const alicePassword = password();
      const alice = await register(server.port, `alice-${run}`, alicePassword);
      const bobPassword = password();
      const bob = await register(server.port, `bob-${run}`, bobPassword);
      let aliceBefore: unknown;
      let aliceGroup: number;
      let fuzzGroup: number;
      {
        await using client = await TestClient.connect(server.port);
        await request(client, { msgid: 1, id: alice, password: alicePassword });
        await request(client, { msgid: 7, friendid: bob });
        aliceGroup = (await request(client, { msgid: 8, groupname: `alice-${run}`, groupdesc: "hers" }))
          .groupid as number;
        await request(client, { msgid: 3 });
        aliceBefore = socialState(await request(client, { msgid: 1, id: alice, password: alicePassword }));
        await request(client, { msgid: 3 });
        // Bob's group is the one the fuzzed users join and chat in.
        await request(client, { msgid: 1, id: bob, password: bobPassword });
        fuzzGroup = (await request(client, { msgid: 8, groupname: `bob-${run}`, groupdesc: "" }))
          .groupid as number;
      }
      const kinds: Kind[] = [];
      for (let i = 0; i < PER_KIND; i++) {
        for (const v2 of [false, true]) for (const loggedIn of [false, true]) kinds.push({ v2, loggedIn });
      }
      const users: FuzzUser[] = [];
      for (const kind of kinds) {
        let user: FuzzUser | undefined;
        if (kind.loggedIn) {
          user = { id: 0, name: `fz${users.length}-${run}`, password: password() };
          user.id = await register(server.port, user.name, user.password);
          users.push(user);
        }
        connections.push(await FuzzConnection.open(server.port, kind, user));
      }
      // Log the logged-in kinds in, through the model so it knows.
      for (const conn of connections) {
        if (conn.kind.loggedIn) await conn.send(new Uint8Array(0), 0);
      }
      const world: World = { alice, bob, users: users.map((user) => user.id), aliceGroup, fuzzGroup };

      const rng = new Rng(SEED);
      const budget: Budget = { hashes: HASH_BUDGET, logouts: LOGOUT_BUDGET };
      const started = performance.now();
      let cases = 0;
      let generating = 0;
      // Each round is generated while the server works through the previous one.
      let inFlight: Promise<unknown> = Promise.resolve();
      for (let round = 1; cases < TOTAL_CASES; round++) {
        const generated = performance.now();
        const batches = connections.map((conn) => {
          const parts: Uint8Array[] = [];
          let size = 0;
          for (let i = 0; i < CASES_PER_BATCH; i++) {
            const candidate = randomCase(rng, conn, world);
            if (conn.accept(candidate, budget)) {
              parts.push(candidate);
              size += candidate.length;
            }
          }
          cases += parts.length;
          const bytes = new Uint8Array(size);
          let offset = 0;
          for (const part of parts) {
            bytes.set(part, offset);
            offset += part.length;
          }
          return bytes;
        });
        generating += performance.now() - generated;
        // The closing bytes go through the model now, in the order they go on the wire.
        const ends = connections.map((conn) => conn.endBatch(round));
        await inFlight;
        inFlight = Promise.all(connections.map(async (conn, i) => {
          await conn.write(concat(batches[i], ends[i].bytes));
          await ends[i].answered;
        }));
      }
      await inFlight;
      const elapsed = performance.now() - started;

      for (const conn of connections) {
        assert.deepEqual(conn.problems, [], conn.label);
        assert.ok(
          conn.answers >= conn.sure && conn.answers <= conn.sure + conn.maybe,
          `${conn.label}: ${conn.answers} answers, expected ${conn.sure} to ${conn.sure + conn.maybe}`,
        );
        // A v2 connection (v2 from its first frame) is answered exactly once per frame.
        if (conn.kind.v2) assert.deepEqual([conn.maybe, conn.answers], [0, conn.sure], conn.label);
      }
      const frames = connections.reduce((sum, conn) => sum + conn.frames, 0);
      const errnos = new Map<number, number>();
      for (const conn of connections) {
        for (const [errno, count] of conn.errnos) errnos.set(errno, (errnos.get(errno) ?? 0) + count);
      }
      console.log(
        `fuzz: ${cases} cases, ${frames} frames over ${connections.length} connections in ${
          (elapsed / 1000).toFixed(1)
        } s (${(generating / 1000).toFixed(1)} s of it generating); answers by errno ${
          JSON.stringify(Object.fromEntries([...errnos].sort((a, b) => a[0] - b[0])))
        }`,
      );
      assert.ok(cases >= TOTAL_CASES);

      // The fuzzed connections still work: a logged-in v2 one chats to a fresh user.
      const carolPassword = password();
      const carol = await register(server.port, `carol-${run}-"ü😀\\`, carolPassword);
      await using carolClient = await TestClient.connect(server.port);
      const carolLogin = await request(carolClient, { msgid: 1, id: carol, password: carolPassword });
      assert.equal(carolLogin.name, `carol-${run}-"ü😀\\`);
      const sender = connections.find((conn) => conn.kind.loggedIn && conn.kind.v2 && conn.loggedIn);
      if (sender) {
        const frame = { msgid: 6, v: 2, cid: "after", toid: carol, msg: "still here 你好" };
        const bytes = encoder.encode(JSON.stringify(frame) + "\n");
        assert.ok(sender.accept(bytes, { hashes: 0, logouts: 0 }));
        await sender.write(bytes);
        const chat = await carolClient.nextOf(6, 10_000);
        assert.deepEqual([chat.id, chat.msg], [sender.user!.id, "still here 你好"]);
      }

      // A fresh v1 user and the fresh v2 one chat both ways.
      const davePassword = password();
      const dave = await register(server.port, `dave-${run}`, davePassword);
      await using daveClient = await TestClient.connect(server.port);
      await daveClient.send(JSON.stringify({ msgid: 1, id: dave, password: davePassword }) + "\0");
      assert.equal((await daveClient.nextOf(2, 10_000)).errno, 0);
      await request(carolClient, { msgid: 6, toid: dave, msg: "hello dave" });
      const toDave = await daveClient.nextOf(6, 10_000);
      assert.deepEqual([toDave.id, toDave.msg], [carol, "hello dave"]);
      await daveClient.send(
        JSON.stringify({ msgid: 6, id: dave, toid: carol, msg: "hi carol", time: "t" }) + "\0",
      );
      const toCarol = await carolClient.nextOf(6, 10_000);
      assert.deepEqual([toCarol.id, toCarol.name, toCarol.msg], [dave, `dave-${run}`, "hi carol"]);

      // Alice's friends and groups are what they were: the garbage that named her was all refused.
      {
        await using client = await TestClient.connect(server.port);
        const login = await request(client, { msgid: 1, id: alice, password: alicePassword });
        assert.deepEqual(socialState(login), aliceBefore);
      }

      for (const conn of connections.splice(0)) await conn.close();
      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 0, "the server was alive and stopped cleanly");
      const errors = (await Deno.readTextFile(logFile)).split("\n").filter((line) =>
        line.includes('"level":"error"')
      );
      assert.deepEqual(errors, [], "no error in the server's log");
    } finally {
      for (const conn of connections) await conn.close();
      await server.stop("SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// --- the dispatcher in process ------------------------------------------------------------------------

/** Cases handed straight to `ChatService.onFrame()`. */
const IN_PROCESS_CASES = 50_000;

Deno.test("ChatService.onFrame() answers 50,000 fuzzed frames in process and never rejects (seed 0x5eed0008)", async () => {
  const store = SqliteStore.open(":memory:");
  await store.migrate();
  const bus = new LocalBus("fuzz");
  const log = new RecordingLogger();
  const service = new ChatService({ store, bus, log, rateLimit: 1_000_000 });
  await bus.start();
  try {
    const password = "pw-in-process";
    const hash = await hashPassword(password);
    const alice = await store.createUser("alice", hash);
    const bob = await store.createUser("bob", hash);
    await store.addFriend(alice, bob);
    const aliceGroup = await store.createGroup(alice, "alice's", "hers");
    const fuzzGroup = await store.createGroup(bob, "bob's", "");
    // Members of her group may change (others may join it); her friends and her groups may not.
    const aliceState = async () => ({
      friends: await store.listFriends(alice),
      groups: (await store.listUserGroups(alice)).map(({ id, name, desc }) => ({ id, name, desc })),
    });
    const aliceBefore = await aliceState();
    const users: FuzzUser[] = [];
    const pairs: { model: Model; conn: RecordingConnection }[] = [];
    for (let i = 0; i < PER_KIND; i++) {
      for (const v2 of [false, true]) {
        for (const loggedIn of [false, true]) {
          let user: FuzzUser | undefined;
          if (loggedIn) {
            user = {
              id: await store.createUser(`fz${users.length}`, hash),
              name: `fz${users.length}`,
              password,
            };
            users.push(user);
          }
          const conn = new RecordingConnection();
          service.onOpen(conn);
          pairs.push({ model: new Model({ v2, loggedIn }, user), conn });
        }
      }
    }
    const world: World = { alice, bob, users: users.map((user) => user.id), aliceGroup, fuzzGroup };
    const handle = async ({ conn }: (typeof pairs)[number], effect: Effect | undefined) => {
      assert.ok(effect);
      for (const text of effect.texts) {
        await service.onFrame(conn, text);
      }
    };
    const closing = (model: Model) => {
      const { id, password } = model.user ?? { id: 0, password: "" };
      const login = model.kind.loggedIn && !model.loggedIn
        ? JSON.stringify({ msgid: 1, id, password, ...model.kind.v2 ? { v: 2 } : {} }) + "\n"
        : "";
      return model.accept(encoder.encode("\n" + login), { hashes: Infinity, logouts: 0 }, true);
    };
    for (const pair of pairs) await handle(pair, closing(pair.model));

    const rng = new Rng(SEED + 1);
    const budget: Budget = { hashes: 10, logouts: LOGOUT_BUDGET };
    let cases = 0;
    while (cases < IN_PROCESS_CASES) {
      for (const pair of pairs) {
        for (let i = 0; i < 100; i++) {
          const effect = pair.model.accept(randomCase(rng, pair.model, world), budget);
          if (!effect) continue;
          cases++;
          await handle(pair, effect);
        }
        await handle(pair, closing(pair.model));
      }
    }

    // Fuzzed passwords fail logins, and failed or refused logins are warnings by design (who tried which id
    // from where); any other warning or error fails the test.
    const expected = ["warn login failed ", "warn login refused: too many failed logins "];
    assert.deepEqual(
      log.problems().filter((problem) => !expected.some((start) => problem.startsWith(start))),
      [],
    );
    for (const { model, conn } of pairs) {
      const problems: string[] = [];
      const answers = conn.sent.map((text) => {
        assert.ok(text.endsWith("\n"), "every frame ends with a newline");
        return inspect(text.slice(0, -1), model.everV2, problems);
      }).filter((frame) => frame && ANSWERS.has(frame.msgid)).length;
      assert.deepEqual(problems, []);
      assert.equal(conn.isClosed, false);
      assert.ok(
        answers >= model.sure && answers <= model.sure + model.maybe,
        `${answers} answers, expected ${model.sure} to ${model.sure + model.maybe}`,
      );
      // A v2 connection (v2 from its first frame) is answered exactly once per frame.
      if (model.kind.v2) assert.deepEqual([model.maybe, answers], [0, model.sure]);
    }
    assert.deepEqual(await aliceState(), aliceBefore);
  } finally {
    await service.endAllLogins();
    await bus.close();
    await store.close();
  }
});
