/**
 * What a connection writes: its queued frames (text, or UTF-8 bytes shared between connections) as one
 * buffer per write.
 *
 * Encoding a frame into a fresh `Uint8Array` costs an ArrayBuffer allocation, which here takes longer than
 * the encoding itself (about 0.7 µs against 0.07 µs for a chat frame, two per v2 chat message). So a write
 * borrows a scratch buffer from a small free list shared by all connections and gives it back once the
 * write has completed: only writes in flight hold one, so a few buffers serve every connection.
 */

/** One queued frame: text, or text already encoded (a group message's frame, encoded once for all). */
export type Outbound = string | Uint8Array;

/**
 * Small on purpose: a write from a view of a larger buffer costs more (`deno task bench pingpong`, v2:
 * 55k msg/s with 16 KiB buffers, 61.5k with 4 KiB, 64k with 1 KiB). Larger batches are allocated.
 */
const SCRATCH_BYTES = 1024;
/** Free buffers kept at most (64 KiB): more are only needed while that many writes are in flight. */
const MAX_FREE_SCRATCH = 64;
const freeScratch: Uint8Array[] = [];
const encoder = new TextEncoder();

/** A scratch buffer for one write; give it back with {@linkcode returnScratch} once the write completed. */
export function borrowScratch(): Uint8Array {
  return freeScratch.pop() ?? new Uint8Array(SCRATCH_BYTES);
}

export function returnScratch(scratch: Uint8Array): void {
  if (freeScratch.length < MAX_FREE_SCRATCH) freeScratch.push(scratch);
}

/**
 * The items back to back: a view of `scratch` when they fit, the shared bytes themselves when they are the
 * only item, else a new array.
 */
export function encodeForWrite(items: Outbound[], scratch: Uint8Array): Uint8Array {
  if (items.length === 1 && typeof items[0] !== "string") return items[0];
  let offset = 0;
  for (const item of items) {
    if (typeof item === "string") {
      const { read, written } = encoder.encodeInto(item, scratch.subarray(offset));
      if (read < item.length) return concatenate(items);
      offset += written;
    } else {
      if (offset + item.length > scratch.length) return concatenate(items);
      scratch.set(item, offset);
      offset += item.length;
    }
  }
  return scratch.subarray(0, offset);
}

/** The items back to back in a new array (more than fits in a scratch buffer). */
function concatenate(items: Outbound[]): Uint8Array {
  const parts = items.map((item) => typeof item === "string" ? encoder.encode(item) : item);
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.length;
  }
  return bytes;
}

/** How many of `items`, written back to back, fit entirely in the first `bytes` bytes. */
export function fullyWritten(items: Outbound[], bytes: number): number {
  let end = 0;
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    end += typeof item === "string" ? encoder.encode(item).length : item.length;
    if (end > bytes) return i;
  }
  return items.length;
}
