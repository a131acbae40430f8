import assert from "node:assert/strict";
import { chunks, placeholders } from "../lib/store/mysql_connections.ts";

Deno.test("chunks() cuts a list into power-of-two sized pieces of at most max, in order", () => {
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7], 4), [[1, 2, 3, 4], [5, 6], [7]]);
  assert.deepEqual(chunks([1, 2, 3, 4, 5, 6, 7, 8, 9], 4), [[1, 2, 3, 4], [5, 6, 7, 8], [9]]);
  assert.deepEqual(chunks([], 4), []);
});

Deno.test("chunks() uses only a few distinct sizes however long the list", () => {
  const sizes = new Set<number>();
  for (let n = 1; n <= 600; n++) {
    const pieces = chunks(Array.from({ length: n }, (_, i) => i), 256);
    assert.deepEqual(pieces.flat(), Array.from({ length: n }, (_, i) => i));
    for (const piece of pieces) sizes.add(piece.length);
  }
  assert.deepEqual([...sizes].sort((a, b) => a - b), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
});

Deno.test("placeholders() gives one ? per value", () => {
  assert.equal(placeholders(1), "(?)");
  assert.equal(placeholders(3), "(?, ?, ?)");
});
