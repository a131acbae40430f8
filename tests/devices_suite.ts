/**
 * Devices, per-device offline delivery and resume tokens over real TCP (PROTOCOL.md "Devices and resume
 * tokens"). Shared by the embedded (SQLite) and MySQL runs, like `protocol_suite.ts`.
 */
import assert from "node:assert/strict";
import type { Config } from "../lib/config.ts";
import type { ChatNode } from "../lib/server.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { registerUser, uniqueName, v1Login, wentOffline } from "./protocol_suite.ts";

/** A registered user (not logged in). */
interface Account {
  id: number;
  name: string;
  password: string;
}

async function account(port: number): Promise<Account> {
  const name = uniqueName();
  const password = "pw-" + name;
  return { id: await registerUser(port, name, password), name, password };
}

/** Logs `who` in over a new v2 connection as `device` (none: the default device); asserts success. */
async function device(port: number, who: Account, name?: string): Promise<[TestClient, Reply]> {
  const client = await TestClient.connect(port);
  const login = await client.request({ msgid: 1, id: who.id, password: who.password, device: name });
  assert.equal(login.errno, 0, JSON.stringify(login));
  return [client, login];
}

/** Sends a v2 ONE_CHAT and asserts its ACK. */
async function say(client: TestClient, toid: number, msg: string): Promise<Reply> {
  const ack = await client.request({ msgid: 6, toid, msg });
  assert.equal(ack.errno, 0, JSON.stringify(ack));
  return ack;
}

const texts = (frames: unknown) => (frames as Reply[]).map((frame) => frame.msg);

/** Registers the suite; `start` gives a fresh node for each test, with config overrides when asked. */
export function devicesSuite(name: string, start: (overrides?: Partial<Config>) => Promise<ChatNode>): void {
  const test = (
    title: string,
    fn: (node: ChatNode) => Promise<void>,
    overrides?: Partial<Config>,
  ) =>
    Deno.test({
      name: `${name}: ${title}`,
      sanitizeOps: true,
      sanitizeResources: true,
      fn: async () => {
        await using node = await start(overrides);
        await fn(node);
      },
    });

  test("two devices of one user are logged in at once, and both get each live message", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    await using phone = (await device(node.port, bob, "phone"))[0];
    await using laptop = (await device(node.port, bob, "laptop"))[0];
    await using sender = (await device(node.port, alice))[0];
    const ack = await say(sender, bob.id, "to both");
    for (const client of [phone, laptop]) {
      const frame = await client.nextOf(6);
      assert.deepEqual([frame.msg, frame.conv, frame.seq, frame.mid], [
        "to both",
        ack.conv,
        ack.seq,
        ack.mid,
      ]);
    }
  });

  test("the same device twice while the first is alive is errno 2, also without a device name", async (node) => {
    const bob = await account(node.port);
    await using phone = (await device(node.port, bob, "phone"))[0];
    await using _plain = (await device(node.port, bob))[0];
    await using again = await TestClient.connect(node.port);
    const refused = await again.request({ msgid: 1, id: bob.id, password: bob.password, device: "phone" });
    assert.deepEqual([refused.msgid, refused.errno], [2, 2]);
    assert.match(refused.errmsg as string, /device is already logged in/);
    const plainAgain = await again.request({ msgid: 1, id: bob.id, password: bob.password });
    assert.deepEqual([plainAgain.errno, plainAgain.errmsg], [2, "this user is already logged in"]);
    const v1 = await v1Login(node.port, bob.id, bob.password);
    v1[0].close();
    assert.deepEqual([v1[1].msgid, v1[1].errno], [2, 2], "v1 keeps the one-session rule (device default)");
    assert.equal((await phone.request({ msgid: 3 })).errno, 0);
    const after = await again.request({ msgid: 1, id: bob.id, password: bob.password, device: "phone" });
    assert.equal(after.errno, 0, "after logout the device logs in again");
  });

  test("a device past --max-devices is errno 2; when one leaves, another fits", async (node) => {
    const bob = await account(node.port);
    const [first] = await device(node.port, bob, "d1");
    await using _second = (await device(node.port, bob, "d2"))[0];
    await using third = await TestClient.connect(node.port);
    const refused = await third.request({ msgid: 1, id: bob.id, password: bob.password, device: "d3" });
    assert.deepEqual([refused.errno, refused.errmsg], [2, "this user already has 2 devices logged in"]);
    assert.equal((await first.request({ msgid: 3 })).errno, 0);
    first.close();
    const fits = await third.request({ msgid: 1, id: bob.id, password: bob.password, device: "d3" });
    assert.equal(fits.errno, 0, JSON.stringify(fits));
  }, { maxDevices: 2 });

  test("a device name of 65 characters, an empty one, or one not printable ASCII is errno 4", async (node) => {
    const bob = await account(node.port);
    await using client = await TestClient.connect(node.port);
    for (const bad of ["d".repeat(65), "", "tab\there", "é", 7]) {
      const reply = await client.request({ msgid: 1, id: bob.id, password: bob.password, device: bad });
      assert.deepEqual([reply.msgid, reply.errno], [2, 4], JSON.stringify(bad));
      assert.match(reply.errmsg as string, /"device" must be 1 to 64 printable ASCII characters/);
    }
    const longest = await client.request({
      msgid: 1,
      id: bob.id,
      password: bob.password,
      device: "~".repeat(64),
    });
    assert.equal(longest.errno, 0);
  });

  test("each device gets at its next login what it missed, once; what it saw live is not repeated", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    await using sender = (await device(node.port, alice))[0];
    const [phone] = await device(node.port, bob, "phone");
    const [laptop] = await device(node.port, bob, "laptop");
    assert.equal((await laptop.request({ msgid: 3 })).errno, 0);
    laptop.close();
    await say(sender, bob.id, "one");
    assert.equal((await phone.nextOf(6)).msg, "one");
    assert.equal((await phone.request({ msgid: 3 })).errno, 0);
    phone.close();
    await say(sender, bob.id, "two");

    const [phoneAgain, phoneLogin] = await device(node.port, bob, "phone");
    assert.deepEqual(texts(phoneLogin.offlinemsg), ["two"]);
    const [laptopAgain, laptopLogin] = await device(node.port, bob, "laptop");
    assert.deepEqual(texts(laptopLogin.offlinemsg), ["one", "two"]);
    for (const client of [phoneAgain, laptopAgain]) {
      assert.equal((await client.request({ msgid: 3 })).errno, 0);
      client.close();
    }
    const [phoneThird, third] = await device(node.port, bob, "phone");
    assert.deepEqual(third.offlinemsg, [], "handed once");
    phoneThird.close();
  });

  test("a new device starts from the lowest cursors of the user's devices", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    await using sender = (await device(node.port, alice))[0];
    const [phone] = await device(node.port, bob, "phone");
    await say(sender, bob.id, "seen by the phone");
    await phone.nextOf(6);
    assert.equal((await phone.request({ msgid: 3 })).errno, 0);
    phone.close();
    await say(sender, bob.id, "seen by nobody");
    const [tablet, login] = await device(node.port, bob, "tablet");
    assert.deepEqual(texts(login.offlinemsg), ["seen by nobody"]);
    tablet.close();
  });

  test("messages arriving while a second device logs in reach it once, in order", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    await using sender = (await device(node.port, alice))[0];
    await using phone = (await device(node.port, bob, "phone"))[0];
    const sent = 150;
    const sending = (async () => {
      for (let i = 0; i < sent; i++) {
        await sender.send({ msgid: 6, v: 2, toid: bob.id, msg: `m${i}` });
        if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const [laptop, login] = await device(node.port, bob, "laptop");
    await sending;
    for (let i = 0; i < sent; i++) assert.equal((await sender.nextOf(11)).errno, 0);
    const received = texts(login.offlinemsg);
    while (received.length < sent) received.push((await laptop.nextOf(6, 5000)).msg);
    // The laptop is new: it starts where the phone's saved cursor was, then gets the rest once.
    assert.deepEqual(received.slice(-sent), Array.from({ length: sent }, (_, i) => `m${i}`));
    assert.deepEqual((await laptop.quiet(100)).filter((frame) => frame.msgid === 6), []);
    for (let i = 0; i < sent; i++) assert.equal((await phone.nextOf(6)).msg, `m${i}`);
    laptop.close();
  });

  test("PRESENCE says online with the first device and offline when the last one goes", async (node) => {
    const bob = await account(node.port);
    const alice = await account(node.port);
    await using watcher = (await device(node.port, alice))[0];
    assert.equal((await watcher.request({ msgid: 7, friendid: bob.id })).errno, 0);
    const [phone] = await device(node.port, bob, "phone");
    assert.deepEqual(await watcher.nextOf(15), { msgid: 15, id: bob.id, state: "online" });
    const [laptop] = await device(node.port, bob, "laptop");
    phone.close();
    assert.deepEqual((await watcher.quiet(200)).filter((frame) => frame.msgid === 15), []);
    const [relogin, ack] = await device(node.port, alice, "second");
    assert.deepEqual(ack.friends, [{ id: bob.id, name: bob.name, state: "online" }], "still online");
    relogin.close();
    laptop.close();
    await wentOffline(watcher, bob.id);
  });

  test("a v2 LOGIN_ACK carries a token; a v1 one does not", async (node) => {
    const bob = await account(node.port);
    const [client, login] = await device(node.port, bob, "phone");
    assert.match(login.token as string, /^[A-Za-z0-9_-]{32}$/);
    client.close();
    const [v1, v1Ack] = await v1Login(node.port, bob.id, bob.password);
    v1.close();
    assert.equal(v1Ack.errno, 0);
    assert.equal("token" in v1Ack, false);
  });

  test("LOGIN with the device's token logs in without the password and answers the same token", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    const [phone, first] = await device(node.port, bob, "phone");
    phone.close();
    await using sender = (await device(node.port, alice))[0];
    await say(sender, bob.id, "while away");
    await using back = await TestClient.connect(node.port);
    // The session of the closed connection may still be ending: wait until its claim is gone.
    let login: Reply;
    for (;;) {
      login = await back.request({ msgid: 1, id: bob.id, token: first.token, device: "phone" });
      if (login.errno !== 2) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(login.errno, 0, JSON.stringify(login));
    assert.equal(login.token, first.token);
    assert.equal(login.name, bob.name);
    assert.deepEqual(texts(login.offlinemsg), ["while away"]);
  });

  test("a forged token, another device's token, or one for another user is errno 1", async (node) => {
    const bob = await account(node.port);
    const carol = await account(node.port);
    const [phone, login] = await device(node.port, bob, "phone");
    phone.close();
    await using client = await TestClient.connect(node.port);
    const attempts = [
      { id: bob.id, token: "A".repeat(32), device: "phone" },
      { id: bob.id, token: login.token, device: "laptop" },
      { id: bob.id, token: login.token },
      { id: carol.id, token: login.token, device: "phone" },
    ];
    for (const attempt of attempts) {
      const reply = await client.request({ msgid: 1, ...attempt });
      assert.deepEqual([reply.msgid, reply.errno, reply.errmsg], [
        2,
        1,
        "unknown, expired or revoked token",
      ], JSON.stringify(attempt));
    }
    const tooLong = await client.request({ msgid: 1, id: bob.id, token: "t".repeat(65), device: "phone" });
    assert.equal(tooLong.errno, 4);
  });

  test("LOGINOUT revokes the device's token; a fresh password login issues a new one", async (node) => {
    const bob = await account(node.port);
    const [phone, login] = await device(node.port, bob, "phone");
    assert.equal((await phone.request({ msgid: 3 })).errno, 0);
    const revoked = await phone.request({ msgid: 1, id: bob.id, token: login.token, device: "phone" });
    assert.equal(revoked.errno, 1);
    const fresh = await phone.request({ msgid: 1, id: bob.id, password: bob.password, device: "phone" });
    assert.equal(fresh.errno, 0);
    assert.notEqual(fresh.token, login.token);
    phone.close();
  });

  test(
    "a user keeps --max-tokens tokens, the newest: the oldest device's token stops working",
    async (node) => {
      const bob = await account(node.port);
      const tokens: string[] = [];
      for (const name of ["d1", "d2", "d3"]) {
        const [client, login] = await device(node.port, bob, name);
        tokens.push(login.token as string);
        assert.equal((await client.request({ msgid: 3 })).errno, 0);
        // LOGINOUT revoked it; a fresh password login of the device issues the one that is kept.
        const again = await client.request({ msgid: 1, id: bob.id, password: bob.password, device: name });
        tokens[tokens.length - 1] = again.token as string;
        client.close();
        await client.closed.catch(() => {});
      }
      await using client = await TestClient.connect(node.port);
      const answers = [];
      for (const [i, name] of ["d1", "d2", "d3"].entries()) {
        // Each device's session may still be ending: errno 2 until it has.
        for (;;) {
          const reply = await client.request({ msgid: 1, id: bob.id, token: tokens[i], device: name });
          if (reply.errno === 2) {
            await new Promise((resolve) => setTimeout(resolve, 10));
            continue;
          }
          answers.push(reply.errno);
          if (reply.errno === 0) assert.equal((await client.request({ msgid: 3 })).errno, 0);
          break;
        }
      }
      assert.deepEqual(answers, [1, 0, 0]);
    },
    { maxTokens: 2 },
  );

  test("failed token logins count towards the per-connection limit (errno 10)", async (node) => {
    const bob = await account(node.port);
    await using client = await TestClient.connect(node.port);
    for (let i = 0; i < 5; i++) {
      assert.equal((await client.request({ msgid: 1, id: bob.id, token: "x", device: "phone" })).errno, 1);
    }
    assert.equal((await client.request({ msgid: 1, id: bob.id, password: bob.password })).errno, 10);
  });

  test("a v1 device of a user gets chat frames only, never PRESENCE or v2 frames meant for the user", async (node) => {
    const alice = await account(node.port);
    const bob = await account(node.port);
    const [v1, v1Ack] = await v1Login(node.port, bob.id, bob.password);
    assert.equal(v1Ack.errno, 0);
    await using v2 = (await device(node.port, bob, "v2"))[0];
    assert.equal((await v2.request({ msgid: 7, friendid: alice.id })).errno, 0);
    await using sender = (await device(node.port, alice))[0];
    assert.deepEqual(await v2.nextOf(15), { msgid: 15, id: alice.id, state: "online" });
    const ack = await say(sender, bob.id, "hi both");
    assert.equal((await v2.nextOf(6)).msg, "hi both");
    assert.equal((await v1.nextOf(6)).msg, "hi both");
    // READ sends RECEIPT to the user's other devices: the v1 one is not told.
    assert.equal((await v2.request({ msgid: 18, conv: ack.conv, seq: ack.seq })).errno, 0);
    const v1Frames = await v1.quiet(200);
    assert.deepEqual(v1Frames.filter((frame) => frame.msgid !== 6), [], JSON.stringify(v1Frames));
    v1.close();
  });
}
