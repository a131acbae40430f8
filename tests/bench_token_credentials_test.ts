import assert from "node:assert/strict";
import { type Answer, FakeChatServer } from "./bench/fake_chat_server.ts";
import { forEachLimited } from "./bench/for_each_limited.ts";
import { LoginStorm } from "./bench/login.ts";
import { LoginStormInWorker } from "./bench/login_storm_in_worker.ts";
import { issueTokens, tokenFromAck } from "./bench/token_credentials.ts";
import { eventually } from "./harness/eventually.ts";

const TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";

/** A server's LOGIN answers: the first login finds the device still held, user 2's token is refused. */
function heldThenRefused(): Answer {
  let logins = 0;
  return (frame) => {
    if (frame.msgid !== 1) return [];
    logins++;
    if (logins === 1) return [{ msgid: 2, errno: 2, errmsg: "held" }];
    if (frame.id === 2) return [{ msgid: 2, errno: 1, errmsg: "token refused" }];
    return [{ msgid: 2, errno: 0, id: frame.id, token: frame.token }];
  };
}

Deno.test("tokenFromAck() returns the token of a successful LOGIN_ACK", () => {
  assert.equal(tokenFromAck({ msgid: 2, errno: 0, id: 7, token: TOKEN }, 7), TOKEN);
});

Deno.test("tokenFromAck() refuses a failed login, another frame, or a missing or short token, naming the user", () => {
  const cases: [Record<string, unknown> & { msgid: number }, RegExp][] = [
    [{ msgid: 2, errno: 1, errmsg: "wrong id or password" }, /LOGIN 7 failed: .*"errno":1/],
    [{ msgid: 11, errno: 0, token: TOKEN }, /LOGIN 7 failed/],
    [{ msgid: 2, errno: 0 }, /LOGIN_ACK of user 7 has no resume token of at least 22 characters: undefined/],
    [{ msgid: 2, errno: 0, token: "short" }, /no resume token of at least 22 characters: "short"/],
    [{ msgid: 2, errno: 0, token: 12345 }, /no resume token/],
  ];
  for (const [ack, message] of cases) assert.throws(() => tokenFromAck(ack, 7), message);
});

Deno.test("forEachLimited() runs every index with at most the given number in flight", async () => {
  let inFlight = 0;
  let most = 0;
  const done: number[] = [];
  await forEachLimited(10, 3, async (i) => {
    most = Math.max(most, ++inFlight);
    await Promise.resolve();
    done.push(i);
    inFlight--;
  });
  assert.equal(most, 3);
  assert.deepEqual(done.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
});

Deno.test("forEachLimited() stops starting tasks at the first failure and rejects with it", async () => {
  const started: number[] = [];
  await assert.rejects(
    forEachLimited(10, 1, (i) => {
      started.push(i);
      return i === 2 ? Promise.reject(new Error("task 2 failed")) : Promise.resolve();
    }),
    /task 2 failed/,
  );
  assert.deepEqual(started, [0, 1, 2]);
});

/** LOGIN answered with `TOKEN` (or refused with `errno`), anything else with an ACK. */
function loginAnswers(errno = 0): Answer {
  return (frame) =>
    frame.msgid === 1
      ? [errno === 0 ? { msgid: 2, errno: 0, id: frame.id, token: TOKEN } : { msgid: 2, errno, errmsg: "no" }]
      : [{ msgid: 11, ref: frame.msgid, errno: 0 }];
}

Deno.test({
  name: "issueTokens() logs each user in once as the device and keeps the token, without LOGINOUT",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(loginAnswers());
    const users = [{ id: 1, password: "a" }, { id: 2, password: "b" }];
    const credentials = await issueTokens(server.endpoint, users, { device: "bench" });
    assert.deepEqual([...credentials], [[1, { device: "bench", token: TOKEN }], [2, {
      device: "bench",
      token: TOKEN,
    }]]);
    assert.deepEqual(server.frames(1).map((f) => [f.id, f.password, f.device]).sort(), [[1, "a", "bench"], [
      2,
      "b",
      "bench",
    ]]);
    assert.equal(server.frames(3).length, 0, "LOGINOUT would revoke the token");
  },
});

Deno.test({
  name: "issueTokens() rejects when a login fails",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(loginAnswers(1));
    await assert.rejects(
      issueTokens(server.endpoint, [{ id: 1, password: "a" }], { device: "d" }),
      /LOGIN 1 failed/,
    );
  },
});

Deno.test({
  name:
    "LoginStorm with tokens loops token logins, retries a device still held and counts refusals as errors",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    // The server ends each connection when the client half-closes it (end of input), as ours does.
    await using server = new FakeChatServer(heldThenRefused());
    const credentials = new Map([[1, { device: "d", token: TOKEN }], [2, { device: "d", token: "other" }]]);
    const users = [{ id: 1, name: "a", password: "a" }, { id: 2, name: "b", password: "b" }];
    const storm = new LoginStorm(server.endpoint, users, 2, { v1: false, tokens: credentials });
    storm.start();
    await eventually(() => storm.logins >= 3 && storm.errors >= 1, {
      what: "token logins",
      timeoutMs: 10_000,
    });
    await storm.stop();
    assert.equal(storm.retries, 1);
    assert.match(storm.lastError!, /token LOGIN errno 1: token refused/);
    const frames = server.frames(1);
    assert.ok(frames.every((f) => f.password === undefined && f.device === "d"), "token logins only");
    assert.deepEqual(new Set(frames.map((f) => f.token)), new Set([TOKEN, "other"]));
    assert.equal(server.frames(3).length, 0, "no LOGINOUT: it would revoke the token");
    assert.equal(storm.window().latency.count > 0, true);
  },
});

Deno.test({
  name: "LoginStormInWorker runs the token logins in a Worker, reads windows and reports retries and errors",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(heldThenRefused());
    const credentials = new Map([[1, { device: "d", token: TOKEN }], [2, { device: "d", token: "other" }]]);
    const users = [{ id: 1, name: "a", password: "a" }, { id: 2, name: "b", password: "b" }];
    await using storm = new LoginStormInWorker({
      endpoint: server.endpoint,
      users,
      workers: 2,
      v1: false,
      tokens: credentials,
    });
    storm.start();
    await eventually(() => server.frames(1).length >= 5, { what: "token logins", timeoutMs: 10_000 });
    const window = await storm.window();
    assert.ok(window.logins >= 1 && window.errors >= 1, JSON.stringify(window));
    assert.ok(window.latency.count >= 1);
    await storm.stop();
    assert.equal(storm.retries, 1);
    assert.match(storm.lastError!, /token LOGIN errno 1: token refused/);
    const frames = server.frames(1);
    assert.deepEqual(new Set(frames.map((f) => f.token)), new Set([TOKEN, "other"]));
  },
});

Deno.test({
  name: "LoginStormInWorker rejects what it waits for when the Worker fails, naming why",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using storm = new LoginStormInWorker({
      endpoint: { hostname: "127.0.0.1", port: 1 },
      users: [],
      workers: 2,
      v1: false,
    });
    storm.start();
    await assert.rejects(
      storm.window(),
      /login worker failed: RangeError: LoginStorm needs a user and a worker/,
    );
    await storm.stop();
  },
});
