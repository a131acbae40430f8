/**
 * A released server (the first release, commit {@linkcode RELEASED_COMMIT}, or another release such as
 * {@linkcode RELEASE_3_COMMIT}) as a real server process, to create and fill a database the way users'
 * databases were created and filled, so that the upgrade tests migrate the real thing rather than a
 * hand-written imitation.
 *
 * A release's tree comes from `git archive` of this repository (a clone that lacks the commit, such as a
 * shallow one, cannot run these tests), extracted once per test process into a temp folder. The server runs
 * with the release's own `deno.json` and lock file; its npm packages are the ones this project already has.
 *
 * @module
 */

import { freePort } from "./free_port.ts";
import { ServiceProcess } from "./service_process.ts";
import { makeTempDir } from "./temp_dir.ts";
import { type Reply, TestClient } from "./test_client.ts";

/** The commit of the first release: its databases have no `schema_version`. */
export const RELEASED_COMMIT = "124d736";
/** The commit of release 3.0.0: its databases are at schema version 2 (kept conversations, devices). */
export const RELEASE_3_COMMIT = "d0d2d5b";
/**
 * The commit of main before schema version 4 (the sender's read seq of a one-to-one conversation on the
 * conversation's row): its databases are at version 3 (friend requests, blocks, group roles), with every
 * read seq in `read_seqs`.
 */
export const SCHEMA_3_COMMIT = "a7d729b";

const trees = new Map<string, Promise<string>>();

/**
 * A release's source tree (the first release's by default), extracted on first use (removed when the test
 * process ends).
 */
export function releasedTree(commit: string = RELEASED_COMMIT): Promise<string> {
  let tree = trees.get(commit);
  if (!tree) trees.set(commit, tree = extractRelease(commit));
  return tree;
}

async function extractRelease(commit: string): Promise<string> {
  const dir = await makeTempDir("chat-release-");
  const archive = `${dir}/release.tar`;
  await run("git", ["archive", "--format=tar", "-o", archive, commit]);
  await Deno.mkdir(`${dir}/tree`);
  await run("tar", ["-xf", archive, "-C", `${dir}/tree`]);
  return `${dir}/tree`;
}

async function run(command: string, args: string[]): Promise<void> {
  const output = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!output.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${output.code}): ${new TextDecoder().decode(output.stderr)}`,
    );
  }
}

/** Options for {@linkcode ReleasedServer.start}. */
export interface ReleasedServerOptions {
  /**
   * The release to run ({@linkcode RELEASED_COMMIT}, the default, {@linkcode RELEASE_3_COMMIT} or
   * {@linkcode SCHEMA_3_COMMIT}).
   */
  commit?: string;
}

/** A server of a past release, running as its own process. */
export class ReleasedServer implements AsyncDisposable {
  readonly port: number;
  readonly #process: ServiceProcess;

  private constructor(process: ServiceProcess, port: number) {
    this.#process = process;
    this.port = port;
  }

  /**
   * Starts the release's `main.ts` on a free port with `args` (e.g. `["--db", path]` or `["--mysql", url]`)
   * and resolves once it listens. Its output goes to `logFile`. `options.commit` is the release (default: the
   * first).
   *
   * @example
   * ```ts ignore
   * await using server = await ReleasedServer.start(["--db", "/tmp/x/chat.db"], "/tmp/x/release.log");
   * const data = await fillReleased(server.port);
   * await server.stop();
   * ```
   */
  static async start(
    args: string[],
    logFile: string,
    options: ReleasedServerOptions = {},
  ): Promise<ReleasedServer> {
    const dir = await releasedTree(options.commit);
    const port = freePort();
    const process = await ServiceProcess.spawn(Deno.execPath(), [
      "run",
      "--config",
      `${dir}/deno.json`,
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      `${dir}/main.ts`,
      "--port",
      String(port),
      "--log-level",
      "warn",
      ...args,
    ], logFile);
    const deadline = Date.now() + 30_000;
    while (!(await listening(logFile))) {
      if (!process.running || Date.now() > deadline) {
        await process.stop();
        throw new Error(`the released server did not start listening\n${await process.logTail()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return new ReleasedServer(process, port);
  }

  /** Stops the server with SIGTERM (it drains and exits 0); throws when it exits otherwise. */
  async stop(): Promise<void> {
    await this.#process.stop();
    if (this.#process.exitCode !== 0) {
      throw new Error(
        `the released server exited with ${this.#process.exitCode}\n${await this.#process.logTail()}`,
      );
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#process.stop();
  }
}

async function listening(logFile: string): Promise<boolean> {
  try {
    return /listening on \S+:\d+/.test(await Deno.readTextFile(logFile));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** A user the fill registered. */
export interface ReleasedUser {
  id: number;
  name: string;
  password: string;
}

/** A group the fill created. */
export interface ReleasedGroup {
  id: number;
  name: string;
  desc: string;
  creator: number;
  /** Every member's id (the creator included), ascending. */
  members: number[];
}

/** What {@linkcode fillReleased} put in the database, to compare with what an upgrade finds there. */
export interface ReleasedData {
  alice: ReleasedUser;
  bob: ReleasedUser;
  carol: ReleasedUser;
  dave: ReleasedUser;
  /** [user, friend]: friend is in user's list (one direction, as ADD_FRIEND does). */
  friends: [number, number][];
  groups: ReleasedGroup[];
  /** Recipient → the `msg` of each offline message waiting for them, oldest first. */
  offline: Map<number, string[]>;
}

/**
 * Fills a released server's database over TCP as users would: four users, friends, a group, and offline
 * messages (one-to-one and group) for users who are logged out (carol) or never logged in (dave).
 */
export async function fillReleased(port: number): Promise<ReleasedData> {
  const register = (name: string, password: string) => registerReleased(port, name, password);
  const alice = await register("alice", "alice-pw");
  const bob = await register('Zoë 😀 "bob"', "bob's pw");
  const carol = await register("carol", "carol-pw");
  const dave = await register("dave", "dave-pw");

  await using a = await loginReleased(port, alice);
  await using b = await loginReleased(port, bob);
  await ok(a, { msgid: 7, id: alice.id, friendid: bob.id });
  await ok(a, { msgid: 7, id: alice.id, friendid: carol.id });
  await ok(b, { msgid: 7, id: bob.id, friendid: alice.id });
  const group = await ok(a, { msgid: 8, id: alice.id, groupname: "devs 群", groupdesc: "we write code" });
  const groupId = Number(group.groupid);
  await ok(b, { msgid: 9, id: bob.id, groupid: groupId });
  {
    await using c = await loginReleased(port, carol);
    await ok(c, { msgid: 9, id: carol.id, groupid: groupId });
    await ok(c, { msgid: 3, id: carol.id });
  }

  const offline = new Map<number, string[]>([[carol.id, []], [dave.id, []]]);
  const oneChat = async (from: TestClient, sender: ReleasedUser, to: ReleasedUser, msg: string) => {
    await ok(from, { msgid: 6, id: sender.id, toid: to.id, msg, time: "2026-12-01 10:00:00" });
    offline.get(to.id)!.push(msg);
  };
  await oneChat(a, alice, carol, "hello carol 1");
  await oneChat(a, alice, carol, `你好 "carol" \\ 2`);
  await oneChat(a, alice, dave, "hello dave");
  await ok(a, { msgid: 10, id: alice.id, groupid: groupId, msg: "group hello", time: "2026-12-01 10:01:00" });
  offline.get(carol.id)!.push("group hello");
  await oneChat(b, bob, carol, "from bob");
  await ok(a, { msgid: 3, id: alice.id });
  await ok(b, { msgid: 3, id: bob.id });

  return {
    alice,
    bob,
    carol,
    dave,
    friends: [[alice.id, bob.id], [alice.id, carol.id], [bob.id, alice.id]],
    groups: [{
      id: groupId,
      name: "devs 群",
      desc: "we write code",
      creator: alice.id,
      members: [alice.id, bob.id, carol.id].toSorted((x, y) => x - y),
    }],
    offline,
  };
}

/** Registers a user on a released server (REG, msgid 4). */
export async function registerReleased(port: number, name: string, password: string): Promise<ReleasedUser> {
  await using client = await TestClient.connect(port);
  const ack = await client.request({ msgid: 4, name, password });
  if (ack.errno !== 0) throw new Error(`REG ${name}: ${JSON.stringify(ack)}`);
  return { id: Number(ack.id), name, password };
}

/** A connection logged in as `user` on a released server (LOGIN, msgid 1). */
export async function loginReleased(port: number, user: ReleasedUser): Promise<TestClient> {
  const client = await TestClient.connect(port);
  await ok(client, { msgid: 1, id: user.id, password: user.password });
  return client;
}

/** Sends a v2 request and returns its answer; throws unless errno is 0. */
export async function ok(client: TestClient, frame: Record<string, unknown>): Promise<Reply> {
  const reply = await client.request(frame);
  if (reply.errno !== 0) throw new Error(`${JSON.stringify(frame)} → ${JSON.stringify(reply)}`);
  return reply;
}
