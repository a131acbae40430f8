/** The client's `ConversationTracker`: messages shown once, in seq order, gaps filled with SYNC. */
import assert from "node:assert/strict";
import { ConversationTracker, type SyncPage } from "../lib/client/conversation_tracker.ts";
import type { ChatMessage } from "../lib/client/model.ts";

/** A message of conversation `conv` with number `seq`. */
function message(seq: number, conv = "u:1:2"): ChatMessage {
  return { id: 2, name: "bob", toid: 1, msg: `m${seq}`, time: "t", conv, seq };
}

/**
 * A tracker whose SYNC answers from `stored` (the server's messages by conversation) and records each
 * request; `shown` lists `conv#seq` of what it showed, in order.
 */
function harness(stored: Record<string, number[]> = {}, options: { pageSize?: number; fail?: boolean } = {}) {
  const shown: string[] = [];
  const fetches: string[] = [];
  const tracker = new ConversationTracker({
    fetchAfter(conv, after): Promise<SyncPage | undefined> {
      fetches.push(`${conv}>${after}`);
      if (options.fail) return Promise.resolve(undefined);
      const after_ = (stored[conv] ?? []).filter((seq) => seq > after);
      const page = after_.slice(0, options.pageSize ?? 100);
      return Promise.resolve({
        messages: page.map((seq) => message(seq, conv)),
        more: after_.length > page.length,
      });
    },
    show: (m) => shown.push(`${m.conv}#${m.seq}`),
  });
  return { tracker, shown, fetches };
}

Deno.test("ConversationTracker.accept() shows in-order messages at once and drops repeats", async () => {
  const { tracker, shown, fetches } = harness();
  tracker.accept(message(5));
  tracker.accept(message(6));
  tracker.accept(message(6));
  tracker.accept(message(4));
  tracker.accept(message(1, "g:9"));
  await tracker.idle();
  assert.deepEqual(shown, ["u:1:2#5", "u:1:2#6", "g:9#1"]);
  assert.deepEqual(fetches, [], "no gap, no SYNC");
  assert.equal(tracker.shown("u:1:2"), 6);
  assert.equal(tracker.shown("u:9:10"), undefined);
});

Deno.test("ConversationTracker.accept() holds a message past a gap until SYNC fills the gap", async () => {
  const { tracker, shown, fetches } = harness({ "u:1:2": [1, 2, 3, 4, 5] });
  tracker.accept(message(2));
  tracker.accept(message(5));
  assert.deepEqual(shown, ["u:1:2#2"], "5 waits for 3 and 4");
  // 3 arrives live while the fill runs: shown once, in order.
  tracker.accept(message(3));
  await tracker.idle();
  assert.deepEqual(shown, ["u:1:2#2", "u:1:2#3", "u:1:2#4", "u:1:2#5"]);
  assert.deepEqual(fetches, ["u:1:2>2"]);
  tracker.accept(message(4));
  tracker.accept(message(5));
  assert.equal(shown.length, 4, "what the fill brought is not shown again when it also arrives live");
});

Deno.test("ConversationTracker.accept() fills a long gap page by page", async () => {
  const stored = Array.from({ length: 25 }, (_, i) => i + 1);
  const { tracker, shown, fetches } = harness({ "g:3": stored }, { pageSize: 10 });
  tracker.accept(message(1, "g:3"));
  tracker.accept(message(25, "g:3"));
  await tracker.idle();
  assert.deepEqual(shown, stored.map((seq) => `g:3#${seq}`));
  assert.deepEqual(fetches, ["g:3>1", "g:3>11", "g:3>21"]);
});

Deno.test("ConversationTracker.accept() shows what waits when the gap cannot be filled or SYNC fails", async () => {
  // The server no longer has 3 and 4 (retention): 5 is shown after one SYNC that brings nothing.
  const gone = harness({ "u:1:2": [1, 2, 5] });
  gone.tracker.accept(message(2));
  gone.tracker.accept(message(5));
  await gone.tracker.idle();
  assert.deepEqual(gone.shown, ["u:1:2#2", "u:1:2#5"]);
  assert.equal(gone.tracker.shown("u:1:2"), 5);

  const failing = harness({}, { fail: true });
  failing.tracker.accept(message(1));
  failing.tracker.accept(message(4));
  failing.tracker.accept(message(3));
  await failing.tracker.idle();
  assert.deepEqual(failing.shown, ["u:1:2#1", "u:1:2#3", "u:1:2#4"], "in seq order, each once");
  assert.deepEqual(failing.fetches, ["u:1:2>1"], "a failed SYNC is not retried in a loop");
});

Deno.test("ConversationTracker.accept() places own sends without showing them, and fills around them", async () => {
  const { tracker, shown, fetches } = harness({ "u:1:2": [1, 2, 3] });
  tracker.accept(message(1));
  // This client's message got seq 3: 2 (from the other side) is still on its way.
  tracker.accept("u:1:2", 3, "own");
  await tracker.idle();
  assert.deepEqual(shown, ["u:1:2#1", "u:1:2#2"], "3 is the user's own: the fill does not show it");
  assert.deepEqual(fetches, ["u:1:2>1"]);
  tracker.accept(message(2));
  assert.equal(shown.length, 2);
});

Deno.test("ConversationTracker.accept() shows a message without conv/seq as it comes", () => {
  const { tracker, shown } = harness();
  const legacy: ChatMessage = { id: 2, name: "bob", toid: 1, msg: "old offline row", time: "t" };
  tracker.accept(legacy);
  tracker.accept(legacy);
  assert.deepEqual(shown, ["undefined#undefined", "undefined#undefined"]);
});

Deno.test("ConversationTracker.listed() starts a new conversation at the listed seq, or fills a known one", async () => {
  const { tracker, shown, fetches } = harness({ "u:1:2": [1, 2, 3, 4], "g:7": [1, 2, 3, 4, 5, 6] });
  // Not met yet: listed at 4, then 6 arrives live: 5 is missing and fetched; 1–4 are history.
  tracker.listed("g:7", 4);
  tracker.accept(message(6, "g:7"));
  // Not met yet: listed at 4 (SYNC saw 4 stored) and 4 itself arrives live after: it is shown.
  tracker.listed("u:1:3", 4);
  tracker.accept(message(4, "u:1:3"));
  // Met before (shown up to 2), listed at 4: 3 and 4 were missed while away and are fetched.
  tracker.accept(message(2));
  tracker.listed("u:1:2", 4);
  tracker.listed("u:1:2", 1);
  await tracker.idle();
  // Shown at once: u:1:3#4 and u:1:2#2; after their fills: the rest.
  assert.deepEqual(shown, ["u:1:3#4", "u:1:2#2", "g:7#5", "g:7#6", "u:1:2#3", "u:1:2#4"]);
  assert.deepEqual(fetches, ["g:7>4", "u:1:2>2"]);
});

Deno.test("ConversationTracker.clear() forgets every conversation", () => {
  const { tracker, shown } = harness();
  tracker.accept(message(3));
  tracker.clear();
  tracker.accept(message(3));
  assert.deepEqual(shown, ["u:1:2#3", "u:1:2#3"]);
  assert.equal(tracker.shown("u:1:2"), 3);
});
