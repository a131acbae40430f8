/**
 * SoakDevice against a scripted fake server (one layer: the generator's client; the server's side is what
 * the soak measures for real): how it logs in and back in, what it reports to the ledger, and when it asks
 * SYNC.
 */
import assert from "node:assert/strict";
import { ConnectionClosedError, SoakCounters, SoakDevice } from "./bench/soak_device.ts";
import { SoakLedger } from "./bench/soak_ledger.ts";
import { type Answer, FakeChatServer, type Frame } from "./bench/fake_chat_server.ts";
import { eventually } from "./harness/eventually.ts";

const TOKEN = "T".repeat(32);

/** LOGIN, LOGINOUT and SYNC as a server of the contract answers them, with a conversation `conv`. */
function contractAnswers(conv: Frame[]): Answer {
  return (frame) => {
    switch (frame.msgid) {
      case 1:
        return [{
          msgid: 2,
          errno: 0,
          id: frame.id,
          name: "u",
          offlinemsg: [],
          friends: [],
          groups: [],
          token: TOKEN,
        }];
      case 3:
        return [{ msgid: 11, ref: 3, errno: 0 }];
      case 16:
        if (frame.conv === undefined) {
          return [{ msgid: 11, ref: 16, errno: 0, convs: [{ conv: "u:1:2", lastseq: conv.length }] }];
        }
        return [{
          msgid: 11,
          ref: 16,
          errno: 0,
          messages: conv.filter((m) => (m.seq as number) > (frame.after as number)),
          more: false,
        }];
      default:
        return [{ msgid: 11, ref: frame.msgid, errno: 0 }];
    }
  };
}

/** A chat frame of user `from` in u:1:2 with seq `seq`, for the ledger message `text`. */
function chat(from: number, seq: number, text: string): Frame {
  return {
    msgid: 6,
    conv: "u:1:2",
    seq,
    id: from,
    name: "u",
    toid: 3 - from,
    msg: text,
    time: "t",
    mid: `m${seq}`,
  };
}

/** User 1's device `name` (none: the plain login, device "default") with a ledger of that one device. */
function setUp(name: string | undefined) {
  const ledger = new SoakLedger(40, [name ?? "default"]);
  const counters = new SoakCounters();
  const device = new SoakDevice({ user: { id: 1, password: "pw" }, groups: [] }, 0, name, {
    ledger,
    counters,
    serverMayClose: false,
  });
  return { ledger, counters, device };
}

Deno.test({
  name: "SoakDevice logs in with the password, then with its token until LOGINOUT revokes it",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(contractAnswers([]));
    const { device, counters } = setUp("phone");
    await device.login(server.endpoint);
    await device.disconnect();
    await device.login(server.endpoint);
    await device.logout();
    await device.login(server.endpoint);
    await device.logout();
    const logins = server.frames(1);
    assert.deepEqual(logins.map((f) => [f.password, f.token, f.device, f.v]), [
      ["pw", undefined, "phone", 2],
      [undefined, TOKEN, "phone", 2],
      ["pw", undefined, "phone", 2],
    ]);
    assert.deepEqual([counters.passwordLogins, counters.tokenLogins, counters.logouts, counters.errors], [
      2,
      1,
      2,
      0,
    ]);
  },
});

Deno.test({
  name: "SoakDevice without a device name logs in as the plain one-session client",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(contractAnswers([]));
    const { device } = setUp(undefined);
    await device.login(server.endpoint);
    await device.logout();
    assert.equal("device" in server.frames(1)[0], false);
    assert.equal(device.label, "default");
  },
});

Deno.test({
  name:
    "SoakDevice reports offline and live chat of others to the ledger, and leaves out its own user's copies",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { ledger, device, counters } = setUp("phone");
    const fromPeer = ledger.newMessage(2, 0);
    const second = ledger.newMessage(2, 0);
    ledger.acknowledged(fromPeer.key, [1], { conv: "u:1:2", seq: 1, mid: "m1", dup: false });
    ledger.acknowledged(second.key, [1], { conv: "u:1:2", seq: 3, mid: "m3", dup: false });
    const answers = contractAnswers([]);
    await using server = new FakeChatServer((frame, connection) =>
      frame.msgid === 1
        ? [{ ...answers(frame, connection)[0], offlinemsg: [chat(2, 1, fromPeer.text)] }]
        : answers(frame, connection)
    );
    await device.login(server.endpoint);
    await server.connections[0].write(chat(1, 2, "a copy of what another device of user 1 sent"));
    await server.connections[0].write(chat(2, 3, second.text));
    await eventually(() => ledger.outstanding() === 0, { what: "the live frame", timeoutMs: 5000 });
    assert.equal(counters.copies, 1);
    assert.deepEqual(device.seen.low("u:1:2"), 3);
    await device.logout();
    const tally = ledger.tally();
    assert.deepEqual([tally.deliveredOffline, tally.deliveredLive, tally.unexpected, tally.lost], [
      1,
      1,
      0,
      0,
    ]);
  },
});

Deno.test({
  name:
    "SoakDevice reports LOGIN_ACK's offlinemsg before the live frames read with it in one chunk (none late)",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { ledger, device } = setUp("phone");
    const offline = ledger.newMessage(2, 0);
    const live = ledger.newMessage(2, 0);
    ledger.acknowledged(offline.key, [1], { conv: "u:1:2", seq: 1, mid: "m1", dup: false });
    ledger.acknowledged(live.key, [1], { conv: "u:1:2", seq: 2, mid: "m2", dup: false });
    const answers = contractAnswers([]);
    await using server = new FakeChatServer((frame, connection) => {
      if (frame.msgid !== 1) return answers(frame, connection);
      // What the server writes: LOGIN_ACK with what the device missed, then at once a live frame. Both go
      // out in one write, so the client reads them in one chunk.
      const ack = {
        ...answers(frame, connection)[0],
        offlinemsg: [chat(2, 1, offline.text)],
        cid: frame.cid,
      };
      void connection.write(ack, chat(2, 2, live.text));
      return [];
    });
    await device.login(server.endpoint);
    await eventually(() => ledger.outstanding() === 0, { what: "both frames", timeoutMs: 5000 });
    await device.logout();
    const tally = ledger.tally();
    assert.deepEqual([tally.deliveredOffline, tally.deliveredLive, tally.late, tally.lateSamples], [
      1,
      1,
      0,
      [],
    ]);
  },
});

Deno.test({
  name: "SoakDevice asks SYNC after a dropped connection and reports only the seqs it had not seen",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const { ledger, device, counters } = setUp("phone");
    const seen = ledger.newMessage(2, 0);
    const missed = ledger.newMessage(2, 0);
    const conv = [chat(2, 1, seen.text), chat(1, 2, "mine"), chat(2, 3, missed.text)];
    ledger.acknowledged(seen.key, [1], { conv: "u:1:2", seq: 1, mid: "m1", dup: false });
    ledger.acknowledged(missed.key, [1], { conv: "u:1:2", seq: 3, mid: "m3", dup: false });
    await using server = new FakeChatServer(contractAnswers(conv));
    await device.login(server.endpoint);
    assert.equal(server.frames(16).length, 0, "no SYNC after a clean start");
    await server.connections[0].write(conv[0]);
    await eventually(() => ledger.receipts === 1, { what: "the live frame", timeoutMs: 5000 });
    await device.drop({ msgid: 6, toid: 2, msg: "in flight", cmid: "c1" }, 0);
    await device.login(server.endpoint);
    assert.deepEqual(server.frames(16).map((f) => [f.conv, f.after]), [[undefined, undefined], ["u:1:2", 1]]);
    await device.logout();
    const tally = ledger.tally();
    assert.deepEqual([tally.deliveredLive, tally.deliveredBySync, tally.redelivered, tally.lost], [
      1,
      1,
      0,
      0,
    ]);
    assert.deepEqual([counters.drops, counters.syncFills], [1, 1]);
    assert.equal(server.frames(6)[0].cmid, "c1");
  },
});

Deno.test({
  name: "SoakDevice counts a connection the server ended, as an error unless a fault allows it, then syncs",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer(contractAnswers([]));
    const { device, counters } = setUp("phone");
    await device.login(server.endpoint);
    server.connections[0].close();
    await eventually(() => !device.online, { what: "the close", timeoutMs: 5000 });
    assert.deepEqual([counters.serverCloses, counters.errors], [1, 1]);
    assert.match(counters.lastError!, /connection closed by the server/);
    await device.login(server.endpoint);
    assert.equal(server.frames(16).length, 1, "SYNC after the server's close");
    assert.equal(server.frames(1)[1].token, TOKEN, "back with the token");
    await device.logout();
  },
});

Deno.test({
  name:
    "SoakDevice retries a login refused as already logged in or busy, and falls back to the password when its token is refused",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const refusals = [2, 11];
    let tokenRefused = false;
    const answers = contractAnswers([]);
    await using server = new FakeChatServer((frame, connection) => {
      if (frame.msgid === 1 && refusals.length > 0) return [{ msgid: 2, errno: refusals.shift() }];
      if (frame.msgid === 1 && frame.token !== undefined && !tokenRefused) {
        tokenRefused = true;
        return [{ msgid: 2, errno: 1, errmsg: "token" }];
      }
      return answers(frame, connection);
    });
    const { device, counters } = setUp("phone");
    await device.login(server.endpoint);
    await device.disconnect();
    await device.login(server.endpoint);
    await device.logout();
    assert.deepEqual(server.frames(1).map((f) => f.token === undefined ? "password" : "token"), [
      "password",
      "password",
      "password",
      "token",
      "password",
    ]);
    assert.deepEqual([counters.loginRetries, counters.tokenRefused, counters.errors], [2, 1, 1]);
  },
});

Deno.test({
  name:
    "SoakDevice.request() rejects with ConnectionClosedError when offline or when the connection ends first",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    await using server = new FakeChatServer((frame) =>
      frame.msgid === 6 ? [] : contractAnswers([])(frame, null!)
    );
    const { device } = setUp("phone");
    await assert.rejects(device.request({ msgid: 13 }), ConnectionClosedError);
    await device.login(server.endpoint);
    const unanswered = device.request({ msgid: 6, toid: 2, msg: "x", cmid: "c" });
    await eventually(() => server.frames(6).length === 1, { what: "the chat frame", timeoutMs: 5000 });
    server.connections[0].close();
    await assert.rejects(unanswered, ConnectionClosedError);
  },
});
