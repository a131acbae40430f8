/**
 * `client.ts` as a real subprocess in script mode (stdin piped), for the tests that run it against a
 * server. It gets only `--allow-net` unless it is given a state directory: then it may read and write that
 * directory alone, and keeps its login tokens there. Either way it never touches the user's home.
 */
import assert from "node:assert/strict";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;
const encoder = new TextEncoder();

/** Options for {@linkcode ClientProcess}. */
export interface ClientProcessOptions {
  /** Extra flags for `client.ts`. */
  args?: string[];
  /** `--state-dir`, with read and write permission for it (and nothing else on disk). */
  stateDir?: string;
}

/** `client.ts` with piped stdio; stdout and stderr are collected as they arrive. */
export class ClientProcess implements AsyncDisposable {
  stdout = "";
  stderr = "";
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #drained: Promise<unknown>;
  /** Called after every chunk of output ({@linkcode waitFor}'s checks). */
  readonly #onOutput = new Set<() => void>();

  constructor(port: number, options: ClientProcessOptions = {}) {
    const dir = options.stateDir;
    const permissions = dir === undefined ? [] : [`--allow-read=${dir}`, `--allow-write=${dir}`];
    const state = dir === undefined ? [] : ["--state-dir", dir];
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        ...permissions,
        CLIENT,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        ...state,
        ...options.args ?? [],
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    const drain = async (stream: ReadableStream<Uint8Array>, add: (text: string) => void) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        add(text);
        for (const listener of this.#onOutput) listener();
      }
    };
    this.#drained = Promise.all([
      drain(this.#child.stdout, (text) => this.stdout += text),
      drain(this.#child.stderr, (text) => this.stderr += text),
    ]);
  }

  /** Writes input lines. */
  async send(...lines: string[]): Promise<void> {
    await this.#stdin.write(encoder.encode(lines.map((line) => line + "\n").join("")));
  }

  /**
   * Waits until stdout (or stderr) matches `pattern`; returns the match. Checked on every chunk of output,
   * and fails at once when the client exits without printing it.
   */
  async waitFor(
    pattern: RegExp,
    stream: "stdout" | "stderr" = "stdout",
    timeoutMs = 10_000,
  ): Promise<RegExpMatchArray> {
    const { promise, resolve, reject } = Promise.withResolvers<RegExpMatchArray>();
    const fail = (why: string) =>
      reject(
        new Error(`no ${pattern} on ${stream}: ${why}\nstdout:\n${this.stdout}\nstderr:\n${this.stderr}`),
      );
    const check = () => {
      const match = this[stream].match(pattern);
      if (match) resolve(match);
    };
    this.#onOutput.add(check);
    const timer = setTimeout(() => fail(`not within ${timeoutMs} ms`), timeoutMs);
    this.#drained.finally(() => {
      check();
      fail("the client's output ended");
    }).catch(() => {});
    check();
    try {
      return await promise;
    } finally {
      clearTimeout(timer);
      this.#onOutput.delete(check);
    }
  }

  /** Ends stdin and resolves the exit code once all output is read. */
  async finish(): Promise<number> {
    await this.#stdin.close().catch(() => {});
    return await this.status();
  }

  /** The exit code, once the process ended by itself. */
  async status(): Promise<number> {
    const status = await this.#child.status;
    await this.#drained;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.#stdin.close().catch(() => {});
    await this.status();
  }
}

/** Asserts that `lines` appear in `output` one after another, exactly. */
export function assertLines(output: string, ...lines: string[]): void {
  const all = output.split("\n");
  const start = all.indexOf(lines[0]);
  assert.ok(start >= 0, `missing ${JSON.stringify(lines[0])} in\n${output}`);
  assert.deepEqual(all.slice(start, start + lines.length), lines);
}
