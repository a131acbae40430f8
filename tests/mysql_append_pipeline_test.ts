/**
 * The pipelined MySQL append (lib/store/mysql_append_pipeline.ts) against a real MariaDB.
 */

import assert from "node:assert/strict";
import { directConv } from "../lib/conversation_name.ts";
import { MysqlStore } from "../lib/store/mysql_store.ts";
import type { AppendResult, NewMessage } from "../lib/store/store.ts";
import { mariaDbPerFile } from "./harness/mariadb_fixture.ts";
import { users } from "./store_suite_fixture.ts";

const mariadb = mariaDbPerFile();
let databases = 0;
let mids = 0;

async function open(): Promise<MysqlStore> {
  const url = await mariadb().createDatabase(`pipeline_test_${++databases}`);
  const store = MysqlStore.open(url);
  await store.migrate();
  return store;
}

function message(conv: string, senderId: number, extra: Partial<NewMessage> = {}): NewMessage {
  const mid = `m${++mids}`;
  return {
    conv,
    senderId,
    mid,
    ts: Date.now(),
    frame: (seq) => JSON.stringify({ conv, seq, mid }),
    ...extra,
  };
}

/** Runs `batches` through appendBatches; the results of each batch. */
async function pipeline(store: MysqlStore, batches: NewMessage[][]): Promise<AppendResult[][]> {
  const queue = [...batches];
  const out: AppendResult[][] = [];
  await store.appendBatches(() => queue.shift(), (results) => out.push(results));
  return out;
}

Deno.test("pipelined batches take gapless seqs in order", async () => {
  const store = await open();
  try {
    const [a, b] = await users(store, "a", "b");
    const conv = directConv(a, b);
    const out = await pipeline(store, [[message(conv, a), message(conv, b)], [message(conv, a)], [
      message(conv, b),
    ]]);
    assert.deepEqual(out.map((batch) => batch.map((r) => "seq" in r ? r.seq : -1)), [[1, 2], [3], [4]]);
    assert.equal(await store.lastSeq(conv), 4);
  } finally {
    await store.close();
  }
});
