import assert from "node:assert/strict";
import { borrowScratch, encodeForWrite, fullyWritten, returnScratch } from "../lib/net/outbound.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("encodeForWrite() puts text and bytes back to back in the scratch buffer when they fit", () => {
  const scratch = borrowScratch();
  const shared = encoder.encode('{"msg":"群 😀"}\n');
  const bytes = encodeForWrite(['{"a":"é"}\n', shared, "{}\n"], scratch);
  assert.equal(bytes.buffer, scratch.buffer, "a view of the scratch buffer, no allocation");
  assert.equal(decoder.decode(bytes), '{"a":"é"}\n{"msg":"群 😀"}\n{}\n');
  returnScratch(scratch);
});

Deno.test("encodeForWrite() returns a lone shared item as it is, and allocates what does not fit", () => {
  const scratch = borrowScratch();
  const shared = encoder.encode("{}\n");
  assert.equal(encodeForWrite([shared], scratch), shared);
  // Multi-byte characters across the end of the scratch buffer, text and bytes mixed.
  const long = "😀".repeat(scratch.length / 4 + 1);
  for (const items of [[long], ["x", encoder.encode(long)], [encoder.encode("y"), long, "z"]]) {
    const bytes = encodeForWrite(items, scratch);
    assert.notEqual(bytes.buffer, scratch.buffer);
    const expected = items.map((item) => typeof item === "string" ? item : decoder.decode(item)).join("");
    assert.equal(decoder.decode(bytes), expected);
  }
  returnScratch(scratch);
});

Deno.test("fullyWritten() counts the items entirely within the first n bytes", () => {
  const items = ["ab", encoder.encode("é"), "😀"]; // 2, 2 and 4 bytes
  assert.equal(fullyWritten(items, 0), 0);
  assert.equal(fullyWritten(items, 3), 1);
  assert.equal(fullyWritten(items, 4), 2);
  assert.equal(fullyWritten(items, 7), 2);
  assert.equal(fullyWritten(items, 8), 3);
});
