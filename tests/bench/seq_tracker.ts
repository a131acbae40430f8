/**
 * What a client knows of each conversation, by `seq`: which seqs it has seen, and the prefix it holds whole.
 * A soak device uses it as a real client would, to drop a frame it already has and to ask SYNC for what may
 * be missing after a dropped connection.
 *
 * @module
 */

interface Known {
  /** Every seq ≤ low has been seen. */
  low: number;
  /** Seen seqs above `low`. */
  above: Set<number>;
}

/**
 * @example
 * ```ts
 * const seen = new SeqTracker();
 * seen.add("u:1:2", 1); // true
 * seen.add("u:1:2", 3); // true
 * seen.add("u:1:2", 1); // false: already seen
 * seen.low("u:1:2"); // 1: seq 2 is missing
 * ```
 */
export class SeqTracker {
  readonly #convs = new Map<string, Known>();

  /** Records that `seq` of `conv` was seen; false when it had been already. */
  add(conv: string, seq: number): boolean {
    let known = this.#convs.get(conv);
    if (!known) this.#convs.set(conv, known = { low: 0, above: new Set() });
    if (seq <= known.low || known.above.has(seq)) return false;
    known.above.add(seq);
    while (known.above.delete(known.low + 1)) known.low++;
    return true;
  }

  /** Whether `seq` of `conv` was seen. */
  has(conv: string, seq: number): boolean {
    const known = this.#convs.get(conv);
    return known !== undefined && (seq <= known.low || known.above.has(seq));
  }

  /** The highest seq up to which every seq of `conv` was seen (0 when none). */
  low(conv: string): number {
    return this.#convs.get(conv)?.low ?? 0;
  }
}
