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
import { Inspector } from "./inspector.ts";
import { loginUsers, seedUsers } from "./users.ts";

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
