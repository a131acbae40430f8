/**
 * The released server (commit 124d736, before conversations were kept), run as a process from a copy of
 * that commit's tree, so that a test can fill a database the way a real installation would have before
 * upgrading (tests/upgrade_test.ts).
 *
 * @module
 */
import { ServerProcess } from "./chat_node.ts";
import { makeTempDir } from "./temp_dir.ts";

/** The last release before conversations were kept. */
export const RELEASED_COMMIT = "124d736";

const ROOT = new URL("../..", import.meta.url).pathname;

/**
 * Extracts the released tree into a new folder (under `TMPDIR`) and returns it. `git archive` reads the
 * project's own history, so this works in any clone.
 */
export async function extractRelease(): Promise<string> {
  const dir = await makeTempDir("chat-released-");
  const archive = new Deno.Command("git", {
    args: ["-C", ROOT, "archive", "--format=tar", RELEASED_COMMIT],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const untar = new Deno.Command("tar", { args: ["-x", "-C", dir], stdin: "piped", stderr: "piped" }).spawn();
  await archive.stdout.pipeTo(untar.stdin);
  const [packed, unpacked] = await Promise.all([archive.output(), untar.output()]);
  if (!packed.success || !unpacked.success) {
    const errors = new TextDecoder().decode(packed.stderr) + new TextDecoder().decode(unpacked.stderr);
    throw new Error(`could not extract release ${RELEASED_COMMIT}: ${errors}`);
  }
  return dir;
}

/** Starts the released `main.ts` of `release` (from {@linkcode extractRelease}) with `args`. */
export function startReleased(release: string, args: string[], logFile: string): Promise<ServerProcess> {
  return ServerProcess.start(["--port", "0", "--log-level", "warn", ...args], logFile, {}, {
    main: `${release}/main.ts`,
    config: `${release}/deno.json`,
  });
}
