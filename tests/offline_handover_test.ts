/**
 * `OfflineHandover`: a login reads the released server's offline rows first, then the messages past the
 * device's cursors, in pages bounded by rows and characters; rows are deleted and cursors move only for
 * pages that were handed.
 */
import assert from "node:assert/strict";
import { oneChatFrame } from "../lib/protocol/encode.ts";
import { type HandoverStore, OfflineHandover } from "../lib/service/offline_handover.ts";
import type { DeviceCursor, OfflineMessage, StoredMessage } from "../lib/store/store.ts";

const chat = (conv: string, seq: number, msg = "m") =>
  oneChatFrame({ conv, seq, id: 1, name: "alice", toid: 7, msg, time: "t", mid: "m", ts: 1 });
const legacy = (id: number) => ({ id, frame: JSON.stringify({ msgid: 6, id: 1, toid: 7, msg: `old${id}` }) });

/** The store's contract for these three calls, over arrays (messages in the order they were stored). */
class MemoryHandoverStore implements HandoverStore {
  constructor(public offline: OfflineMessage[], readonly messages: StoredMessage[]) {}
  readonly calls: string[] = [];

  readOffline(_userId: number, limit: number): Promise<OfflineMessage[]> {
    this.calls.push(`readOffline ${limit}`);
    return Promise.resolve(this.offline.slice(0, limit));
  }
  deleteOffline(_userId: number, ids: number[]): Promise<void> {
    this.calls.push(`deleteOffline ${ids}`);
    this.offline = this.offline.filter((row) => !ids.includes(row.id));
    return Promise.resolve();
  }
  messagesPast(_userId: number, cursors: Map<string, number>, limit: number): Promise<StoredMessage[]> {
    this.calls.push(`messagesPast ${[...cursors.keys()]} ${limit}`);
    // Only the conversations named, as the stores do.
    const past = (message: StoredMessage) => message.seq > (cursors.get(message.conv) ?? Infinity);
    return Promise.resolve(this.messages.filter(past).slice(0, limit));
  }
}

/** The device's cursors as the login reads them: `[conv, cursor, lastSeq]`. */
const at = (...entries: [string, number, number][]) =>
  new Map<string, DeviceCursor>(entries.map(([conv, cursor, lastSeq]) => [conv, { cursor, lastSeq }]));

const stored = (conv: string, seq: number, msg = "m"): StoredMessage => ({
  conv,
  seq,
  senderId: 1,
  mid: "m",
  ts: 1,
  frame: chat(conv, seq, msg),
});

/** Every page until the end, each handed before the next is read. */
async function drain(handover: OfflineHandover): Promise<string[][]> {
  const pages: string[][] = [];
  for (;;) {
    const page = await handover.next();
    pages.push(page.frames);
    await handover.handed(page);
    if (!page.more) return pages;
  }
}

Deno.test("legacy offline rows come first, then messages past the cursors, oldest first", async () => {
  const store = new MemoryHandoverStore(
    [legacy(1), legacy(2)],
    [stored("u:1:7", 1), stored("g:3", 5), stored("u:1:7", 2)],
  );
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 1, 2], ["g:3", 0, 5]), {
    rows: 10,
    chars: 1 << 20,
  });
  const pages = await drain(handover);
  assert.deepEqual(pages, [[legacy(1).frame, legacy(2).frame, chat("g:3", 5), chat("u:1:7", 2)]]);
  assert.deepEqual(store.offline, [], "legacy rows are deleted once handed");
});

Deno.test("pages are bounded by rows; each page's cursors name the highest seq per conversation", async () => {
  const store = new MemoryHandoverStore(
    [legacy(1)],
    [stored("u:1:7", 1), stored("g:3", 1), stored("u:1:7", 2), stored("g:3", 2)],
  );
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 0, 2], ["g:3", 0, 2]), {
    rows: 2,
    chars: 1 << 20,
  });
  const first = await handover.next();
  assert.deepEqual(first.frames, [legacy(1).frame, chat("u:1:7", 1)]);
  assert.deepEqual(first.legacyIds, [1]);
  assert.deepEqual(first.cursors, new Map([["u:1:7", 1]]));
  assert.equal(first.more, true);
  await handover.handed(first);
  const second = await handover.next();
  assert.deepEqual(second.frames, [chat("g:3", 1), chat("u:1:7", 2)]);
  assert.deepEqual(second.cursors, new Map([["g:3", 1], ["u:1:7", 2]]));
  await handover.handed(second);
  const third = await handover.next();
  assert.deepEqual(third.frames, [chat("g:3", 2)]);
  assert.equal(third.more, false);
});

Deno.test("pages are bounded by characters, but always carry at least one frame", async () => {
  const long = "x".repeat(500);
  const store = new MemoryHandoverStore([], [
    stored("u:1:7", 1, long),
    stored("u:1:7", 2, long),
    stored("u:1:7", 3),
  ]);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 0, 3]), { rows: 10, chars: 100 });
  const pages = await drain(handover);
  assert.deepEqual(pages, [[chat("u:1:7", 1, long)], [chat("u:1:7", 2, long)], [chat("u:1:7", 3)]]);
});

Deno.test("a page that was not handed is read again (its rows stay, its cursors do not move)", async () => {
  const store = new MemoryHandoverStore([legacy(1)], [stored("u:1:7", 1)]);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 0, 1]), { rows: 10, chars: 1 << 20 });
  const unhanded = await handover.next();
  const again = await handover.next();
  assert.deepEqual(again.frames, unhanded.frames);
  assert.deepEqual(store.offline, [legacy(1)]);
});

Deno.test("nothing missed: one empty page, no message query, and no delete", async () => {
  // The message at seq 2 was stored after the login read the cursors: it comes live, not from the hand-over.
  const store = new MemoryHandoverStore([], [stored("u:1:7", 1), stored("u:1:7", 2)]);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 1, 1], ["g:3", 4, 4]), {
    rows: 10,
    chars: 1 << 20,
  });
  assert.deepEqual(await drain(handover), [[]]);
  assert.deepEqual(store.calls, ["readOffline 10"]);
  assert.deepEqual(handover.cursors, new Map());
});

Deno.test("only conversations whose cursor is below their last seq are read", async () => {
  const store = new MemoryHandoverStore([], [stored("u:1:7", 3), stored("g:3", 5), stored("g:4", 2)]);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 2, 3], ["g:3", 5, 5], ["g:4", 2, 2]), {
    rows: 10,
    chars: 1 << 20,
  });
  assert.deepEqual(await drain(handover), [[chat("u:1:7", 3)]]);
  assert.deepEqual(store.calls, ["readOffline 10", "messagesPast u:1:7 10"]);
  assert.deepEqual(handover.cursors, new Map([["u:1:7", 3]]));
});

Deno.test("legacy rows are handed even when no conversation has anything waiting", async () => {
  const store = new MemoryHandoverStore([legacy(1)], []);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 1, 1]), { rows: 10, chars: 1 << 20 });
  assert.deepEqual(await drain(handover), [[legacy(1).frame]]);
  assert.deepEqual(store.offline, []);
});

Deno.test("a full page of legacy rows reads more legacy rows before any message", async () => {
  const store = new MemoryHandoverStore([legacy(1), legacy(2), legacy(3)], [stored("u:1:7", 1)]);
  const handover = new OfflineHandover(store, 7, at(["u:1:7", 0, 1]), { rows: 2, chars: 1 << 20 });
  assert.deepEqual(await drain(handover), [
    [legacy(1).frame, legacy(2).frame],
    [legacy(3).frame, chat("u:1:7", 1)],
    // A full page may be the last: one more read finds nothing.
    [],
  ]);
});
