/**
 * Fills a database with release 3.0.0's server (`RELEASE_3_COMMIT` of `released_server.ts`, schema version
 * 2) as its users would have: one-way and two-way friends, groups whose creators are not the lowest ids and whose members
 * joined in an order other than their ids, a member who joined after the group's first message, and kept
 * messages. The migration to schema version 3 (friend requests, blocks, group roles) must keep all of it.
 *
 * @module
 */

import {
  loginReleased,
  ok,
  registerReleased,
  type ReleasedGroup,
  type ReleasedServer,
  type ReleasedUser,
} from "./released_server.ts";

/** What {@linkcode fillRelease3} put in the database. */
export interface Release3Data {
  ann: ReleasedUser;
  ben: ReleasedUser;
  cat: ReleasedUser;
  dan: ReleasedUser;
  eve: ReleasedUser;
  /** [user, friend]: friend is in user's list (ADD_FRIEND adds one direction). */
  friends: [number, number][];
  /** Created by cat; eve, then ann joined; cat wrote "alpha 1"; then ben joined (at seq 1). */
  alpha: ReleasedGroup;
  /** The member of alpha who joined after its first message. */
  lateJoiner: number;
  /** Created by dan; ann joined. */
  beta: ReleasedGroup;
  /** The `msg` of the one-to-one messages ann sent ben, in order. */
  annToBen: string[];
}

/**
 * Fills the database of `server` (release 3.0.0, started with `{ commit: RELEASE_3_COMMIT }`) over TCP.
 *
 * @example
 * ```ts ignore
 * await using server = await ReleasedServer.start(["--db", path], log, { commit: RELEASE_3_COMMIT });
 * const data = await fillRelease3(server);
 * await server.stop();
 * ```
 */
export async function fillRelease3(server: ReleasedServer): Promise<Release3Data> {
  const { port } = server;
  const ann = await registerReleased(port, "ann", "ann-pw");
  const ben = await registerReleased(port, "ben", "ben-pw");
  const cat = await registerReleased(port, "cat", "cat-pw");
  const dan = await registerReleased(port, "dan", "dan-pw");
  const eve = await registerReleased(port, "eve", "eve-pw");

  await using a = await loginReleased(port, ann);
  await using b = await loginReleased(port, ben);
  await using c = await loginReleased(port, cat);
  await using d = await loginReleased(port, dan);
  await using e = await loginReleased(port, eve);
  const friends: [number, number][] = [[ann.id, ben.id], [ben.id, ann.id], [ann.id, cat.id], [
    dan.id,
    ann.id,
  ]];
  const clients = new Map([[ann.id, a], [ben.id, b], [cat.id, c], [dan.id, d], [eve.id, e]]);
  for (const [user, friend] of friends) {
    await ok(clients.get(user)!, { msgid: 7, id: user, friendid: friend });
  }

  const alpha = Number(
    (await ok(c, { msgid: 8, id: cat.id, groupname: "alpha", groupdesc: "first" })).groupid,
  );
  await ok(e, { msgid: 9, id: eve.id, groupid: alpha });
  await ok(a, { msgid: 9, id: ann.id, groupid: alpha });
  await ok(c, { msgid: 10, id: cat.id, groupid: alpha, msg: "alpha 1" });
  await ok(b, { msgid: 9, id: ben.id, groupid: alpha });
  const beta = Number((await ok(d, { msgid: 8, id: dan.id, groupname: "beta 群", groupdesc: "" })).groupid);
  await ok(a, { msgid: 9, id: ann.id, groupid: beta });

  const annToBen = ["hello ben", `"quoted" \\ 😀`];
  for (const msg of annToBen) await ok(a, { msgid: 6, id: ann.id, toid: ben.id, msg });
  for (const [id, client] of clients) await ok(client, { msgid: 3, id });

  const sorted = (ids: number[]) => ids.toSorted((x, y) => x - y);
  return {
    ann,
    ben,
    cat,
    dan,
    eve,
    friends,
    alpha: {
      id: alpha,
      name: "alpha",
      desc: "first",
      creator: cat.id,
      members: sorted([cat.id, eve.id, ann.id, ben.id]),
    },
    lateJoiner: ben.id,
    beta: { id: beta, name: "beta 群", desc: "", creator: dan.id, members: sorted([dan.id, ann.id]) },
    annToBen,
  };
}
