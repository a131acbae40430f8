/**
 * README.md as a new user reads it: its client examples run as written against a fresh server, every
 * `deno task` it names exists, and every flag it gives to an entry point is one that entry point knows.
 * The README is read when the tests run, so it cannot drift from the code unnoticed.
 */
import assert from "node:assert/strict";
import { startTestNode } from "./harness/chat_node.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));
const TASKS = Object.keys(
  (JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))) as { tasks: object }).tasks,
);

/** How the README may run a task: with Deno installed, or through npx on a machine with only Node.js. */
const TASK_PREFIX = String.raw`(?:npx -y deno@2\.9\.6|deno) task`;
/** Entry points whose flags the README may use, each with a `--help` that lists them. */
const ENTRY_POINTS = ["serve", "client", "bench", "cluster"];

/** The bodies of the fenced ```sh blocks of a Markdown text, in order. */
function shBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((match) => match[1]);
}

/** The `printf '…' | deno task client …` lines of a sh block (either task form). */
function clientExamples(block: string): string[] {
  const example = new RegExp(String.raw`^printf '[^']*' \| ${TASK_PREFIX} client\b`);
  return block.split("\n").filter((line) => example.test(line));
}

/** Every `deno task NAME REST` in a text, REST ending where a shell or Markdown would end it. */
function taskMentions(text: string): { task: string; flags: string[] }[] {
  const mention = new RegExp(String.raw`${TASK_PREFIX} ([\w:-]+)([^\`\n|&;#)]*)`, "g");
  return [...text.matchAll(mention)].map((match) => ({
    task: match[1],
    flags: [...match[2].matchAll(/(?:^|\s)(--[a-z][\w-]*)/g)].map((flag) => flag[1]),
  }));
}

/**
 * `line` made to run here: the task through this Deno (npx would fetch one), and the client pointed
 * at `port` instead of the port the README names.
 */
function localCommand(line: string, port: number, deno = Deno.execPath()): string {
  const local = line.replace(new RegExp(TASK_PREFIX), `'${deno}' task`);
  return /--port \d+/.test(local)
    ? local.replace(/--port \d+/, `--port ${port}`)
    : local.replace(/ task client\b/, ` task client --port ${port}`);
}

Deno.test("shBlocks(), clientExamples(), taskMentions() and localCommand() read what a README shows", () => {
  const markdown = [
    "Run `deno task serve --port 1 --db x` or `npx -y deno@2.9.6 task bench pingpong --v1`.",
    "```sh",
    "printf 'register a b\\n' | deno task client --port 6000   # a comment --not-a-flag",
    "deno task client --host h",
    "```",
    "```",
    "printf 'not sh\\n' | deno task client",
    "```",
    "```sh",
    "printf 'login 1 b\\n' | npx -y deno@2.9.6 task client",
    "```",
  ].join("\n");
  const blocks = shBlocks(markdown);
  assert.equal(blocks.length, 2);
  assert.deepEqual(blocks.map(clientExamples), [
    ["printf 'register a b\\n' | deno task client --port 6000   # a comment --not-a-flag"],
    ["printf 'login 1 b\\n' | npx -y deno@2.9.6 task client"],
  ]);
  assert.deepEqual(taskMentions(markdown), [
    { task: "serve", flags: ["--port", "--db"] },
    { task: "bench", flags: ["--v1"] },
    { task: "client", flags: ["--port"] },
    { task: "client", flags: ["--host"] },
    { task: "client", flags: [] },
    { task: "client", flags: [] },
  ]);
  assert.equal(
    localCommand(clientExamples(blocks[0])[0], 7, "/x/deno"),
    "printf 'register a b\\n' | '/x/deno' task client --port 7   # a comment --not-a-flag",
  );
  assert.equal(
    localCommand(clientExamples(blocks[1])[0], 7, "/x/deno"),
    "printf 'login 1 b\\n' | '/x/deno' task client --port 7",
  );
});

Deno.test("README.md: every deno task it names is a task of deno.json", () => {
  const mentions = taskMentions(README);
  assert.ok(mentions.length > 0, "the README names tasks");
  const unknown = mentions.filter(({ task }) => !TASKS.includes(task)).map(({ task }) => task);
  assert.deepEqual(unknown, [], `tasks in README.md that deno.json lacks (it has ${TASKS.join(", ")})`);
});

Deno.test("README.md: every flag it gives to serve, client, bench and cluster is in that task's --help", async () => {
  const flags = new Map<string, Set<string>>();
  for (const { task, flags: given } of taskMentions(README)) {
    if (!ENTRY_POINTS.includes(task)) continue;
    flags.set(task, new Set([...flags.get(task) ?? [], ...given]));
  }
  assert.ok((flags.get("client")?.size ?? 0) > 0, "the README gives the client flags");
  for (const [task, given] of flags) {
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["task", "--quiet", task, "--help"],
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
    }).output();
    const help = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
    assert.equal(output.code, 0, `deno task ${task} --help failed:\n${help}`);
    // `--help` itself is what printed the list.
    const missing = [...given].filter((flag) => flag !== "--help" && !new RegExp(`${flag}\\b`).test(help));
    assert.deepEqual(
      missing,
      [],
      `flags README.md gives to deno task ${task} that its --help lacks:\n${help}`,
    );
  }
});

/** Deno's cache directory, so that a client run with another HOME still finds its modules. */
async function denoDir(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdin: "null" })
    .output();
  return (JSON.parse(new TextDecoder().decode(output.stdout)) as { denoDir: string }).denoDir;
}

Deno.test("README.md: the client examples run as written against a fresh server, each exiting 0", async () => {
  const blocks = shBlocks(README).map(clientExamples).filter((examples) => examples.length > 0);
  assert.ok(blocks.length > 0, "the README has client examples in ```sh blocks");
  const cache = await denoDir();
  for (const examples of blocks) {
    // Each block is a walk-through from an empty server (ids start at 1 again) and a new user's home:
    // the client keeps its login tokens under HOME, and never in the real one.
    await using node = await startTestNode();
    const home = await Deno.makeTempDir({ prefix: "chat-readme-home-" });
    try {
      for (const example of examples) {
        const output = await new Deno.Command("sh", {
          args: ["-c", localCommand(example, node.port)],
          cwd: ROOT,
          stdin: "null",
          env: { NO_COLOR: "1", HOME: home, DENO_DIR: cache, CHAT_CLIENT_STATE: "", XDG_STATE_HOME: "" },
        }).output();
        const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
        assert.equal(output.code, 0, `${example}\nexited ${output.code}:\n${text}`);
      }
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  }
});
