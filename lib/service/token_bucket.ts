/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Refilled lazily on each take, so
 * an idle connection costs no timer.
 */
export class TokenBucket {
  #tokens: number;
  #last: number;

  constructor(readonly rate: number, readonly burst: number, now = performance.now()) {
    this.#tokens = burst;
    this.#last = now;
  }

  /** Takes one token; `false` when the bucket is empty. */
  take(now = performance.now()): boolean {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
