/**
 * Where one logged-in device is in each of its conversations (DESIGN.md "Delivery without loss", step 3).
 * The cursor of a conversation only moves over a run without holes: every message up to it was handed to
 * the device or is the user's own. A frame past a hole (a frame the bus lost, or one that overtook another
 * from a different node) is handed and remembered above the cursor, and the hole is reported so that it
 * can be filled from the store; the cursor then moves over everything at once. So a saved cursor never
 * skips a message the device did not get, and a message is never handed twice in one session.
 *
 * @module
 */

/** One conversation's position. */
interface Position {
  cursor: number;
  /** Seqs handed past a hole, waiting for the hole to close. */
  above: Set<number> | undefined;
}

const NO_POSITIONS: ReadonlyMap<string, Position> = new Map();

/** Past this many seqs waiting above one hole, the hole is given up on (the store did not fill it). */
export const MAX_ABOVE = 10_000;

/**
 * @example
 * ```ts
 * const positions = new DeviceCursors();
 * positions.start("u:1:2", 4);
 * positions.take("u:1:2", 5); // true: handed, cursor 5
 * positions.take("u:1:2", 5); // false: handed already
 * positions.take("u:1:2", 7); // true, but 6 is a hole: cursor stays 5
 * positions.hole("u:1:2"); // { after: 5, upTo: 7 }
 * ```
 */
export class DeviceCursors {
  /** Made on first use: an idle session with no conversation costs no map (memory per connection). */
  #positionsMap: Map<string, Position> | undefined;
  /** Conversations whose cursor moved since {@linkcode DeviceCursors.takeMoved} last looked. */
  #moved: Set<string> | undefined;
  /** Conversations whose cursor moved at all in this session (the stored cursor may lag behind). */
  #changed: Set<string> | undefined;

  /**
   * Starts a conversation at `cursor` (the login's hand-over covered everything up to it). `stored`: the
   * device's stored cursor, when the cursor is already saved up to there (nothing to save then).
   */
  start(conv: string, cursor: number, stored = -1): void {
    const known = this.#positions().get(conv);
    if (known && known.cursor >= cursor) return;
    this.#writable().set(conv, { cursor, above: known?.above });
    if (known?.above) this.#close(this.#positions().get(conv)!);
    if (cursor > stored) this.#mark(conv);
  }

  /** Whether `seq` of `conv` was handed already (or is not past the cursor). */
  has(conv: string, seq: number): boolean {
    const position = this.#positions().get(conv);
    if (!position) return false;
    return seq <= position.cursor || (position.above?.has(seq) ?? false);
  }

  /**
   * Records `seq` of `conv` as handed; `false` when it was already. A conversation seen for the first time
   * (it began, or the user joined it, after the login) starts right below its first frame.
   */
  take(conv: string, seq: number): boolean {
    let position = this.#positions().get(conv);
    if (!position) {
      position = { cursor: seq - 1, above: undefined };
      this.#writable().set(conv, position);
    }
    if (seq <= position.cursor || position.above?.has(seq)) return false;
    if (seq === position.cursor + 1) {
      position.cursor = seq;
      if (position.above) this.#close(position);
      this.#mark(conv);
      return true;
    }
    position.above ??= new Set();
    position.above.add(seq);
    if (position.above.size > MAX_ABOVE) this.skipTo(conv, Math.max(...position.above));
    return true;
  }

  /** The hole of `conv`: what is missing is `after` < seq < the lowest seq above it; `upTo` is the highest. */
  hole(conv: string): { after: number; upTo: number } | undefined {
    const position = this.#positions().get(conv);
    if (!position?.above) return undefined;
    let upTo = 0;
    for (const seq of position.above) if (seq > upTo) upTo = seq;
    return { after: position.cursor, upTo };
  }

  /** The conversations with a hole. */
  holes(): string[] {
    const convs: string[] = [];
    for (const [conv, position] of this.#positions()) if (position.above) convs.push(conv);
    return convs;
  }

  /** Moves the cursor to `seq` whatever lies between (a hole the store has nothing for). */
  skipTo(conv: string, seq: number): void {
    const position = this.#positions().get(conv);
    if (!position || position.cursor >= seq) return;
    position.cursor = seq;
    this.#mark(conv);
    if (position.above) this.#close(position);
  }

  /** The cursors, per conversation. */
  cursors(): Map<string, number> {
    const cursors = new Map<string, number>();
    for (const [conv, position] of this.#positions()) cursors.set(conv, position.cursor);
    return cursors;
  }

  /** The cursors that moved in this session (what a last save at logout must cover). */
  changed(): Map<string, number> {
    const changed = new Map<string, number>();
    for (const conv of this.#changed ?? []) changed.set(conv, this.#positions().get(conv)!.cursor);
    return changed;
  }

  /** The cursors that moved since the last call, else `undefined`. */
  takeMoved(): Map<string, number> | undefined {
    if (!this.#moved) return undefined;
    const moved = new Map<string, number>();
    for (const conv of this.#moved) moved.set(conv, this.#positions().get(conv)!.cursor);
    this.#moved = undefined;
    return moved;
  }

  #mark(conv: string): void {
    (this.#moved ??= new Set()).add(conv);
    (this.#changed ??= new Set()).add(conv);
  }

  #positions(): ReadonlyMap<string, Position> {
    return this.#positionsMap ?? NO_POSITIONS;
  }

  #writable(): Map<string, Position> {
    return this.#positionsMap ??= new Map();
  }

  /** Moves the cursor over the seqs above it that now follow without a hole. */
  #close(position: Position): void {
    const above = position.above!;
    for (const seq of above) if (seq <= position.cursor) above.delete(seq);
    while (above.delete(position.cursor + 1)) position.cursor++;
    if (above.size === 0) position.above = undefined;
  }
}
