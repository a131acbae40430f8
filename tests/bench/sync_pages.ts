/**
 * Fetching a whole conversation page by page, as a client does: forwards with SYNC {conv, after, limit}
 * and backwards with HISTORY {conv, before, limit}. Pure over a page function, so that the walk is testable
 * without a server.
 *
 * @module
 */

/** One page as a SYNC or HISTORY ACK carries it: the frames (ascending by seq) and whether more exist. */
export interface Page {
  messages: unknown[];
  more: boolean;
}

/** A whole walk: every frame in ascending seq order, and the number of requests it took. */
export interface Walk {
  messages: unknown[];
  pages: number;
}

/**
 * The `seq` of a frame of a SYNC / HISTORY page (an object, or its JSON text); NaN when it has none.
 *
 * @example
 * ```ts
 * seqOf({ msgid: 6, conv: "u:1:2", seq: 3 }); // 3
 * seqOf('{"msgid":6,"conv":"u:1:2","seq":4}'); // 4
 * ```
 */
export function seqOf(message: unknown): number {
  let frame = message;
  if (typeof frame === "string") {
    try {
      frame = JSON.parse(frame);
    } catch {
      return NaN;
    }
  }
  const seq = (frame as { seq?: unknown } | null)?.seq;
  return typeof seq === "number" ? seq : NaN;
}

/** The page of a reply, or an error that shows the reply. */
export function pageOf(reply: Record<string, unknown>): Page {
  if (reply.errno !== 0 || !Array.isArray(reply.messages) || typeof reply.more !== "boolean") {
    throw new Error(`not a page of messages: ${JSON.stringify(reply).slice(0, 300)}`);
  }
  return { messages: reply.messages, more: reply.more };
}

/**
 * Walks forwards: SYNC after 0, then after the last seq of each page, until a page says `more: false`.
 *
 * @example
 * ```ts ignore
 * const walk = await walkForward((after) => client.request({ msgid: 16, conv, after, limit: 1000 }).then(pageOf));
 * ```
 */
export async function walkForward(fetchPage: (after: number) => Promise<Page>): Promise<Walk> {
  const messages: unknown[] = [];
  let after = 0;
  for (let pages = 1;; pages++) {
    const page = await fetchPage(after);
    messages.push(...page.messages);
    if (!page.more) return { messages, pages };
    const last = seqOf(page.messages.at(-1));
    if (!(last > after)) throw new Error(`SYNC after ${after} said more but did not move forward (${last})`);
    after = last;
  }
}

/**
 * Walks backwards: HISTORY from the newest (no `before`), then before the first seq of each page, until a
 * page says `more: false`. Pages arrive newest first, each ascending; the result is ascending.
 *
 * @example
 * ```ts ignore
 * const walk = await walkBackward((before) => client.request({ msgid: 17, conv, before, limit: 1000 }).then(pageOf));
 * ```
 */
export async function walkBackward(fetchPage: (before: number | undefined) => Promise<Page>): Promise<Walk> {
  const pagesNewestFirst: unknown[][] = [];
  let before: number | undefined;
  for (let pages = 1;; pages++) {
    const page = await fetchPage(before);
    pagesNewestFirst.push(page.messages);
    if (!page.more) return { messages: pagesNewestFirst.reverse().flat(), pages };
    const first = seqOf(page.messages[0]);
    if (!(before === undefined || first < before)) {
      throw new Error(`HISTORY before ${before} said more but did not move backward (${first})`);
    }
    before = first;
  }
}

/**
 * What is wrong with a whole fetch that should hold exactly seqs 1..`count` in order: undefined when
 * nothing is.
 *
 * @example
 * ```ts
 * fetchProblem([1, 2, 3], 3); // undefined
 * fetchProblem([1, 3], 3); // "2 messages instead of 3; seq 3 at position 2"
 * ```
 */
export function fetchProblem(seqs: number[], count: number): string | undefined {
  const problems: string[] = [];
  if (seqs.length !== count) problems.push(`${seqs.length} messages instead of ${count}`);
  const wrong = seqs.findIndex((seq, index) => seq !== index + 1);
  if (wrong >= 0) problems.push(`seq ${seqs[wrong]} at position ${wrong + 1}`);
  return problems.length > 0 ? problems.join("; ") : undefined;
}
