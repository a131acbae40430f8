/**
 * The REPL in a real terminal: `client.ts` runs inside tmux (a private tmux server per test), keys are
 * typed with `send-keys`, and the screen is read with `capture-pane`. Needs tmux (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { FakeServer, friendRequestPush, groupEvent, loginAck } from "./client_fake_server.ts";
import { HELP_LINES } from "./client_help.ts";
import { startTestNode } from "./harness/chat_node.ts";
import { eventually } from "./harness/eventually.ts";
import { member, registerUser, uniqueName } from "./protocol_suite.ts";

const CLIENT = new URL("../client.ts", import.meta.url).pathname;
const WIDTH = 80;

const tmuxAvailable = await new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" })
  .output()
  .then((output) => output.success, () => false);

/** A detached tmux session on its own socket, so it never touches the user's tmux. */
class Tmux implements AsyncDisposable {
  readonly #dir: string;

  private constructor(dir: string) {
    this.#dir = dir;
  }

  /** `client.ts` against the server on `port`. */
  static client(port: number): Promise<Tmux> {
    return Tmux.start([
      Deno.execPath(),
      "run",
      "--allow-net",
      CLIENT,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ]);
  }

  static async start(command: string[]): Promise<Tmux> {
    assert.ok(tmuxAvailable, "these tests need tmux: apt-get install tmux");
    const tmux = new Tmux(await Deno.makeTempDir({ prefix: "chat-tty-" }));
    const shell = command.map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`).join(" ");
    // The shell line stays on screen after the client exits, with its status.
    await tmux.run(
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      String(WIDTH),
      "-y",
      "45",
      `${shell}; echo "[exit $?]"; sleep 60`,
    );
    return tmux;
  }

  async run(...args: string[]): Promise<string> {
    const output = await new Deno.Command("tmux", {
      args: ["-u", "-S", `${this.#dir}/socket`, ...args],
      env: { LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
    }).output();
    const text = new TextDecoder().decode(output.stdout);
    if (!output.success) {
      throw new Error(`tmux ${args.join(" ")}: ${new TextDecoder().decode(output.stderr)}`);
    }
    return text;
  }

  /** Types `text` literally (no key names). */
  async type(text: string): Promise<void> {
    await this.run("send-keys", "-l", text);
  }

  async key(...keys: string[]): Promise<void> {
    await this.run("send-keys", ...keys);
  }

  /** The screen's lines, trailing blank lines removed. */
  async screen(): Promise<string[]> {
    const lines = (await this.run("capture-pane", "-p")).split("\n").map((line) => line.trimEnd());
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    return lines;
  }

  async cursor(): Promise<{ x: number; y: number }> {
    const [x, y] = (await this.run("display-message", "-p", "#{cursor_x} #{cursor_y}")).trim().split(" ");
    return { x: Number(x), y: Number(y) };
  }

  /** Waits until the cursor is in column `x`; returns its position. */
  async waitForCursor(x: number, timeoutMs = 10_000): Promise<{ x: number; y: number }> {
    // tmux has no event for "the screen changed" that a test can await, so this polls.
    return await eventually(async () => {
      const cursor = await this.cursor();
      if (cursor.x !== x) throw new Error(`the cursor is at ${JSON.stringify(cursor)}`);
      return cursor;
    }, { what: `the cursor in column ${x}`, timeoutMs });
  }

  /** Waits until `check` accepts the screen; returns it. */
  async waitFor(check: (lines: string[]) => boolean, what: string, timeoutMs = 10_000): Promise<string[]> {
    return await eventually(async () => {
      const lines = await this.screen();
      if (!check(lines)) throw new Error(`the screen shows:\n${lines.join("\n")}`);
      return lines;
    }, { what: `the screen showing ${what}`, timeoutMs });
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.run("kill-server").catch(() => {});
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/** Terminal columns of `text`: CJK and emoji take two. */
function columns(text: string): number {
  let width = 0;
  for (const char of text) {
    width += /\p{Extended_Pictographic}|[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uff00-\uff60]/u.test(char)
      ? 2
      : 1;
  }
  return width;
}

/** The screen rows a prompt line occupies (wrapped at {@linkcode WIDTH}). */
function wrap(text: string): string[] {
  const rows: string[] = [];
  let row = "";
  for (const char of text) {
    if (columns(row + char) > WIDTH) {
      rows.push(row);
      row = "";
    }
    row += char;
  }
  rows.push(row);
  return rows;
}

Deno.test({
  name: "client.ts REPL prints incoming messages above the prompt and keeps the half-typed line",
  fn: async () => {
    await using node = await startTestNode();
    const aliceName = uniqueName("alice");
    const alice = await registerUser(node.port, aliceName, "pw");
    const bob = await member(node.port);
    await using tmux = await Tmux.client(node.port);
    await tmux.waitFor((lines) => lines.at(-1) === ">", "the first prompt");
    await tmux.type(`login ${alice} pw`);
    await tmux.key("Enter");
    const prompt = `${aliceName}> `;
    await tmux.waitFor((lines) => lines.at(-1) === prompt.trimEnd(), "the prompt after login");
    await tmux.type("friends");
    await tmux.key("Enter");
    await tmux.waitFor((lines) => lines.at(-2) === "friends: none", "the friends");
    await tmux.key("Up");
    await tmux.waitFor((lines) => lines.at(-1) === prompt + "friends", "history recall");
    // One more step back would be the login line, password included: it is left out of the history.
    await tmux.key("Up");
    await tmux.waitFor((lines) => lines.at(-1) === prompt.trimEnd(), "the end of the history");

    // Half a line, with the cursor moved back inside it.
    const half = `chat ${bob.id} half 你好 😀 "q" @bob`;
    await tmux.type(half);
    await tmux.key("Left", "Left", "Left", "Left");
    await tmux.waitFor((lines) => lines.at(-1) === prompt + half, "the half-typed line");
    const before = await tmux.waitForCursor(columns(prompt + half) - "@bob".length);
    await bob.client.request({ msgid: 6, toid: alice, msg: "incoming 🚀 while typing" });
    const screen = await tmux.waitFor(
      (lines) => lines.some((line) => line.endsWith(`${bob.name} (${bob.id}): incoming 🚀 while typing`)),
      "the incoming message",
    );
    assert.equal(screen.at(-1), prompt + half, "the half-typed line is redrawn below the message");
    assert.match(
      screen.at(-2)!,
      /: incoming 🚀 while typing$/,
      "the message is printed just above the prompt",
    );
    assert.equal(screen.filter((line) => line.includes(half)).length, 1, "no stale copy of the line is left");
    assert.deepEqual(
      await tmux.cursor(),
      { x: before.x, y: screen.length - 1 },
      "the cursor is where it was",
    );

    // Typing goes on at the cursor, and the finished line is sent exactly.
    await tmux.type("X");
    await tmux.key("End");
    await tmux.type(" and the rest!");
    await tmux.key("Enter");
    const sent = await bob.client.nextOf(6);
    assert.equal(sent.msg, `half 你好 😀 "q" X@bob and the rest!`);
    await tmux.waitFor(
      (lines) => lines.some((line) => line.includes(`sent to ${bob.name} (${bob.id})`)),
      "the ACK",
    );

    // A line that wraps over two rows survives an incoming message too.
    const long = `chat ${bob.id} ${"0123456789 ".repeat(9)}end`;
    await tmux.type(long);
    const rows = wrap(prompt + long);
    assert.equal(rows.length, 2);
    await tmux.waitFor((lines) => lines.at(-1) === rows[1], "the wrapped line");
    await bob.client.request({ msgid: 6, toid: alice, msg: "second interruption" });
    const wrapped = await tmux.waitFor(
      (lines) => lines.some((line) => line.endsWith("second interruption")),
      "the second message",
    );
    assert.deepEqual(wrapped.slice(-3), [wrapped.at(-3), ...rows]);
    assert.match(wrapped.at(-3)!, /: second interruption$/);
    assert.equal(wrapped.filter((line) => line === rows[0]).length, 1, "the first row is not left behind");
    await tmux.key("Enter");
    assert.equal((await bob.client.nextOf(6)).msg, `${"0123456789 ".repeat(9)}end`);

    await tmux.type("quit");
    await tmux.key("Enter");
    await tmux.waitFor((lines) => lines.at(-1) === "[exit 0]", "the exit status");
    bob.client.close();
  },
});

Deno.test({
  name: "client.ts REPL prints a friend request and a group event above a half-typed line and keeps it",
  fn: async () => {
    // A scripted server: alice (1) is in group 5 "dev" with bob (2) and dave (4).
    await using server = new FakeServer((frame) =>
      frame.msgid === 1
        ? [loginAck(frame, {
          groups: [{
            id: 5,
            groupname: "dev",
            groupdesc: "",
            users: [
              { id: 2, name: "bob", state: "online", role: "creator" },
              { id: 1, name: "alice", state: "online", role: "normal" },
              { id: 4, name: "dave", state: "online", role: "normal" },
            ],
          }],
        })]
        : undefined
    );
    await using tmux = await Tmux.client(server.port);
    await tmux.waitFor((lines) => lines.at(-1) === ">", "the first prompt");
    await tmux.type("login 1 pw");
    await tmux.key("Enter");
    const prompt = "alice> ";
    await tmux.waitFor((lines) => lines.at(-1) === prompt.trimEnd(), "the prompt after login");

    const half = "chat 4 half typed 你好 😀 @dave";
    await tmux.type(half);
    await tmux.key("Left", "Left", "Left", "Left", "Left");
    await tmux.waitFor((lines) => lines.at(-1) === prompt + half, "the half-typed line");
    const before = await tmux.waitForCursor(columns(prompt + half) - "@dave".length);

    const request = "friend request from bob (2): hi, it's bob 👋 — accept 2 / decline 2";
    await server.push(friendRequestPush(2, "bob", "hi, it's bob 👋"));
    let screen = await tmux.waitFor((lines) => lines.includes(request), "the friend request");
    assert.deepEqual(screen.slice(-2), [request, prompt + half], "printed just above the redrawn line");
    assert.deepEqual(
      await tmux.cursor(),
      { x: before.x, y: screen.length - 1 },
      "the cursor is where it was",
    );

    const kicked = "bob (2) kicked dave (4) from g:5 (dev)";
    await server.push(groupEvent({ groupid: 5, event: "kicked", userid: 4, by: 2 }));
    screen = await tmux.waitFor((lines) => lines.includes(kicked), "the group event");
    assert.deepEqual(screen.slice(-3), [request, kicked, prompt + half]);
    assert.equal(screen.filter((line) => line.includes(half)).length, 1, "no stale copy of the line is left");
    assert.deepEqual(
      await tmux.cursor(),
      { x: before.x, y: screen.length - 1 },
      "the cursor is where it was",
    );

    // The line is still the input: finished and sent, it goes out exactly.
    const sent = server.next((frame) => frame.msgid === 6);
    await tmux.type("X");
    await tmux.key("Enter");
    assert.equal((await sent).msg, "half typed 你好 😀 X@dave");
    await tmux.type("accept 2");
    await tmux.key("Enter");
    await tmux.waitFor((lines) => lines.includes("✓ you and bob (2) are now friends"), "the accept");
    assert.deepEqual(server.of(22).map(({ id, accept }) => ({ id, accept })), [{ id: 2, accept: true }]);
    await tmux.type("groups");
    await tmux.key("Enter");
    screen = await tmux.waitFor(
      (lines) => lines.at(-1) === prompt.trimEnd() && lines.at(-2)?.startsWith("    alice (1)") === true,
      "the groups",
    );
    assert.deepEqual(screen.slice(-5, -1), [
      "groups (1):",
      "  dev #5",
      "    bob (2)  creator  online",
      "    alice (1)  normal  online",
    ]);
    await tmux.type("quit");
    await tmux.key("Enter");
    await tmux.waitFor((lines) => lines.at(-1) === "[exit 0]", "the exit status");
  },
});

Deno.test({
  name: "client.ts REPL reports a lost connection, offers reconnect, and logs in again",
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "chat-tty-db-" });
    // Declared first, so removed last: after the nodes that use it are closed.
    await using _dir = { [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
    // A database file outlives the node, so a new node on the same port knows the user.
    const db = `${dir}/chat.db`;
    const node = await startTestNode({ db });
    const name = uniqueName("alice");
    const alice = await registerUser(node.port, name, "pw");
    await using tmux = await Tmux.client(node.port);
    await tmux.waitFor((lines) => lines.at(-1) === ">", "the first prompt");
    await tmux.type(`login ${alice} pw`);
    await tmux.key("Enter");
    await tmux.waitFor((lines) => lines.at(-1) === `${name}>`, "the prompt after login");
    await tmux.type("chat 1 unsent");
    await tmux.waitFor((lines) => lines.at(-1) === `${name}> chat 1 unsent`, "the typed line");
    await node.close();
    const screen = await tmux.waitFor(
      (lines) => lines.some((line) => line.includes(`connection to 127.0.0.1:${node.port} lost`)),
      "the lost connection",
    );
    assert.match(screen.at(-2)!, /lost; type reconnect to connect again, or quit$/);
    assert.equal(screen.at(-1), "> chat 1 unsent", "the prompt no longer names the user; the input is kept");
    await tmux.key("C-u");
    await tmux.type("reconnect");
    await tmux.key("Enter");
    await tmux.waitFor(
      (lines) => lines.some((line) => line.includes(`cannot connect to 127.0.0.1:${node.port}`)),
      "the failed reconnect",
    );
    await using restarted = await startTestNode({ db, port: node.port });
    await tmux.type("reconnect");
    await tmux.key("Enter");
    const again = await tmux.waitFor(
      (lines) => lines.at(-1) === `${name}>`,
      "the prompt after logging in again",
    );
    const from = again.lastIndexOf("> reconnect");
    assert.deepEqual(again.slice(from, from + 4), [
      "> reconnect",
      `✓ connected to 127.0.0.1:${restarted.port}`,
      `logging in again as ${name} (${alice})`,
      `✓ logged in as ${name} (${alice})`,
    ]);
    await tmux.key("C-d");
    await tmux.waitFor((lines) => lines.at(-1) === "[exit 0]", "the exit status after Ctrl-D");
  },
});

Deno.test("client.ts REPL help lists the commands; Ctrl-C clears a half-typed line and leaves on an empty one", async () => {
  await using node = await startTestNode();
  await using tmux = await Tmux.client(node.port);
  await tmux.waitFor((lines) => lines.at(-1) === ">", "the first prompt");
  await tmux.type("help");
  await tmux.key("Enter");
  const help = await tmux.waitFor((lines) => lines.at(-2)?.startsWith("  quit ") ?? false, "the help");
  assert.deepEqual(help.slice(-(HELP_LINES.length + 2)), [
    "> help",
    ...HELP_LINES,
    ">",
  ]);
  await tmux.key("C-l");
  await tmux.waitFor((lines) => lines.length === 1 && lines[0] === ">", "a cleared screen");

  // A line that wraps over two rows, cursor moved back into it: Ctrl-C clears both rows.
  const half = `chat 2 ${"half typed ".repeat(8)}end`;
  await tmux.type(half);
  await tmux.key("Left", "Left");
  const rows = wrap("> " + half);
  assert.equal(rows.length, 2);
  await tmux.waitFor((lines) => lines.at(-1) === rows[1], "the half-typed line");
  await tmux.key("C-c");
  await tmux.waitFor((lines) => lines.length === 1 && lines[0] === ">", "the line cleared");
  assert.deepEqual(await tmux.cursor(), { x: 2, y: 0 }, "the cursor is after the prompt");
  // The cleared text is gone from the input too, not just from the screen.
  await tmux.type("friends");
  await tmux.key("Enter");
  await tmux.waitFor(
    (lines) => lines.includes("✗ friends: not logged in; log in first with: login <id> <password>"),
    "the command typed after Ctrl-C, run alone",
  );
  await tmux.key("C-c");
  const exited = await tmux.waitFor((lines) => lines.at(-1) === "[exit 0]", "the exit status after Ctrl-C");
  assert.equal(exited.at(-2), ">", "Ctrl-C on an empty line leaves");
});
