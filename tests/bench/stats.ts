/**
 * A latency histogram for the load generator: fixed memory, O(1) record, about 0.8 % resolution.
 *
 * Log-linear buckets over microseconds (the HdrHistogram idea with 7 significant bits): values below 256 µs
 * have a bucket each; above that every power of two is split into 128 buckets. Recording is an index
 * computation and an increment, so it costs nothing next to a socket read.
 *
 * @module
 */

const SUB_BITS = 7;
const SUB = 1 << SUB_BITS; // 128 buckets per power of two
/** Largest recordable value: about 35 minutes in microseconds; larger values are clamped. */
const MAX_US = 2 ** 31 - 1;
const BUCKETS = (32 - SUB_BITS + 1) * SUB;

function indexOf(us: number): number {
  const v = us >= MAX_US ? MAX_US : us <= 0 ? 0 : us | 0;
  if (v < 2 * SUB) return v;
  const shift = 31 - Math.clz32(v) - SUB_BITS; // >= 1
  return (shift + 1) * SUB + ((v >>> shift) - SUB);
}

/** The middle of bucket `index`, in microseconds. */
function valueOf(index: number): number {
  if (index < 2 * SUB) return index;
  const shift = Math.floor(index / SUB) - 1;
  const mantissa = (index % SUB) + SUB;
  return mantissa * 2 ** shift + 2 ** (shift - 1);
}

/** Summary of a histogram, in milliseconds. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Latency histogram in microsecond buckets; record milliseconds (what `performance.now()` differences are).
 *
 * @example
 * ```ts
 * const h = new Histogram();
 * const t0 = performance.now();
 * h.recordMs(performance.now() - t0);
 * h.summary().p99;
 * ```
 */
export class Histogram {
  readonly counts = new Float64Array(BUCKETS);
  count = 0;
  #sumUs = 0;
  #maxUs = 0;

  /** Records one latency given in milliseconds. */
  recordMs(ms: number): void {
    const us = ms * 1000;
    this.counts[indexOf(us)]++;
    this.count++;
    this.#sumUs += us;
    if (us > this.#maxUs) this.#maxUs = us;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    this.#sumUs += other.#sumUs;
    if (other.#maxUs > this.#maxUs) this.#maxUs = other.#maxUs;
  }

  /** Forgets everything (the end of a warm-up). */
  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.#sumUs = 0;
    this.#maxUs = 0;
  }

  /** The value (ms) below which `q` (0..1) of the recorded values lie. */
  quantileMs(q: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= rank) return Math.min(valueOf(i), this.#maxUs) / 1000;
    }
    return this.#maxUs / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.count,
      mean: this.count === 0 ? NaN : this.#sumUs / this.count / 1000,
      p50: this.quantileMs(0.5),
      p90: this.quantileMs(0.9),
      p99: this.quantileMs(0.99),
      p999: this.quantileMs(0.999),
      max: this.count === 0 ? NaN : this.#maxUs / 1000,
    };
  }
}

/**
 * The median of `values` (the mean of the two middle ones for an even count); NaN for none.
 *
 * @example
 * ```ts
 * median([3, 1, 2]); // 2
 * median([4, 1, 3, 2]); // 2.5
 * ```
 */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}
