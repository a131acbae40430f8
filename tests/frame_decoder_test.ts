import assert from "node:assert/strict";
import { type DecodedFrame, FrameDecoder } from "../lib/net/frame_decoder.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function texts(frames: DecodedFrame[]): string[] {
  return frames.map((frame) =>
    frame.kind === "frame" ? decoder.decode(frame.bytes) : `too_large:${frame.size}`
  );
}

function feed(decoder: FrameDecoder, chunks: Uint8Array[]): string[] {
  return chunks.flatMap((chunk) => texts(decoder.push(chunk)));
}

Deno.test("FrameDecoder.push() splits on newline, NUL and closing braces of back-to-back objects", () => {
  const input = '{"a":1}\n{"b":"}{"}\0{"c":{"d":2}}{"e":"\\"}"}\n\n\0  ';
  assert.deepEqual(texts(new FrameDecoder().push(encoder.encode(input))), [
    '{"a":1}',
    '{"b":"}{"}',
    '{"c":{"d":2}}',
    '{"e":"\\"}"}',
  ]);
});

Deno.test("FrameDecoder.push() ends a non-object frame at its terminator", () => {
  assert.deepEqual(texts(new FrameDecoder().push(encoder.encode("hello world\n[1,2]\0 42\n"))), [
    "hello world",
    "[1,2]",
    "42",
  ]);
});

Deno.test("FrameDecoder.push() reassembles a frame split at every byte, inside multi-byte characters too", () => {
  const frame = '{"msg":"你好 😀 \\\\ \\" }","n":1}';
  const bytes = encoder.encode(frame + frame + "\n");
  const decoder = new FrameDecoder();
  const out = feed(decoder, [...bytes].map((byte) => new Uint8Array([byte])));
  assert.deepEqual(out, [frame, frame]);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder.push() hands a spanning frame its own bytes, which later reads do not overwrite", () => {
  const decoder = new FrameDecoder();
  assert.deepEqual(texts(decoder.push(encoder.encode('{"a":'))), []);
  const [first] = decoder.push(encoder.encode('1}{"b":'));
  assert.equal(first.kind, "frame");
  // The next frame is held in a buffer of its own, not in the one the first frame was handed.
  assert.deepEqual(texts(decoder.push(encoder.encode("22222}\n"))), ['{"b":22222}']);
  assert.deepEqual(texts([first]), ['{"a":1}']);
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder.push() reports a frame over the limit without buffering it", () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 16 });
  assert.deepEqual(texts(decoder.push(encoder.encode('{"a":"0123456789'))), []);
  const out = texts(decoder.push(encoder.encode('0123456789"}\n')));
  assert.equal(out.length, 1);
  assert.match(out[0], /^too_large:17$/);
  assert.equal(decoder.buffered, 0);
  assert.deepEqual(texts(new FrameDecoder({ maxFrameBytes: 16 }).push(encoder.encode('{"a":"0123456"}\n'))), [
    '{"a":"0123456"}',
  ]);
});

/** A small deterministic PRNG (mulberry32) so a failure is reproducible from its seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("FrameDecoder.push() gives the same frames however valid input is chunked (fuzz, seed 7)", () => {
  const next = random(7);
  const pieces = ['{"msgid":1}', '{"s":"a}b{c\\"d"}', '{"x":{"y":[1,{"z":"😀"}]}}', "junk", '{"e":"\\\\"}'];
  for (let round = 0; round < 2000; round++) {
    const frames = Array.from(
      { length: 1 + Math.floor(next() * 6) },
      () => pieces[Math.floor(next() * pieces.length)],
    );
    const text = frames.map((frame) =>
      frame + (frame === "junk" || next() < 0.5 ? "\n" : next() < 0.5 ? "\0" : "")
    )
      .join("");
    const bytes = encoder.encode(text);
    const chunks: Uint8Array[] = [];
    for (let start = 0; start < bytes.length;) {
      const size = 1 + Math.floor(next() * 8);
      chunks.push(bytes.slice(start, start + size));
      start += size;
    }
    assert.deepEqual(feed(new FrameDecoder(), chunks), frames, `round ${round}: ${text}`);
  }
});

Deno.test("FrameDecoder.push() never throws and stays bounded on random bytes (fuzz, seed 11, 100,000 chunks)", () => {
  const next = random(11);
  const decoder = new FrameDecoder({ maxFrameBytes: 4096 });
  let frames = 0;
  for (let i = 0; i < 100_000; i++) {
    const chunk = new Uint8Array(1 + Math.floor(next() * 64));
    for (let j = 0; j < chunk.length; j++) {
      // Bias towards the bytes the scanner cares about.
      const r = next();
      chunk[j] = r < 0.1
        ? 0x7b
        : r < 0.2
        ? 0x7d
        : r < 0.3
        ? 0x22
        : r < 0.35
        ? 0x5c
        : r < 0.4
        ? 0x0a
        : r * 256;
    }
    const out = decoder.push(chunk);
    frames += out.length;
    for (const frame of out) {
      if (frame.kind === "frame") assert.ok(frame.bytes.length <= 4096);
    }
    assert.ok(decoder.buffered <= 4096);
  }
  assert.ok(frames > 1000);
});
