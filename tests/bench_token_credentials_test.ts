import assert from "node:assert/strict";
import { forEachLimited } from "./bench/for_each_limited.ts";
import { tokenFromAck } from "./bench/token_credentials.ts";

const TOKEN = "AbCdEfGhIjKlMnOpQrStUvWxYz012345";

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
