/**
 * What the MySQL chat append costs, away from the cluster's other processes: `MysqlStore.appendMessages` of
 * a tree (this one, or another's `lib/` given as `--root`, e.g. a `git archive` of an older commit) on a
 * MariaDB of its own, batches of `--batch` one-to-one messages over as many conversations of 100 (as pingpong
 * makes a node store them), each with a cmid and a frame of pingpong's size. Prints the wall time per
 * transaction and the CPU per message of this process (the driver's side) and of MariaDB.
 *
 * Usage: `TMPDIR=/tmp deno run --allow-net --allow-env --allow-run --allow-read=.,/tmp,/usr,/bin,/sbin
 * --allow-write=/tmp tests/bench/append_mysql.ts [--root DIR] [--batch 25] [--batches 2000]`
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { MariaDbServer } from "../harness/mariadb.ts";
import type { NewMessage, Store } from "../../lib/store/store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    root: { type: "string", default: new URL("../..", import.meta.url).pathname },
    batch: { type: "string", default: "25" },
    batches: { type: "string", default: "2000" },
  },
});
const batch = Number(values.batch);
const batches = Number(values.batches);
if (!Number.isSafeInteger(batch) || batch < 1 || batch > 500) throw new RangeError(`--batch: 1 to 500`);
if (!Number.isSafeInteger(batches) || batches < 1) throw new RangeError(`--batches: a positive integer`);

const { MysqlStore } = await import(`${values.root}/lib/store/mysql_store.ts`);
await using db = await MariaDbServer.start();
const store: Store = MysqlStore.open(await db.createDatabase("append"));
await store.migrate();
const ids: number[] = [];
for (let i = 0; i < 200; i++) ids.push(await store.createUser(`u${i}`, "h"));

/** Output of a command, for MariaDB's CPU time (reading /proc directly needs more permissions). */
function output(cmd: string, ...args: string[]): string {
  return new TextDecoder().decode(new Deno.Command(cmd, { args }).outputSync().stdout);
}
const pid = output("pgrep", "-f", `mariadbd.*--port=${db.port}`).trim().split("\n")[0];
/** MariaDB's user + system CPU time in ms (clock ticks of 10 ms). */
function mariadbCpu(): number {
  const fields = output("cat", `/proc/${pid}/stat`).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

let sent = 0;
async function run(count: number): Promise<void> {
  for (let b = 0; b < count; b++) {
    const messages: NewMessage[] = [];
    for (let i = 0; i < batch; i++) {
      const pair = (b * batch + i) % 100;
      const [from, to] = [ids[2 * pair], ids[2 * pair + 1]];
      const conv = `u:${Math.min(from, to)}:${Math.max(from, to)}`;
      const mid = `m${++sent}`;
      const ts = Date.now();
      messages.push({
        conv,
        senderId: from,
        mid,
        cmid: `c${sent}`,
        ts,
        frame: (seq) =>
          JSON.stringify({
            msgid: 3,
            v: 2,
            conv,
            seq,
            id: from,
            name: "user",
            toid: to,
            msg: "x".repeat(32),
            mid,
            ts,
          }),
      });
    }
    await store.appendMessages(messages);
  }
}

await run(200); // warm-up: connections, caches, the first pages
const cpu = process.cpuUsage();
const mariadb = mariadbCpu();
const started = performance.now();
await run(batches);
const wall = performance.now() - started;
const own = process.cpuUsage(cpu);
const messages = batches * batch;
console.log(
  `${values.root} batch ${batch}: ${(wall * 1000 / batches).toFixed(0)} µs per transaction, ` +
    `CPU per message: this process ${((own.user + own.system) / messages).toFixed(1)} µs, ` +
    `MariaDB ${((mariadbCpu() - mariadb) * 1000 / messages).toFixed(1)} µs`,
);
await store.close();
