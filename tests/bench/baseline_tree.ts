/**
 * The source tree of an earlier commit (`--baseline`), taken with `git archive` from this repository and
 * extracted into a temp folder under `/tmp`, so that its server can run beside the current one
 * (`tests/harness/released_server.ts` does the same for the upgrade tests).
 *
 * @module
 */

import { makeTempDir, removeTempDir } from "../harness/temp_dir.ts";

/** An extracted tree; `close()` removes it. */
export interface BaselineTree extends AsyncDisposable {
  /** The commit as given on the command line. */
  readonly commit: string;
  /** The full hash it resolved to. */
  readonly hash: string;
  /** The folder holding the tree (its `main.ts`, `deno.json`, `lib/`, `sql/`). */
  readonly dir: string;
  close(): Promise<void>;
}

const decoder = new TextDecoder();

async function git(args: string[]): Promise<string> {
  const output = await new Deno.Command("git", { args, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(`git ${args.join(" ")} failed (${output.code}): ${decoder.decode(output.stderr).trim()}`);
  }
  return decoder.decode(output.stdout).trim();
}

/**
 * Extracts `commit`'s tree. Rejects with a message naming the commit when this repository lacks it (a shallow
 * clone) or it has no `main.ts`.
 *
 * @example
 * ```ts ignore
 * await using tree = await extractBaseline("d0d2d5b");
 * // deno run --config ${tree.dir}/deno.json ... ${tree.dir}/main.ts
 * ```
 */
export async function extractBaseline(commit: string): Promise<BaselineTree> {
  let hash: string;
  try {
    // `--end-of-options`: whatever the text, git reads it as a revision.
    hash = await git(["rev-parse", "--verify", "--quiet", "--end-of-options", `${commit}^{commit}`]);
  } catch {
    throw new Error(
      `--baseline ${commit}: not a commit of this repository (a shallow clone lacks older commits: ` +
        "git fetch --unshallow)",
    );
  }
  const dir = await makeTempDir("chat-bench-baseline-");
  try {
    const archive = `${dir}/tree.tar`;
    await git(["archive", "--format=tar", "-o", archive, hash]);
    await Deno.mkdir(`${dir}/tree`);
    const tar = await new Deno.Command("tar", {
      args: ["-xf", archive, "-C", `${dir}/tree`],
      stderr: "piped",
    })
      .output();
    if (!tar.success) throw new Error(`tar failed: ${decoder.decode(tar.stderr).trim()}`);
    await Deno.remove(archive);
    await Deno.stat(`${dir}/tree/main.ts`).catch(() => {
      throw new Error(`--baseline ${commit}: its tree has no main.ts`);
    });
  } catch (error) {
    await removeTempDir(dir).catch(() => {});
    throw error;
  }
  let closed: Promise<void> | undefined;
  const close = () => closed ??= removeTempDir(dir).catch(() => {});
  return { commit, hash, dir: `${dir}/tree`, close, [Symbol.asyncDispose]: close };
}
