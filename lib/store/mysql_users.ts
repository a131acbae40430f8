/**
 * Users and their presence in MySQL: the `user` table's part of `Store`.
 *
 * @module
 */

import { safeId, uniqueIds } from "./argument_checks.ts";
import {
  chunks,
  MAX_ID_BATCH,
  type MysqlConnections,
  placeholders,
  uniqueName,
} from "./mysql_connections.ts";
import { userRecord } from "./row_records.ts";
import type { UserMethods, UserRecord } from "./store.ts";

/**
 * The `user` table over pooled MySQL connections.
 *
 * @example
 * ```ts
 * import type { MysqlConnections } from "./mysql_connections.ts";
 *
 * declare const connections: MysqlConnections;
 * const users = new MysqlUsers(connections);
 * const id = await users.createUser("alice", "scrypt$...");
 * ```
 */
export class MysqlUsers implements UserMethods {
  readonly #connections: MysqlConnections;

  /** Statements run on `connections`, which stay the caller's to close. */
  constructor(connections: MysqlConnections) {
    this.#connections = connections;
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists (names compare exactly). */
  async createUser(name: string, passwordHash: string): Promise<number> {
    return await this.#connections.use(async (db) => {
      const result = await uniqueName(
        () => db.write("INSERT INTO user (name, password) VALUES (?, ?)", [name, passwordHash]),
        { kind: "user", name },
      );
      return result.insertId;
    });
  }

  /** The user with this id, or `null`. */
  async findUser(id: number): Promise<UserRecord | null> {
    const userId = safeId(id, "user id");
    return await this.#connections.use(async (db) => {
      const [row] = await db.read("SELECT id, name, password FROM user WHERE id = ?", [userId]);
      return row ? userRecord(row) : null;
    });
  }

  /** Which of `ids` exist. */
  async existingUsers(ids: number[]): Promise<Set<number>> {
    const wanted = uniqueIds(ids, "user id");
    return await this.#connections.use(async (db) => {
      const found = new Set<number>();
      for (const batch of chunks(wanted, MAX_ID_BATCH)) {
        const rows = await db.read(`SELECT id FROM user WHERE id IN ${placeholders(batch.length)}`, batch);
        for (const row of rows) found.add(Number(row.id));
      }
      return found;
    });
  }

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  async setUserState(id: number, online: boolean): Promise<void> {
    const userId = safeId(id, "user id");
    return await this.#connections.use(async (db) => {
      await db.write("UPDATE user SET state = ? WHERE id = ?", [online ? "online" : "offline", userId]);
    });
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  async setUsersOffline(ids?: number[]): Promise<void> {
    const users = ids === undefined ? undefined : uniqueIds(ids, "user id");
    return await this.#connections.use(async (db) => {
      if (users === undefined) {
        await db.write("UPDATE user SET state = 'offline' WHERE state <> 'offline'", []);
        return;
      }
      for (const batch of chunks(users, MAX_ID_BATCH)) {
        await db.write(
          `UPDATE user SET state = 'offline' WHERE state <> 'offline' AND id IN ${
            placeholders(batch.length)
          }`,
          batch,
        );
      }
    });
  }
}
