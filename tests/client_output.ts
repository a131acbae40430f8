/** What a `ChatClient` in a test printed, kept for assertions. */
import type { Output } from "../lib/client/chat_client.ts";

/** Everything the client printed, by kind, with a wait for a line that is still to come. */
export class RecordingOutput implements Output {
  readonly lines: { kind: "result" | "error" | "event"; text: string }[] = [];
  #waiters: { pattern: RegExp; resolve: () => void }[] = [];

  result(text: string): void {
    this.#add("result", text);
  }
  error(text: string): void {
    this.#add("error", text);
  }
  event(text: string): void {
    this.#add("event", text);
  }

  /** The texts of one kind (all kinds when none is given). */
  texts(kind?: "result" | "error" | "event"): string[] {
    return this.lines.filter((line) => !kind || line.kind === kind).map((line) => line.text);
  }

  /** Resolves once a line matching `pattern` was printed (or at once if one was, from line `from` on). */
  waitFor(pattern: RegExp, from = 0, timeoutMs = 5000): Promise<void> {
    if (this.lines.slice(from).some((line) => pattern.test(line.text))) return Promise.resolve();
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(
      () => reject(new Error(`no ${pattern} within ${timeoutMs} ms in:\n${this.texts().join("\n")}`)),
      timeoutMs,
    );
    this.#waiters.push({ pattern, resolve: () => (clearTimeout(timer), resolve()) });
    return promise;
  }

  #add(kind: "result" | "error" | "event", text: string): void {
    this.lines.push({ kind, text });
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.pattern.test(text)) return true;
      waiter.resolve();
      return false;
    });
  }
}
