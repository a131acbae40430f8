/**
 * Users for the benchmarks: registered over the protocol (any server), or seeded straight into the embedded
 * store of a node the bench started (thousands per second instead of ~55 per second, which is what scrypt at
 * the server's cost allows on two cores), then logged in over many connections at once.
 *
 * @module
 */

import { hashPassword } from "../../lib/service/password.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";
import type { Endpoint } from "./args.ts";
import { forEachLimited } from "./for_each_limited.ts";
import { LoadClient } from "./load_client.ts";

export { forEachLimited };

/** A user the bench can log in as. */
export interface BenchUser {
  id: number;
  name: string;
  password: string;
}

/**
 * A cheap scrypt cost for seeded users whose login cost is not what a scenario measures (about 1.5 ms per
 * hash instead of 40 ms). The server reads the cost from the stored hash, so it verifies these as cheaply.
 */
export const CHEAP_COST = { N: 1024, r: 8, p: 1 };

const PASSWORD = "bench-pw";

/** A short random tag so that names never collide with an earlier run on the same server. */
export function runTag(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 8);
}

/** Options for {@linkcode registerUsers}. */
export interface RegisterOptions {
  v1?: boolean;
  /** Registrations in flight, each on its own connection (default 8: the server hashes on two cores). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Registers `count` users over the protocol (REG), `concurrency` connections at a time. */
export async function registerUsers(
  endpoint: Endpoint,
  count: number,
  options: RegisterOptions = {},
): Promise<BenchUser[]> {
  const tag = runTag();
  const users: BenchUser[] = new Array(count);
  const concurrency = Math.min(options.concurrency ?? 8, count);
  let done = 0;
  const perLane = Math.ceil(count / concurrency);
  await forEachLimited(concurrency, concurrency, async (lane) => {
    const client = await LoadClient.connect(endpoint, { v1: options.v1 });
    try {
      for (let i = lane * perLane; i < Math.min(count, (lane + 1) * perLane); i++) {
        const name = `b${tag}_${i}`;
        const reply = await client.request(
          { msgid: 4, name, password: PASSWORD },
          (r) => r.msgid === 5,
          60_000,
        );
        if (reply.errno !== 0) throw new Error(`REG ${name} failed: ${JSON.stringify(reply)}`);
        users[i] = { id: reply.id as number, name, password: PASSWORD };
        options.onProgress?.(++done, count);
      }
    } finally {
      client.close();
    }
  });
  return users;
}

/** Options for {@linkcode seedUsers}. */
export interface SeedOptions {
  /** Hash cost of every seeded user (one hash is computed and shared: the verify cost is the same). */
  cost: "real" | "cheap";
  /**
   * A source tree (`--baseline`) whose own store and password hashing write the users, so that the rows are
   * what its REG writes and its migrations are the ones run; absent: this checkout's.
   */
  tree?: string;
  onProgress?: (done: number, total: number) => void;
}

/** What seeding needs of a store. */
interface SeedStore {
  migrate(): Promise<void>;
  createUser(name: string, passwordHash: string): Promise<number>;
  close(): Promise<void>;
}

/** The store and the hashing of this checkout, or of `tree` (imported from its files). */
async function seedTools(tree: string | undefined): Promise<{
  open: (path: string) => SeedStore;
  hash: (password: string, cost?: typeof CHEAP_COST) => Promise<string>;
}> {
  if (tree === undefined) return { open: (path) => SqliteStore.open(path), hash: hashPassword };
  const store = await import(new URL(`file://${tree}/lib/store/sqlite_store.ts`).href);
  const password = await import(new URL(`file://${tree}/lib/service/password.ts`).href);
  return { open: (path) => store.SqliteStore.open(path), hash: password.hashPassword };
}

/**
 * Inserts `count` users into the SQLite file of a node the bench started (WAL lets the running server see
 * them at once), through the store's own `createUser`, so the rows are exactly what REG would write.
 */
export async function seedUsers(dbPath: string, count: number, options: SeedOptions): Promise<BenchUser[]> {
  const tools = await seedTools(options.tree);
  const hash = options.cost === "real" ? await tools.hash(PASSWORD) : await tools.hash(PASSWORD, CHEAP_COST);
  const tag = runTag();
  const users: BenchUser[] = [];
  const store = tools.open(dbPath);
  try {
    await store.migrate();
    for (let i = 0; i < count; i++) {
      const name = `b${tag}_${i}`;
      users.push({ id: await store.createUser(name, hash), name, password: PASSWORD });
      if (i % 500 === 499) options.onProgress?.(i + 1, count);
    }
  } finally {
    await store.close();
  }
  options.onProgress?.(count, count);
  return users;
}

/** Options for {@linkcode loginUsers}. */
export interface LoginOptions {
  v1?: boolean;
  /** Logins in flight (default 32). */
  concurrency?: number;
  /** Read buffer per connection (default 16 KiB; small for the idle scenario). */
  bufferBytes?: number;
  /** The LOGIN `device` (v2; absent: the plain login, device "default"). */
  device?: string;
  /** Log in strictly one after another (so that nginx's least_conn alternates between nodes). */
  sequential?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** Opens a connection and logs `user` in; rejects when the login fails. */
export async function loginUser(
  endpoint: Endpoint,
  user: BenchUser,
  options: LoginOptions = {},
): Promise<LoadClient> {
  const client = await LoadClient.connect(endpoint, { v1: options.v1, bufferBytes: options.bufferBytes });
  try {
    const ack = await client.request(
      {
        msgid: 1,
        id: user.id,
        password: user.password,
        ...(options.device ? { device: options.device } : {}),
      },
      (r) => r.msgid === 2,
      120_000,
    );
    if (ack.errno !== 0) throw new Error(`LOGIN ${user.id} failed: ${JSON.stringify(ack)}`);
    return client;
  } catch (error) {
    client.close();
    throw error;
  }
}

/** Logs every user in over its own connection; `endpointOf(i)` says where user i connects. */
export async function loginUsers(
  users: BenchUser[],
  endpointOf: (index: number) => Endpoint,
  options: LoginOptions = {},
): Promise<LoadClient[]> {
  const clients: LoadClient[] = new Array(users.length);
  let done = 0;
  try {
    await forEachLimited(users.length, options.sequential ? 1 : options.concurrency ?? 32, async (i) => {
      clients[i] = await loginUser(endpointOf(i), users[i], options);
      done++;
      if (done % 100 === 0 || done === users.length) options.onProgress?.(done, users.length);
    });
  } catch (error) {
    for (const client of clients) client?.close();
    throw error;
  }
  return clients;
}
