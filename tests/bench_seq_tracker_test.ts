import assert from "node:assert/strict";
import { SeqTracker } from "./bench/seq_tracker.ts";

Deno.test("SeqTracker.add() is true only the first time a seq of a conversation is seen", () => {
  const seen = new SeqTracker();
  assert.equal(seen.add("u:1:2", 1), true);
  assert.equal(seen.add("u:1:2", 1), false);
  assert.equal(seen.add("g:7", 1), true, "conversations are apart");
  assert.equal(seen.add("u:1:2", 5), true);
  assert.equal(seen.add("u:1:2", 5), false);
  assert.equal(seen.has("u:1:2", 5), true);
  assert.equal(seen.has("u:1:2", 4), false);
  assert.equal(seen.has("u:9:10", 1), false);
});

Deno.test("SeqTracker.low() is the prefix seen whole, moving up as gaps fill in any order", () => {
  const seen = new SeqTracker();
  assert.equal(seen.low("u:1:2"), 0);
  seen.add("u:1:2", 2);
  seen.add("u:1:2", 4);
  assert.equal(seen.low("u:1:2"), 0);
  seen.add("u:1:2", 1);
  assert.equal(seen.low("u:1:2"), 2);
  seen.add("u:1:2", 3);
  assert.equal(seen.low("u:1:2"), 4);
  assert.equal(seen.add("u:1:2", 3), false, "below low is seen");
  assert.equal(seen.has("u:1:2", 1), true);
});
