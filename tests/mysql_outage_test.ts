/**
 * A node on MySQL while its MariaDB goes away and comes back, seen through the protocol: what needs the
 * database is refused with errno 11 (never hangs, never crashes the node), chat included since every message
 * is stored before its ACK (and a refused one is delivered to nobody); what does not (PING) keeps working,
 * the node recovers by itself, a retry with the same `cmid` is stored once, and no acknowledged message is
 * lost across a restart.
 *
 * One MariaDB for the file, started before its first test and stopped after its last
 * (tests/harness/mariadb_fixture.ts).
 */
import { MsgId } from "../lib/protocol/msg_id.ts";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { startTestNode } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import type { MariaDbServer } from "./harness/mariadb.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { type Reply, TestClient } from "./harness/test_client.ts";
import { type Member, member, registerUser, uniqueName } from "./protocol_suite.ts";

/** MysqlStore's default pool acquire timeout (lib/store/mysql_store.ts); `startNode` does not change it. */
const ACQUIRE_TIMEOUT = 5_000;
/** How long an answer that waits for the database may take here: the acquire timeout plus a loaded machine. */
const DB_ANSWER_DEADLINE = 3 * ACQUIRE_TIMEOUT;

const mariadb = mariaDbPerFile();
let databases = 0;

/** A new, empty database on the file's MariaDB. */
async function database(): Promise<[MariaDbServer, string]> {
  const db = mariadb();
  return [db, await db.createDatabase(`outage_${++databases}`)];
}

/** A request whose answer is timed; fails when it takes longer than `deadline`. */
async function timed(
  client: TestClient,
  frame: Record<string, unknown>,
  deadline = DB_ANSWER_DEADLINE,
): Promise<Reply & { elapsed: number }> {
  const started = performance.now();
  const reply = await client.request(frame, deadline);
  return { ...reply, elapsed: performance.now() - started };
}

function assertBusy(reply: Reply, msgid: number, what: string): void {
  assert.equal(reply.msgid, msgid, `${what}: ${JSON.stringify(reply)}`);
  assert.equal(reply.errno, 11, `${what}: ${JSON.stringify(reply)}`);
  assert.match(reply.errmsg as string, /busy/, what);
}

/** The ONE_CHAT texts in a LOGIN_ACK's `offlinemsg` (v2: objects). */
function offlineTexts(login: Reply): string[] {
  return (login.offlinemsg as Record<string, unknown>[])
    .filter((frame) => frame.msgid === MsgId.ONE_CHAT)
    .map((frame) => frame.msg as string);
}

Deno.test({
  name:
    "ChatNode on MySQL answers errno 11 while MariaDB is down, chat too, delivers nothing refused, and recovers",
  async fn() {
    const [db, url] = await database();
    await using node = await startTestNode({ mysql: url });
    const port = node.port;
    const members: Member[] = [];
    try {
      for (let i = 0; i < 5; i++) members.push(await member(port));
      const [alice, bob, dave, erin, frank] = members;
      const carolName = uniqueName();
      const carolPassword = "pw-" + carolName;
      const carol = await registerUser(port, carolName, carolPassword); // stays offline
      const before = await frank.client.request({
        msgid: MsgId.ONE_CHAT,
        toid: carol,
        msg: "before the outage",
      });
      assert.equal(before.errno, 0, JSON.stringify(before));

      await db.stop();
      try {
        await using fresh = await TestClient.connect(port);
        await using another = await TestClient.connect(port);
        // Each on its own connection (a connection's requests are answered one at a time), all at once.
        const waiting = Promise.all([
          timed(fresh, { msgid: 4, name: uniqueName(), password: "x" }),
          timed(another, { msgid: 1, id: carol, password: carolPassword }),
          timed(dave.client, { msgid: 7, friendid: bob.id }),
          timed(erin.client, { msgid: 8, groupname: uniqueName("g"), groupdesc: "" }),
          timed(frank.client, {
            msgid: MsgId.ONE_CHAT,
            toid: carol,
            msg: "during the outage",
            cmid: "retry-1",
          }),
          timed(alice.client, {
            msgid: MsgId.ONE_CHAT,
            toid: bob.id,
            msg: "live while the database is down",
          }),
        ]);
        // No database on these paths: answered long before any acquire could time out.
        const pong = await bob.client.request({ msgid: 13 }, ACQUIRE_TIMEOUT - 1_000);
        assert.equal(pong.msgid, 14);

        const [reg, login, friend, group, offline, live] = await waiting;
        assertBusy(reg, 5, "REG");
        assertBusy(login, 2, "LOGIN");
        assertBusy(friend, 11, "ADD_FRIEND");
        assertBusy(group, 11, "CREATE_GROUP");
        assertBusy(offline, 11, "ONE_CHAT to an offline user");
        assertBusy(live, 11, "ONE_CHAT to an online user");
        for (const reply of [reg, login, friend, group, offline, live]) {
          assert.ok(reply.elapsed < DB_ANSWER_DEADLINE, `answered after ${Math.round(reply.elapsed)} ms`);
        }
        // The sessions outlived the outage, and what was refused reached nobody.
        assert.equal((await dave.client.request({ msgid: 13 })).msgid, 14);
        assert.deepEqual((await bob.client.quiet(200)).filter((frame) => frame.msgid === MsgId.ONE_CHAT), []);
        assert.equal(another.isClosed, false);
      } finally {
        await db.restart();
      }

      // Recovered without restarting the node: the first attempt of each succeeds, the retry of the refused
      // message among them (stored once, whatever the first attempt did).
      for (let attempt = 0; attempt < 2; attempt++) {
        const retry = await frank.client.request({
          msgid: MsgId.ONE_CHAT,
          toid: carol,
          msg: "during the outage",
          cmid: "retry-1",
        });
        assert.deepEqual(
          [retry.errno, retry.dup],
          [0, attempt === 0 ? undefined : true],
          JSON.stringify(retry),
        );
      }
      const after = await frank.client.request({
        msgid: MsgId.ONE_CHAT,
        toid: carol,
        msg: "after the outage",
      });
      assert.equal(after.errno, 0, JSON.stringify(after));
      const newcomer = await registerUser(port);
      assert.equal((await dave.client.request({ msgid: 7, friendid: newcomer })).errno, 0);
      assert.equal(
        (await erin.client.request({ msgid: 8, groupname: uniqueName("g"), groupdesc: "" })).errno,
        0,
      );
      await using carolClient = await TestClient.connect(port);
      const carolLogin = await carolClient.request({ msgid: 1, id: carol, password: carolPassword });
      assert.equal(carolLogin.errno, 0, JSON.stringify(carolLogin));
      // The refused message was stored by its retry only; the others once each.
      assert.deepEqual(offlineTexts(carolLogin), [
        "before the outage",
        "during the outage",
        "after the outage",
      ]);
      const chat = await alice.client.request({ msgid: MsgId.ONE_CHAT, toid: bob.id, msg: "live again" });
      assert.equal(chat.errno, 0, JSON.stringify(chat));
      assert.equal((await bob.client.nextOf(MsgId.ONE_CHAT)).msg, "live again");
    } finally {
      for (const m of members) m.client.close();
    }
  },
});

/** One ONE_CHAT a sender tried, with the server's answer. */
interface Sent {
  seq: number;
  toid: number;
  errno: number;
  mid?: string;
  /** Milliseconds from send to answer. */
  elapsed: number;
}

/** A sender's messages are `tag:seq`. */
function parseText(text: string): { tag: string; seq: number } {
  const colon = text.lastIndexOf(":");
  return { tag: text.slice(0, colon), seq: Number(text.slice(colon + 1)) };
}

/**
 * Checks what `recipient` received (ONE_CHAT frames, in arrival order) against what each sender sent:
 * every acknowledged message exactly once, nothing that was not sent, each sender's acknowledged messages in
 * send order. A message refused with errno 11 may still be present (the database may have committed it and
 * lost only the answer); if it is, it is present once, but possibly after later ones: it was not delivered
 * live, so a device gets it from the store (PROTOCOL.md: a hole is filled about a second later, or at the next
 * login). Returns the refused messages that arrived.
 */
function checkReceived(
  recipient: number,
  frames: Record<string, unknown>[],
  senders: { id: number; tag: string; sent: Sent[] }[],
): Sent[] {
  const refusedButStored: Sent[] = [];
  for (const sender of senders) {
    const toRecipient = sender.sent.filter((message) => message.toid === recipient);
    const bySeq = new Map(toRecipient.map((message) => [message.seq, message]));
    const got = frames
      .filter((frame) => frame.id === sender.id)
      .map((frame) => ({ ...parseText(frame.msg as string), mid: frame.mid }));
    const where = `recipient ${recipient}, sender ${sender.id}`;
    const seen = new Set<number>();
    let lastAcknowledged = -1;
    for (const message of got) {
      assert.equal(message.tag, sender.tag, where);
      const sent = bySeq.get(message.seq);
      assert.ok(sent, `${where}: received seq ${message.seq} that was never sent to this recipient`);
      assert.ok(!seen.has(message.seq), `${where}: seq ${message.seq} received twice`);
      seen.add(message.seq);
      if (sent.errno === 0) {
        assert.equal(message.mid, sent.mid, `${where}: seq ${message.seq} mid`);
        assert.ok(message.seq > lastAcknowledged, `${where}: seq ${message.seq} after ${lastAcknowledged}`);
        lastAcknowledged = message.seq;
      } else {
        refusedButStored.push(sent);
      }
    }
    const present = new Set(got.map((message) => message.seq));
    const lost = toRecipient.filter((message) => message.errno === 0 && !present.has(message.seq));
    assert.deepEqual(lost.map((message) => message.seq), [], `${where}: acknowledged messages lost`);
  }
  return refusedButStored;
}

Deno.test({
  name: "ChatNode on MySQL loses no acknowledged message while MariaDB restarts during traffic",
  async fn() {
    const [db, url] = await database();
    await using node = await startTestNode({ mysql: url });
    const port = node.port;
    const senders: (Member & { tag: string; sent: Sent[] })[] = [];
    let listener: Member | undefined;
    try {
      for (let i = 0; i < 3; i++) senders.push({ ...await member(port), tag: `s${i}`, sent: [] });
      listener = await member(port); // online: live delivery once stored
      const offline: { id: number; password: string }[] = [];
      for (let i = 0; i < 2; i++) {
        const name = uniqueName();
        offline.push({ id: await registerUser(port, name, "pw-" + name), password: "pw-" + name });
      }
      const recipients = [offline[0].id, listener.id, offline[1].id];

      let sending = true;
      const traffic = senders.map(async (sender, index) => {
        for (let seq = 0; sending; seq++) {
          const toid = recipients[(seq + index) % recipients.length];
          // Longer than any answer can take: the acquire timeout, or a query cut by the restart.
          const started = performance.now();
          const ack = await sender.client.request(
            { msgid: MsgId.ONE_CHAT, toid, msg: `${sender.tag}:${seq}` },
            30_000,
          );
          const elapsed = performance.now() - started;
          assert.equal(ack.msgid, 11, JSON.stringify(ack));
          assert.ok(ack.errno === 0 || ack.errno === 11, JSON.stringify(ack));
          sender.sent.push({
            seq,
            toid,
            errno: ack.errno as number,
            mid: ack.mid as string | undefined,
            elapsed,
          });
          await sleep(10);
        }
      });
      const answered = (sender: { sent: Sent[] }, errno: number) =>
        sender.sent.filter((message) => message.errno === errno).length;
      /** Waits until every sender has had `count` more chats acknowledged than now. */
      const moreAcknowledged = (count: number, what: string) => {
        const before = senders.map((sender) => answered(sender, 0));
        return eventually(() => senders.every((sender, i) => answered(sender, 0) >= before[i] + count), {
          what,
          timeoutMs: DB_ANSWER_DEADLINE,
        });
      };

      await moreAcknowledged(recipients.length, "traffic acknowledged before the first restart");
      await db.restart(); // back quickly: callers waiting for a connection get one when it is up
      await moreAcknowledged(recipients.length, "traffic acknowledged after the first restart");
      await db.stop();
      // Down until every sender has been refused: longer than the acquire timeout.
      const refusedBefore = senders.map((sender) => answered(sender, 11));
      await eventually(() => senders.every((sender, i) => answered(sender, 11) > refusedBefore[i]), {
        what: "a chat of every sender refused with errno 11 while MariaDB is down",
        timeoutMs: 2 * DB_ANSWER_DEADLINE,
      });
      await db.restart();
      // Traffic goes on after recovery until every sender has been acknowledged a few more times.
      await moreAcknowledged(3 * recipients.length, "traffic acknowledged after recovery");
      sending = false;
      await Promise.all(traffic);

      const all = senders.flatMap((sender) => sender.sent);
      const refused = all.filter((message) => message.errno === 11);
      const toOffline = all.filter((message) => message.errno === 0 && message.toid !== listener!.id);
      assert.ok(toOffline.length > 0, "no chat to an offline user was acknowledged");
      for (const sender of senders) {
        const last = sender.sent.at(-1)!;
        assert.equal(last.errno, 0, `sender ${sender.id} not recovered: ${JSON.stringify(last)}`);
      }

      // Every acknowledged message reached the online listener live, in order. A refused one is never
      // delivered live; one that was stored anyway (its answer lost in the restart) may reach the listener
      // from the store, late, when a later message reveals the hole.
      const ackedLive = new Set(
        all.filter((m) => m.toid === listener!.id && m.errno === 0).map((m) => m.mid),
      );
      const live: Record<string, unknown>[] = [];
      while (ackedLive.size > 0) {
        const frame = await listener.client.nextOf(MsgId.ONE_CHAT);
        live.push(frame);
        ackedLive.delete(frame.mid as string);
      }
      const refusedButStored = checkReceived(listener.id, live, senders);

      for (const user of offline) {
        await using client = await TestClient.connect(port);
        const login = await client.request({ msgid: 1, id: user.id, password: user.password });
        assert.equal(login.errno, 0, JSON.stringify(login));
        const frames = (login.offlinemsg as Record<string, unknown>[]).filter((f) =>
          f.msgid === MsgId.ONE_CHAT
        );
        refusedButStored.push(...checkReceived(user.id, frames, senders));
      }
      // Last, so that a loss above is the failure reported.
      assert.ok(refused.length > 0, "no chat was refused: the outage was not seen");
      const acked = all.length - refused.length;
      const waited = toOffline.filter((message) => message.elapsed > 500).length;
      console.log(
        `sent ${all.length}: ${acked} acknowledged (${toOffline.length} stored offline, ${waited} of them ` +
          `after waiting > 0.5 s for the database), ${refused.length} refused with errno 11 ` +
          `(${refusedButStored.length} of them stored anyway, answered after ` +
          `${refusedButStored.map((message) => Math.round(message.elapsed)).join(", ") || "-"} ms)`,
      );
    } finally {
      for (const sender of senders) sender.client.close();
      listener?.client.close();
    }
  },
});
