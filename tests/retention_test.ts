/**
 * `--retention-days`: `startRetention` deletes messages older than that at start and every hour after, and a
 * node started with the flag runs it; 0 keeps everything.
 */
import assert from "node:assert/strict";
import { oneChatFrame } from "../lib/protocol/encode.ts";
import { startRetention } from "../lib/service/retention.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import type { NewMessage, Store } from "../lib/store/store.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const sanitized = { sanitizeOps: true, sanitizeResources: true };

function message(ts: number, text: string): NewMessage {
  return {
    conv: "u:1:2",
    senderId: 1,
    mid: text,
    ts,
    frame: (seq) =>
      oneChatFrame({ conv: "u:1:2", seq, id: 1, name: "a", toid: 2, msg: text, time: "t", mid: text, ts }),
  };
}

async function texts(store: Store): Promise<string[]> {
  return (await store.messagesAfter("u:1:2", 0, 100)).map((stored) => stored.mid);
}

Deno.test(
  "startRetention() deletes messages older than the given days at once, and logs how many",
  sanitized,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const now = 100 * DAY_MS;
    await store.appendMessages([message(now - 31 * DAY_MS, "old"), message(now - 29 * DAY_MS, "recent")]);
    const log = new RecordingLogger();
    const retention = startRetention(store, 30, log, () => now);
    await retention.firstSweep;
    retention.stop();
    assert.deepEqual(await texts(store), ["recent"]);
    assert.deepEqual(log.entries.map((entry) => [entry.event, entry.fields]), [
      ["retention: old messages deleted", { deleted: 1, days: 30 }],
    ]);
  },
);

Deno.test("startRetention() with 0 days keeps every message and starts no timer", sanitized, async () => {
  await using store = SqliteStore.open(":memory:");
  await store.migrate();
  await store.appendMessages([message(1, "ancient")]);
  const retention = startRetention(store, 0, new RecordingLogger());
  await retention.firstSweep;
  retention.stop();
  assert.deepEqual(await texts(store), ["ancient"]);
});

Deno.test("a failed sweep is logged as a warning and never thrown", sanitized, async () => {
  const failing = {
    deleteMessagesBefore: () => Promise.reject(new StoreUnavailableError("database down")),
  } as unknown as Store;
  const log = new RecordingLogger();
  const retention = startRetention(failing, 1, log);
  await retention.firstSweep;
  retention.stop();
  assert.equal(log.problems().length, 1);
  assert.match(log.problems()[0], /^warn retention sweep failed/);
});

Deno.test(
  "a node started with --retention-days deletes the old messages of its database",
  sanitized,
  async () => {
    const dir = await makeTempDir("chat-retention-");
    try {
      const db = `${dir}/chat.db`;
      {
        await using store = SqliteStore.open(db);
        await store.migrate();
        await store.appendMessages([message(Date.now() - 10 * DAY_MS, "old"), message(Date.now(), "new")]);
      }
      await using _node = await startTestNode({ db, retentionDays: 7 });
      await using store = SqliteStore.open(db);
      await eventually(async () => assert.deepEqual(await texts(store), ["new"]), {
        what: "the old message deleted",
      });
    } finally {
      await removeTempDir(dir);
    }
  },
);
