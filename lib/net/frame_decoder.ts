/**
 * Splits a TCP byte stream into frames as PROTOCOL.md "Framing" describes: a frame ends at `\n`, at a
 * NUL byte (the C++ client sends `strlen + 1` bytes), or where a top-level JSON object closes (objects
 * written back to back). Whitespace and NULs between frames are skipped.
 *
 * Works on bytes, not characters, so a multi-byte UTF-8 character split across reads is never cut:
 * every byte of a multi-byte sequence is >= 0x80 and cannot look like a quote, brace or terminator.
 */

const NEWLINE = 0x0a;
const NUL = 0x00;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/**
 * The held bytes of every decoder that holds none: shared, since an empty array is never written to (the
 * first bytes held grow it into a buffer of the decoder's own), and one per idle connection costs ~170 B.
 */
const NOTHING_HELD = new Uint8Array(0);

/** What the decoder hands out: a complete frame's bytes, or a frame that grew past the limit. */
export type DecodedFrame =
  | { kind: "frame"; bytes: Uint8Array }
  | { kind: "too_large"; size: number };

/** Options for {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest accepted frame in bytes (default 64 KiB). */
  maxFrameBytes?: number;
}

function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === NEWLINE || byte === NUL;
}

/**
 * Incremental frame splitter.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * for (const frame of decoder.push(new TextEncoder().encode('{"msgid":13}{"msgid":13}\n'))) {
 *   // two frames
 * }
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameBytes: number;
  /** Bytes of the frame being assembled (only what spans reads is copied here). */
  #partial: Uint8Array = NOTHING_HELD;
  #partialLength = 0;
  /** Scanner state, carried across reads. */
  #inFrame = false;
  #isObject = false;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameBytes = options.maxFrameBytes ?? 64 * 1024;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#partialLength;
  }

  /**
   * Feeds one read's bytes; returns the frames they complete, in order. A frame's bytes may be a view
   * of `chunk`: use them before the chunk's buffer is reused. After a `too_large` result the caller
   * must close the connection.
   */
  push(chunk: Uint8Array): DecodedFrame[] {
    const frames: DecodedFrame[] = [];
    let start = 0; // where the current frame starts inside `chunk` (when it started in this chunk)
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (!this.#inFrame) {
        if (isWhitespace(byte)) continue;
        this.#inFrame = true;
        this.#isObject = byte === OPEN_BRACE;
        this.#depth = 0;
        this.#inString = false;
        this.#escaped = false;
        start = i;
      }
      let ends = false;
      let includeByte = true;
      if (byte === NEWLINE || byte === NUL) {
        // A raw newline or NUL is never valid inside a JSON string, so it always ends the frame.
        ends = true;
        includeByte = false;
      } else if (this.#isObject) {
        if (this.#inString) {
          if (this.#escaped) this.#escaped = false;
          else if (byte === BACKSLASH) this.#escaped = true;
          else if (byte === QUOTE) this.#inString = false;
        } else if (byte === QUOTE) {
          this.#inString = true;
        } else if (byte === OPEN_BRACE) {
          this.#depth++;
        } else if (byte === CLOSE_BRACE) {
          this.#depth--;
          ends = this.#depth === 0;
        }
      }
      const end = includeByte ? i + 1 : i;
      if (this.#partialLength + (end - start) > this.#maxFrameBytes) {
        frames.push({ kind: "too_large", size: this.#partialLength + (end - start) });
        this.#reset();
        return frames;
      }
      if (ends) {
        frames.push({ kind: "frame", bytes: this.#take(chunk.subarray(start, end)) });
        this.#inFrame = false;
      }
    }
    if (this.#inFrame) this.#append(chunk.subarray(start));
    return frames;
  }

  /**
   * The frame made of what was held from earlier reads plus `tail`. The held buffer becomes the frame's (no
   * copy) and the decoder holds nothing again: an idle connection whose last frame spanned two reads keeps no
   * buffer of its own.
   */
  #take(tail: Uint8Array): Uint8Array {
    if (this.#partialLength === 0) return tail;
    this.#append(tail);
    const bytes = this.#partial.subarray(0, this.#partialLength);
    this.#reset();
    return bytes;
  }

  #append(bytes: Uint8Array): void {
    const needed = this.#partialLength + bytes.length;
    if (needed > this.#partial.length) {
      const grown = new Uint8Array(Math.max(needed, this.#partial.length * 2, 256));
      grown.set(this.#partial.subarray(0, this.#partialLength));
      this.#partial = grown;
    }
    this.#partial.set(bytes, this.#partialLength);
    this.#partialLength = needed;
  }

  #reset(): void {
    this.#partial = NOTHING_HELD;
    this.#partialLength = 0;
  }
}
