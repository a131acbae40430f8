/**
 * Where the memory of an idle connection goes, inside V8: starts a node under `--inspect`, takes a heap
 * snapshot (after two forced garbage collections) before and after K idle logins, and prints the growth per
 * connection by object kind and constructor. Complements `deno task bench idle`, whose RSS figure also holds
 * what V8 does not see (Deno's socket resources, pending ops, malloc overhead).
 *
 * Usage: `deno run --allow-net --allow-run --allow-read --allow-write tests/bench/heap_census.ts [--connections K]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { freePort } from "../harness/free_port.ts";
import { startNodeWith } from "./target.ts";
import { loginUsers, seedUsers } from "./users.ts";

/** Bytes and object count per kind ("object:Connection", "closure:", "(array)" …). */
type Census = Map<string, { count: number; size: number }>;

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
class Inspector {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #next = 0;
  #chunks: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        this.#pending.get(message.id)?.(message.result);
        this.#pending.delete(message.id);
      } else if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
      }
    };
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#next;
    const { promise, resolve } = Promise.withResolvers<unknown>();
    this.#pending.set(id, resolve);
    this.#ws.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  async census(): Promise<Census> {
    await this.call("HeapProfiler.collectGarbage");
    await this.call("HeapProfiler.collectGarbage");
    this.#chunks = [];
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const snapshot = JSON.parse(this.#chunks.join("")) as HeapSnapshot;
    this.#chunks = [];
    const fields = snapshot.snapshot.meta.node_fields;
    const types = snapshot.snapshot.meta.node_types[0];
    const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((field) => fields.indexOf(field));
    const census: Census = new Map();
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      const type = types[snapshot.nodes[i + typeAt]];
      const named = type === "object" || type === "closure" || type === "native";
      const key = named ? `${type}:${snapshot.strings[snapshot.nodes[i + nameAt]]}` : `(${type})`;
      const entry = census.get(key) ?? { count: 0, size: 0 };
      entry.count++;
      entry.size += snapshot.nodes[i + sizeAt];
      census.set(key, entry);
    }
    return census;
  }

  close(): void {
    this.#ws.close();
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { connections: { type: "string" } } });
  const k = Number(values.connections ?? 2000);
  const warmup = 100;
  const dir = await Deno.makeTempDir({ prefix: "chat-census-" });
  const inspectPort = freePort();
  const users = await seedUsers(`${dir}/chat.db`, k + warmup, { cost: "cheap" });
  const node = await startNodeWith(
    [`--inspect=127.0.0.1:${inspectPort}`],
    ["--port", "0", "--db", `${dir}/chat.db`, "--log-level", "warn", "--idle-timeout", "86400"],
    `${dir}/node.log`,
  );
  const inspector = await Inspector.connect(inspectPort);
  const endpoint = { hostname: "127.0.0.1", port: node.port };
  try {
    const warm = await loginUsers(users.slice(0, warmup), () => endpoint, {
      concurrency: 16,
      bufferBytes: 1024,
    });
    for (const client of warm) client.close();
    await sleep(2000);
    const before = await inspector.census();
    const clients = await loginUsers(users.slice(warmup), () => endpoint, {
      concurrency: 16,
      bufferBytes: 1024,
    });
    await sleep(2000);
    const after = await inspector.census();
    for (const client of clients) client.close();
    const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
      const a = before.get(key) ?? { count: 0, size: 0 };
      const b = after.get(key) ?? { count: 0, size: 0 };
      return { key, objects: (b.count - a.count) / k, bytes: (b.size - a.size) / k };
    }).filter((row) => Math.abs(row.bytes) >= 8).sort((x, y) => y.bytes - x.bytes);
    const total = rows.reduce((sum, row) => sum + row.bytes, 0);
    console.log(
      `V8 heap growth per idle logged-in connection (${k} connections, after GC): ${total.toFixed(0)} B`,
    );
    console.log("(native:system / JSArrayBufferData is the read buffer's backing store)\n");
    for (const row of rows) {
      console.log(
        `${row.bytes.toFixed(0).padStart(7)} B ${row.objects.toFixed(2).padStart(7)} objects  ${row.key}`,
      );
    }
  } finally {
    inspector.close();
    await node.stop("SIGTERM");
    await Deno.remove(dir, { recursive: true });
  }
}
