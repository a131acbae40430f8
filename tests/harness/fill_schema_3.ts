/**
 * Fills a database with the server of schema version 3 (`SCHEMA_3_COMMIT` of `released_server.ts`), whose
 * every read seq is a `read_seqs` row (sending moved the sender's), as its users would have: one-to-one
 * conversations written both ways, READs below, at and above what the reader sent, a conversation its reader
 * never opened, and a group with messages and READs. Before stopping, each user's conversation list (SYNC
 * without `conv`) is taken from that server: after the migration to version 4 the list must be the same.
 *
 * @module
 */

import {
  loginReleased,
  ok,
  registerReleased,
  type ReleasedServer,
  type ReleasedUser,
} from "./released_server.ts";
import type { TestClient } from "./test_client.ts";

/** What {@linkcode fillSchema3} put in the database. */
export interface Schema3Data {
  ann: ReleasedUser;
  ben: ReleasedUser;
  cat: ReleasedUser;
  /** Created by ann; ben and cat joined. */
  groupId: number;
  /** User id → their conversation list as the old server answered SYNC, ordered by conv. */
  lists: Map<number, Record<string, unknown>[]>;
}

/**
 * Fills the database of `server` (started with `{ commit: SCHEMA_3_COMMIT }`) over TCP.
 *
 * @example
 * ```ts ignore
 * await using server = await ReleasedServer.start(["--db", path], log, { commit: SCHEMA_3_COMMIT });
 * const data = await fillSchema3(server);
 * await server.stop();
 * ```
 */
export async function fillSchema3(server: ReleasedServer): Promise<Schema3Data> {
  const { port } = server;
  const ann = await registerReleased(port, "ann", "ann-pw");
  const ben = await registerReleased(port, "ben", "ben-pw");
  const cat = await registerReleased(port, "cat", "cat-pw");
  await using a = await loginReleased(port, ann);
  await using b = await loginReleased(port, ben);
  await using c = await loginReleased(port, cat);
  const clients = new Map([[ann.id, a], [ben.id, b], [cat.id, c]]);
  const send = (from: TestClient, toid: number, msg: string) => ok(from, { msgid: 6, toid, msg });
  const read = (client: TestClient, conv: unknown, seq: number) => ok(client, { msgid: 18, conv, seq });

  // ann and ben: ann sent 1, 2 and 4, ben 3 and 5; ben read up to 2 (below his own 3), ann up to 3 (below her
  // own 4, so it changed nothing).
  const ab = (await send(a, ben.id, "1")).conv;
  await send(a, ben.id, "2");
  await send(b, ann.id, "3");
  await send(a, ben.id, "4");
  await send(b, ann.id, "5");
  await read(b, ab, 2);
  await read(a, ab, 3);
  // cat wrote ann twice; ann never opened it. ben wrote cat once, and cat read it.
  await send(c, ann.id, "to ann 1");
  await send(c, ann.id, "to ann 2");
  const bc = (await send(b, cat.id, "to cat")).conv;
  await read(c, bc, 1);

  const groupId = Number((await ok(a, { msgid: 8, groupname: "gamma", groupdesc: "" })).groupid);
  await ok(b, { msgid: 9, groupid: groupId });
  await ok(c, { msgid: 9, groupid: groupId });
  const gamma = (await ok(a, { msgid: 10, groupid: groupId, msg: "g1" })).conv;
  await ok(b, { msgid: 10, groupid: groupId, msg: "g2" });
  await ok(a, { msgid: 10, groupid: groupId, msg: "g3" });
  await read(c, gamma, 2);

  const lists = new Map<number, Record<string, unknown>[]>();
  for (const [id, client] of clients) {
    lists.set(id, (await ok(client, { msgid: 16 })).convs as Record<string, unknown>[]);
  }
  for (const [id, client] of clients) await ok(client, { msgid: 3, id });
  return { ann, ben, cat, groupId, lists };
}
