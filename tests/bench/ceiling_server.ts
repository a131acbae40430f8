/**
 * A calibration server, not a chat server: the least work a Deno process can do for the pingpong workload
 * (REG and LOGIN answered without a store or a hash, ONE_CHAT parsed, re-serialised, forwarded, and
 * acknowledged with a v2 ACK), on the same Deno socket APIs as `lib/net`. Running the bench against it
 * shows the ceiling of this machine for the same wire traffic, and whether the load generator keeps up.
 *
 * Usage: `deno run --allow-net tests/bench/ceiling_server.ts [--port N] [--no-ack] [--node-net]`, then
 * `deno task bench pingpong --endpoints 127.0.0.1:N --pids PID`. `--node-net` serves with `node:net` sockets
 * instead of `Deno.listen` (to compare the two socket layers under the same work).
 *
 * @module
 */

import net from "node:net";
import { parseArgs } from "node:util";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const { values } = parseArgs({
  args: Deno.args,
  options: { port: { type: "string" }, "no-ack": { type: "boolean" }, "node-net": { type: "boolean" } },
});
const ack = !values["no-ack"];
/** The one thing the relay does with a socket besides reading it. */
interface Peer {
  send(text: string): void;
}
const users = new Map<number, Peer>();
let nextId = 1;
let nextMid = 0;

function write(conn: Peer, frame: unknown): void {
  conn.send(JSON.stringify(frame) + "\n");
}

function handle(conn: Peer, text: string, self: { id: number }): void {
  const frame = JSON.parse(text);
  switch (frame.msgid) {
    case 4:
      write(conn, { msgid: 5, errno: 0, id: nextId++, cid: frame.cid });
      break;
    case 1:
      self.id = frame.id;
      users.set(frame.id, conn);
      write(conn, {
        msgid: 2,
        errno: 0,
        id: frame.id,
        name: "u",
        offlinemsg: [],
        friends: [],
        groups: [],
        cid: frame.cid,
      });
      break;
    case 6: {
      const mid = `c.ceiling.${nextMid++}`;
      const ts = Date.now();
      const to = users.get(frame.toid);
      if (to) {
        write(to, {
          msgid: 6,
          id: self.id,
          name: "u",
          toid: frame.toid,
          msg: frame.msg,
          time: frame.time,
          mid,
          ts,
        });
      }
      if (ack) write(conn, { msgid: 11, ref: 6, cid: frame.cid, errno: 0, mid, ts });
      break;
    }
    case 3:
      users.delete(self.id);
      if (ack) write(conn, { msgid: 11, ref: 3, cid: frame.cid, errno: 0 });
      break;
  }
}

/** Handles every complete frame in `text` (ended by `\n`, or NUL as v1 clients send); returns the rest. */
function handleLines(text: string, peer: Peer, self: { id: number }): string {
  let end;
  while ((end = text.search(/[\n\0]/)) >= 0) {
    const line = text.slice(0, end);
    text = text.slice(end + 1);
    if (line.length > 0) handle(peer, line, self);
  }
  return text;
}

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const peer: Peer = { send: (text) => conn.write(encoder.encode(text)).catch(() => conn.close()) };
  const self = { id: 0 };
  const buffer = new Uint8Array(4096);
  let text = "";
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      text = handleLines(text + decoder.decode(buffer.subarray(0, n), { stream: true }), peer, self);
    }
  } catch {
    // Reset by the peer.
  }
  if (users.get(self.id) === peer) users.delete(self.id);
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}

function serveNode(socket: net.Socket): void {
  socket.setNoDelay(true);
  const peer: Peer = { send: (text) => socket.write(text) };
  const self = { id: 0 };
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text = handleLines(text + chunk, peer, self);
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    if (users.get(self.id) === peer) users.delete(self.id);
  });
}

if (values["node-net"]) {
  const server = net.createServer(serveNode);
  server.listen(Number(values.port ?? 0), "127.0.0.1", () => {
    console.log(`listening on 127.0.0.1:${(server.address() as net.AddressInfo).port}`);
  });
} else {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: Number(values.port ?? 0) });
  console.log(`listening on 127.0.0.1:${listener.addr.port}`);
  for await (const conn of listener) serve(conn);
}
