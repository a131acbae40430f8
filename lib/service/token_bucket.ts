/**
 * A token bucket: `rate` tokens per second, holding at most `burst`. Refilled lazily on each take, so
 * an idle connection costs no timer.
 *
 * The service uses it to shape, not to refuse: when a connection's bucket is empty its next frame waits
 * for a token, and since a connection's next frame is read only after the previous one was handled, the
 * sender is slowed by TCP back-pressure and nothing is dropped.
 *
 * @example
 * ```ts
 * import { TokenBucket } from "./token_bucket.ts";
 * const bucket = new TokenBucket(1000, 2000);
 * if (!bucket.take()) console.log(`next token in ${bucket.msUntilToken()} ms`);
 * ```
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
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is there now). */
  msUntilToken(now = performance.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : ((1 - this.#tokens) / this.rate) * 1000;
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#last) / 1000) * this.rate);
    this.#last = now;
  }
}

/**
 * Resolves once `bucket` gave a token: at once when it has one, otherwise after waiting for the refill.
 *
 * @example
 * ```ts
 * import { TokenBucket, takeToken } from "./token_bucket.ts";
 * await takeToken(new TokenBucket(10, 20));
 * ```
 */
export async function takeToken(bucket: TokenBucket): Promise<void> {
  while (!bucket.take()) {
    // setTimeout rounds up to whole milliseconds; the refill is computed from the real elapsed time.
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, Math.ceil(bucket.msUntilToken()))));
  }
}
