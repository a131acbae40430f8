/**
 * The cluster end to end: MariaDB, Redis, two `main.ts` nodes and nginx with the shipped `nginx.conf`, all
 * started here on free ports. Clients connect through nginx, or straight to one node where a test needs to
 * know that sender and recipient are on different nodes.
 */
import assert from "node:assert/strict";
import mysql from "mysql2/promise";
import { clusterNginxConfig } from "../lib/cluster/nginx_config.ts";
import { ServerProcess } from "./harness/chat_node.ts";
import { canConnect } from "./harness/can_connect.ts";
import { eventually } from "./harness/eventually.ts";
import { findExecutable } from "./harness/find_executable.ts";
import { freePort } from "./harness/free_port.ts";
import { ServiceProcess } from "./harness/service_process.ts";
import { MariaDbServer } from "./harness/mariadb.ts";
import { RedisServer } from "./harness/redis.ts";
import { readUntilClosed, type Reply, TestClient } from "./harness/test_client.ts";
import { assertGroupChatAcrossNodes } from "./harness/cross_node_chat.ts";
import { loginAt, newUser, type User } from "./harness/v1_users.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** nginx from the project's nginx.conf, in a private prefix. */
class Nginx {
  private constructor(readonly port: number, readonly process: ServiceProcess) {}

  static async start(dir: string, upstreams: string[]): Promise<Nginx> {
    const port = freePort();
    await Deno.mkdir(`${dir}/logs`, { recursive: true });
    const template = await Deno.readTextFile(new URL("../nginx.conf", import.meta.url));
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      clusterNginxConfig(template, { upstreams, listen: `127.0.0.1:${port}` }),
    );
    const process = await ServiceProcess.spawn(
      await findExecutable("nginx"),
      // One process (see tests/harness/nginx.ts): a SIGKILL of nginx must not leave workers behind.
      [
        "-p",
        dir,
        "-c",
        `${dir}/nginx.conf`,
        "-e",
        `${dir}/logs/error.log`,
        "-g",
        "daemon off; master_process off;",
      ],
      `${dir}/nginx.out`,
    );
    await eventually(() => canConnect(port), { timeoutMs: 10_000, what: "nginx", process });
    return new Nginx(port, process);
  }
}

interface Cluster {
  dir: string;
  mariadb: MariaDbServer;
  redis: RedisServer;
  nodes: ServerProcess[];
  nodeArgs: string[][];
  nginx: Nginx;
}

async function startNode(cluster: Pick<Cluster, "dir" | "mariadb" | "redis">, name: string, port = 0) {
  const args = [
    "--port",
    String(port),
    "--node-id",
    name,
    "--mysql",
    cluster.mariadb.url,
    "--redis",
    cluster.redis.url,
    "--log-level",
    "warn",
    // Small, so that a client that stops reading is cut off after a few megabytes (kernel buffers included).
    "--max-outbound-bytes",
    "262144",
  ];
  return { args, node: await ServerProcess.start(args, `${cluster.dir}/${name}.log`) };
}

async function startCluster(): Promise<Cluster> {
  const dir = await Deno.makeTempDir({ prefix: "chat-cluster-" });
  const [mariadb, redis] = await Promise.all([MariaDbServer.start(), RedisServer.start()]);
  const base = { dir, mariadb, redis };
  // Fixed ports, so a killed node can come back where nginx expects it.
  const first = await startNode(base, "node1", freePort());
  const second = await startNode(base, "node2", freePort());
  const nodes = [first.node, second.node];
  const nginx = await Nginx.start(`${dir}/nginx`, nodes.map((node) => `127.0.0.1:${node.port}`));
  return { ...base, nodes, nodeArgs: [first.args, second.args], nginx };
}

async function stopCluster(cluster: Cluster): Promise<void> {
  await cluster.nginx.process.stop();
  await Promise.all(cluster.nodes.map((node) => node.stop("SIGKILL")));
  await cluster.redis.close();
  await cluster.mariadb.close();
  await Deno.remove(cluster.dir, { recursive: true });
}

/**
 * Logs in, retrying while the user still counts as logged in elsewhere (errno 2): until the dead session's
 * claim is released or its lease lapses, which no event announces. Fails after `timeoutMs`.
 */
async function loginWithin(port: number, user: User, timeoutMs: number): Promise<[TestClient, Reply]> {
  const [client, reply] = await eventually(async () => {
    const client = await TestClient.connect(port);
    const reply = await client.request({ msgid: 1, id: user.id, password: user.password });
    if (reply.errno !== 2) return [client, reply] as const;
    client.close();
    throw new Error(`still logged in elsewhere: ${JSON.stringify(reply)}`);
  }, { what: `a new login of user ${user.id}`, timeoutMs, intervalMs: 200 });
  assert.equal(reply.errno, 0, JSON.stringify(reply));
  return [client, reply];
}

/** The first `\n`-terminated frame of a raw v2 connection, which must be all it has received so far. */
async function firstFrame(conn: Deno.Conn): Promise<Reply> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(64 * 1024);
  let text = "";
  while (!text.includes("\n")) {
    const n = await conn.read(buffer);
    assert.ok(n !== null, `closed after ${JSON.stringify(text)}`);
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
  }
  assert.ok(text.endsWith("\n") && text.indexOf("\n") === text.length - 1, `more than one frame: ${text}`);
  return JSON.parse(text);
}

function messagesOf(login: Reply): string[] {
  return (login.offlinemsg as Reply[]).map((frame) => frame.msg as string);
}

Deno.test({
  name: "cluster: two nodes behind nginx with MariaDB and Redis",
  fn: async (t) => {
    const cluster = await startCluster();
    const [node1, node2] = cluster.nodes;
    try {
      await t.step("one-to-one chat crosses nodes in both directions", async () => {
        const alice = await newUser(cluster.nginx.port);
        const bob = await newUser(cluster.nginx.port);
        const [a] = await loginAt(node1.port, alice);
        const [b] = await loginAt(node2.port, bob);
        const ack = await a.request({ msgid: 6, toid: bob.id, msg: "node1 → node2 你好 😀" });
        assert.equal(ack.errno, 0);
        const atBob = await b.nextOf(6);
        assert.deepEqual([atBob.id, atBob.name, atBob.msg, atBob.mid], [
          alice.id,
          alice.name,
          "node1 → node2 你好 😀",
          ack.mid,
        ]);
        await b.send(
          '{"msgid":6,"id":' + bob.id + ',"name":"x","toid":' + alice.id + ',"msg":"v1 back","time":"t"}\0',
        );
        assert.equal((await a.nextOf(6)).msg, "v1 back");
        a.close();
        b.close();
      });

      await t.step("group chat reaches members on both nodes", async () => {
        await assertGroupChatAcrossNodes(cluster.nginx.port, node1.port, node2.port);
      });

      await t.step("offline messages written on one node are read at login on the other", async () => {
        const alice = await newUser(cluster.nginx.port);
        const bob = await newUser(cluster.nginx.port);
        const [a] = await loginAt(node1.port, alice);
        for (let i = 0; i < 5; i++) {
          assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: `off ${i}` })).errno, 0);
        }
        const [b, login] = await loginAt(node2.port, bob);
        assert.deepEqual(messagesOf(login), [0, 1, 2, 3, 4].map((i) => `off ${i}`));
        a.close();
        b.close();
      });

      await t.step("a duplicate login on the other node is refused; presence crosses nodes", async () => {
        const alice = await newUser(cluster.nginx.port);
        const bob = await newUser(cluster.nginx.port);
        const [a] = await loginAt(node1.port, alice);
        await a.request({ msgid: 7, friendid: bob.id });
        const [b] = await loginAt(node2.port, bob);
        assert.deepEqual(await a.nextOf(15), { msgid: 15, id: bob.id, state: "online" });
        await using again = await TestClient.connect(node1.port);
        const refused = await again.request({ msgid: 1, id: bob.id, password: bob.password });
        assert.equal(refused.errno, 2);
        await a.request({ msgid: 3 });
        const [, relogin] = await loginAt(node1.port, alice).then(([client, reply]) => {
          client.close();
          return [client, reply] as const;
        });
        assert.deepEqual(relogin.friends, [{ id: bob.id, name: bob.name, state: "online" }]);
        b.close();
        a.close();
      });

      await t.step("50 clients log in at once through nginx", async () => {
        const users = await Promise.all(Array.from({ length: 50 }, () => newUser(cluster.nginx.port)));
        const clients = await Promise.all(users.map(() => TestClient.connect(cluster.nginx.port)));
        const replies = await Promise.all(
          clients.map((client, i) =>
            client.request({ msgid: 1, id: users[i].id, password: users[i].password }, 20_000)
          ),
        );
        assert.deepEqual(replies.map((reply) => reply.errno), users.map(() => 0));
        // Everyone can reach everyone, wherever nginx placed them.
        await clients[0].request({ msgid: 6, toid: users[49].id, msg: "first to last" });
        assert.equal((await clients[49].nextOf(6)).msg, "first to last");
        for (const client of clients) client.close();
      });

      await t.step(
        "live cross-node delivery adds almost no database work to storing the messages",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const carol = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          const [b] = await loginAt(node2.port, bob);
          await a.request({ msgid: 6, toid: bob.id, msg: "warm-up" });
          await b.nextOf(6);
          await a.request({ msgid: 6, toid: carol.id, msg: "warm-up" });
          const db = await mysql.createConnection(cluster.mariadb.url);
          const questions = async () => {
            const [rows] = await db.query("SHOW GLOBAL STATUS LIKE 'Questions'");
            return Number((rows as { Value: string }[])[0].Value);
          };
          // What storing 100 messages costs, to a user who is not logged in anywhere...
          const beforeStored = await questions();
          for (let i = 0; i < 100; i++) {
            assert.equal((await a.request({ msgid: 6, toid: carol.id, msg: `stored ${i}` })).errno, 0);
          }
          const storing = (await questions()) - beforeStored - 1;
          // ...and what storing and delivering 100 across nodes costs: delivery reads nothing, and the
          // recipient's cursor is saved in batches, not once per message.
          const before = await questions();
          for (let i = 0; i < 100; i++) {
            assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: `hot ${i}` })).errno, 0);
            await b.nextOf(6);
          }
          const delivering = (await questions()) - before - 1;
          await db.end();
          assert.ok(
            delivering - storing < 30,
            `${delivering} queries for 100 delivered messages, ${storing} for 100 stored only`,
          );
          a.close();
          b.close();
        },
      );

      await t.step(
        "a user's devices on both nodes each get every message; devices are counted across nodes",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          const device = async (port: number, name: string) => {
            const client = await TestClient.connect(port);
            const reply = await client.request({
              msgid: 1,
              id: bob.id,
              password: bob.password,
              device: name,
            });
            return [client, reply] as const;
          };
          const [phone, phoneLogin] = await device(node1.port, "phone");
          const [laptop, laptopLogin] = await device(node2.port, "laptop");
          assert.deepEqual([phoneLogin.errno, laptopLogin.errno], [0, 0]);
          const [again, refused] = await device(node2.port, "phone");
          assert.equal(refused.errno, 2, "the same device on the other node");
          again.close();
          const ack = await a.request({ msgid: 6, toid: bob.id, msg: "to every device" });
          for (const client of [phone, laptop]) {
            const frame = await client.nextOf(6);
            assert.deepEqual([frame.msg, frame.seq], ["to every device", ack.seq]);
          }
          // Five devices at most (the default), wherever they are.
          const more = [
            await device(node1.port, "d3"),
            await device(node2.port, "d4"),
            await device(node1.port, "d5"),
          ];
          assert.deepEqual(more.map(([, reply]) => reply.errno), [0, 0, 0]);
          const [sixth, full] = await device(node2.port, "d6");
          assert.equal(full.errno, 2, JSON.stringify(full));
          for (const client of [a, phone, laptop, sixth, ...more.map(([client]) => client)]) client.close();
        },
      );

      await t.step(
        "a user logging out while messages are in flight loses none and gets none twice",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          let [b] = await loginAt(node2.port, bob);
          const total = 300;
          const received: string[] = [];
          const sending = (async () => {
            for (let i = 0; i < total; i++) {
              assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: `m${i}` })).errno, 0);
            }
          })();
          for (let round = 0; round < 3; round++) {
            await sleep(30); // the session's length (pacing, not a wait for an event): logouts land mid-stream
            await b.request({ msgid: 3 });
            b.close();
            await b.closed;
            received.push(...b.pending.filter((f) => f.msgid === 6).map((f) => f.msg as string));
            const port = round % 2 === 0 ? node1.port : node2.port;
            const [next, login] = await loginAt(port, bob);
            received.push(...messagesOf(login));
            b = next;
          }
          await sending;
          await b.request({ msgid: 3 });
          b.close();
          await b.closed;
          received.push(...b.pending.filter((f) => f.msgid === 6).map((f) => f.msg as string));
          const [last, login] = await loginAt(node1.port, bob);
          received.push(...messagesOf(login));
          last.close();
          assert.deepEqual([...received].sort(), Array.from({ length: total }, (_, i) => `m${i}`).sort());
          a.close();
        },
      );

      await t.step(
        "messages sent while the recipient logs in and out across nodes arrive once and in order",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          let stop = false;
          let sent = 0;
          const sending = (async () => {
            while (!stop) {
              assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: `s${sent}` })).errno, 0);
              sent++;
              await sleep(2); // paced, so that the login rounds interleave with the messages
            }
          })();
          // Every session's messages: its LOGIN_ACK's offline ones, then the live ones. A message stored
          // offline just after a login read the offline rows would show up a session late, out of order.
          const received: string[] = [];
          for (let round = 0; round < 8; round++) {
            const [b, login] = await loginAt(round % 2 === 0 ? node2.port : node1.port, bob);
            received.push(...messagesOf(login));
            await sleep(20 + round * 10); // the session's length (pacing), longer each round
            await b.request({ msgid: 3 });
            b.close();
            await b.closed;
            received.push(...b.pending.filter((f) => f.msgid === 6).map((f) => f.msg as string));
          }
          stop = true;
          await sending;
          const [last, login] = await loginAt(node2.port, bob);
          received.push(...messagesOf(login));
          last.close();
          assert.ok(sent > 50, `only ${sent} messages sent`);
          assert.deepEqual(received, Array.from({ length: sent }, (_, i) => `s${i}`));
          a.close();
        },
      );

      await t.step(
        "a recipient that stops reading is cut off; every message arrives once and in order at the next login",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          // Bob logs in on node2 with a raw socket, then reads nothing while node2 writes to him.
          const stalled = await Deno.connect({ hostname: "127.0.0.1", port: node2.port });
          const login = { msgid: 1, v: 2, id: bob.id, password: bob.password };
          await stalled.write(new TextEncoder().encode(JSON.stringify(login) + "\n"));
          // Logged in before the first message, so that all of them are live ones.
          assert.equal((await firstFrame(stalled)).errno, 0);
          const padding = "x".repeat(3000);
          const total = 2000;
          for (let i = 0; i < total; i++) {
            assert.equal((await a.request({ msgid: 6, toid: bob.id, msg: `${i} ${padding}` })).errno, 0);
            if (i % 2 === 0) await sleep(1); // paced, so that the drop falls in the middle of the stream
          }
          // What reached Bob's socket before node2 gave up on him, then what his next login brings.
          const written = await readUntilClosed(stalled);
          const numbers = (frames: Reply[]) =>
            frames.filter((frame) => frame.msgid === 6).map((frame) =>
              Number((frame.msg as string).split(" ")[0])
            );
          const live = numbers(written);
          assert.ok(live.length < total, "node2 cut Bob off before everything was written");
          const [again, relogin] = await loginWithin(node1.port, bob, 10_000);
          const received = [...live, ...numbers(relogin.offlinemsg as Reply[])];
          while (received.length < total) received.push(...numbers([await again.nextOf(6, 10_000)]));
          assert.deepEqual(
            received,
            Array.from({ length: total }, (_, i) => i),
            "none lost, none twice, in order",
          );
          again.close();
          a.close();
        },
      );

      await t.step(
        "a node killed with SIGKILL: the other serves on, its users come back with their token, nothing lost",
        async () => {
          const alice = await newUser(cluster.nginx.port);
          const bob = await newUser(cluster.nginx.port);
          const [a] = await loginAt(node1.port, alice);
          const b = await TestClient.connect(node2.port);
          const bobLogin = await b.request({ msgid: 1, id: bob.id, password: bob.password, device: "phone" });
          assert.equal(bobLogin.errno, 0);
          const acked: string[] = [];
          let stop = false;
          const sending = (async () => {
            for (let i = 0; !stop; i++) {
              const reply = await a.request({ msgid: 6, toid: bob.id, msg: `k${i}` });
              if (reply.errno === 0) acked.push(`k${i}`);
              await sleep(5); // paced: a stream of messages, not a burst
            }
          })();
          // Killed mid-stream: after some messages reached Bob live.
          await eventually(() => b.pending.filter((f) => f.msgid === 6).length >= 20, {
            what: "20 live messages at Bob",
            timeoutMs: 10_000,
          });
          await node2.stop("SIGKILL");
          await b.closed;
          const liveBeforeKill = b.pending.filter((f) => f.msgid === 6);
          // And sent on while node2 is dead.
          const ackedAtKill = acked.length;
          await eventually(() => acked.length >= ackedAtKill + 20, {
            what: "20 messages acknowledged after the kill",
            timeoutMs: 10_000,
          });
          stop = true;
          await sending;
          // node1 keeps serving.
          assert.equal((await a.request({ msgid: 13 })).msgid, 14);
          // What node2 saved of Bob's cursor before it died: only messages past it may come twice.
          const db = await mysql.createConnection(cluster.mariadb.url);
          const [rows] = await db.query(
            "SELECT seq FROM device_cursors WHERE userid = ? AND device = 'phone' AND conv = ?",
            [bob.id, liveBeforeKill[0].conv],
          );
          await db.end();
          const savedCursor = Number((rows as { seq: number }[])[0]?.seq ?? 0);
          // Once node2's lease lapses, Bob comes back through nginx with his token (no password, no scrypt).
          const [again, login] = await eventually(async () => {
            const client = await TestClient.connect(cluster.nginx.port);
            const reply = await client.request({
              msgid: 1,
              id: bob.id,
              token: bobLogin.token,
              device: "phone",
            });
            if (reply.errno !== 2) return [client, reply] as const;
            client.close();
            throw new Error(`still logged in elsewhere: ${JSON.stringify(reply)}`);
          }, { what: "Bob's token login", timeoutMs: 10_000, intervalMs: 200 });
          assert.equal(login.errno, 0, JSON.stringify(login));
          assert.equal(login.token, bobLogin.token);
          const frames = [...liveBeforeKill, ...(login.offlinemsg as Reply[])];
          const delivered = frames.map((frame) => frame.msg as string);
          for (const message of acked) {
            assert.ok(delivered.includes(message), `acknowledged ${message} was lost`);
          }
          const twice = frames.filter((frame, i) => delivered.indexOf(frame.msg as string) !== i);
          assert.deepEqual(
            twice.filter((frame) => (frame.seq as number) <= savedCursor),
            [],
            `delivered twice though at or below the saved cursor ${savedCursor}`,
          );
          again.close();
          a.close();
          // Bring node2 back for the next steps.
          cluster.nodes[1] = await ServerProcess.start(cluster.nodeArgs[1], `${cluster.dir}/node2.log`);
        },
      );

      await t.step(
        "with Redis down, chat is still stored; the recipient on the other node gets it at its next login",
        async () => {
          const [n1, n2] = cluster.nodes;
          const alice = await newUser(n1.port);
          const bob = await newUser(n1.port);
          const [a] = await loginAt(n1.port, alice);
          const [b] = await loginAt(n2.port, bob);
          await cluster.redis.stop();
          let ack: Reply;
          try {
            // Stored and acknowledged: the bus is best effort, the database is the truth.
            ack = await a.request({ msgid: 6, toid: bob.id, msg: "while Redis is down" }, 10_000);
            assert.equal(ack.errno, 0, JSON.stringify(ack));
            assert.deepEqual(
              (await b.quiet(300)).filter((frame) => frame.msgid === 6),
              [],
              "no bus: not live",
            );
            assert.equal((await b.request({ msgid: 3 })).errno, 0, "LOGINOUT works without Redis");
            b.close();
          } finally {
            await cluster.redis.restart();
          }
          // Logins need the bus (device claims): errno 11 until the node is connected to Redis again.
          const [again, login] = await eventually(async () => {
            const client = await TestClient.connect(n2.port);
            const reply = await client.request({ msgid: 1, id: bob.id, password: bob.password });
            if (reply.errno === 0) return [client, reply] as const;
            client.close();
            throw new Error(`not yet: ${JSON.stringify(reply)}`);
          }, { what: "Bob's login once Redis is back", timeoutMs: 15_000, intervalMs: 200 });
          assert.deepEqual(
            (login.offlinemsg as Reply[]).map((frame) => [frame.msg, frame.seq]),
            [["while Redis is down", ack.seq]],
          );
          // Live delivery across nodes is back too (and node1 is connected again for the next steps).
          await eventually(async () => {
            const sent = await a.request({ msgid: 6, toid: bob.id, msg: "Redis is back" });
            assert.equal(sent.errno, 0, JSON.stringify(sent));
            assert.equal((await again.nextOf(6, 1_000)).msg, "Redis is back");
          }, { what: "live delivery after Redis came back", timeoutMs: 15_000, intervalMs: 200 });
          again.close();
          a.close();
        },
      );

      await t.step("a Redis restart during traffic loses no acknowledged message", async () => {
        const [n1, n2] = cluster.nodes;
        const alice = await newUser(n1.port);
        const bob = await newUser(n1.port);
        const [a] = await loginAt(n1.port, alice);
        const [b] = await loginAt(n2.port, bob);
        const acked: string[] = [];
        let sent = 0;
        let stop = false;
        const sending = (async () => {
          for (; !stop; sent++) {
            const reply = await a.request({ msgid: 6, toid: bob.id, msg: `r${sent}` });
            if (reply.errno === 0) {
              acked.push(`r${sent}`);
            }
            await sleep(5); // paced: a stream of messages, not a burst
          }
        })();
        const liveSince = (first: number) =>
          b.pending.some((f) => f.msgid === 6 && Number((f.msg as string).slice(1)) >= first);
        await eventually(() => liveSince(0), { what: "live delivery before the stop", timeoutMs: 10_000 });
        await cluster.redis.stop();
        await sleep(500); // the outage's length: part of the scenario, not a wait for something to happen
        await cluster.redis.restart();
        // Recovered: a message sent after the restart reaches Bob live, across nodes.
        const sentAtRestart = sent;
        await eventually(() => liveSince(sentAtRestart), {
          what: "live delivery after the restart",
          timeoutMs: 20_000,
        });
        stop = true;
        await sending;
        // Every acknowledged message is in Bob's connection or stored by now; LOGINOUT's ACK comes after them.
        await b.request({ msgid: 3 });
        const live = b.pending.filter((f) => f.msgid === 6).map((f) => f.msg as string);
        b.close();
        const [again, login] = await loginAt(n2.port, bob);
        const delivered = [...live, ...messagesOf(login)];
        for (const message of acked) {
          assert.ok(delivered.includes(message), `acknowledged ${message} was lost`);
        }
        assert.deepEqual(
          delivered.filter((m, i) => delivered.indexOf(m) !== i),
          [],
          "nothing delivered twice",
        );
        // Live delivery across nodes works again after the restart.
        await a.request({ msgid: 6, toid: bob.id, msg: "after restart" });
        assert.equal((await again.nextOf(6)).msg, "after restart");
        again.close();
        a.close();
      });

      await t.step(
        "a node stopped with SIGTERM lets its users log in elsewhere at once; the other node's users chat on",
        async () => {
          const [n1, n2] = cluster.nodes;
          const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => newUser(n1.port)));
          const [a] = await loginAt(n1.port, alice);
          const [c] = await loginAt(n1.port, carol);
          await a.request({ msgid: 7, friendid: bob.id });
          const [b] = await loginAt(n2.port, bob);
          assert.deepEqual(await a.nextOf(15), { msgid: 15, id: bob.id, state: "online" });
          assert.equal((await n2.stop("SIGTERM")).code, 0);
          await b.closed;
          assert.deepEqual(await a.nextOf(15), { msgid: 15, id: bob.id, state: "offline" });
          // Released at shutdown, not left to expire with the lease: the first attempt succeeds.
          const [again] = await loginAt(n1.port, bob);
          await a.request({ msgid: 6, toid: carol.id, msg: "still here" });
          assert.equal((await c.nextOf(6)).msg, "still here");
          await a.request({ msgid: 6, toid: bob.id, msg: "welcome back" });
          assert.equal((await again.nextOf(6)).msg, "welcome back");
          for (const client of [a, c, again]) client.close();
        },
      );
    } finally {
      await stopCluster(cluster);
    }
  },
});
