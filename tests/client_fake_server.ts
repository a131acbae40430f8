/**
 * A scripted chat server for the client's unit tests: it records every frame a client sends, answers
 * through a test's handler (with plain defaults for LOGIN, PING and the SYNC list), can push frames of its
 * own and drop every connection. Its defaults answer the friend and group requests of issue 13 with the
 * ACK result fields spec'd for them (PROTOCOL.md "Friends", "Groups"), and {@linkcode friendRequestPush},
 * {@linkcode friendReplyPush} and {@linkcode groupEvent} build the frames the server pushes. The client's
 * behaviour on the wire is tested here without a real server; `client_test.ts` runs it against one.
 */
import { readLines, type Reply } from "./harness/test_client.ts";

const encoder = new TextEncoder();

/** Answers one frame; `undefined` falls back to the defaults, `[]` answers nothing. */
export type Handler = (frame: Reply, server: FakeServer) => Reply[] | undefined;

/** An ACK for `frame` with `extra` result fields (errno 0 unless `extra` says otherwise). */
export function ack(frame: Reply, extra: Record<string, unknown> = {}): Reply {
  return { msgid: 11, ref: frame.msgid, cid: frame.cid, errno: 0, ...extra };
}

/** A successful LOGIN_ACK for `frame` as user 1 "alice", with `extra` fields. */
export function loginAck(frame: Reply, extra: Record<string, unknown> = {}): Reply {
  return {
    msgid: 2,
    cid: frame.cid,
    errno: 0,
    id: frame.id,
    name: "alice",
    offlinemsg: [],
    friends: [],
    groups: [],
    requests: [],
    blocked: [],
    ...extra,
  };
}

/** A refusal of `frame` with `errno` and `errmsg`. */
export function refuse(frame: Reply, errno: number, errmsg: string): Reply {
  return { msgid: 11, ref: frame.msgid, cid: frame.cid, errno, errmsg };
}

/** FRIEND_REQUEST (21) as the target's devices get it. */
export function friendRequestPush(id: number, name: string, note = ""): Reply {
  return { msgid: 21, id, name, note };
}

/** FRIEND_REPLY (22) as the requester's devices get it: `id` answered. */
export function friendReplyPush(id: number, name: string, accept: boolean): Reply {
  return { msgid: 22, id, name, accept };
}

/** The fields of one GROUP_EVENT (29). */
export interface GroupEventFields {
  groupid: number;
  event: "joined" | "left" | "kicked" | "role" | "updated";
  userid: number;
  by: number;
  role?: string;
  groupname?: string;
  groupdesc?: string;
  name?: string;
}

/** GROUP_EVENT (29). */
export function groupEvent(fields: GroupEventFields): Reply {
  return { msgid: 29, ...fields };
}

/**
 * The v2 ADD_GROUP ACK: the group as LOGIN_ACK lists it, named `g<id>`, with user 9 "carol" as its
 * creator and the joiner (as alice) a normal member.
 */
export function addGroupAck(frame: Reply): Reply {
  const groupid = frame.groupid as number;
  return ack(frame, {
    groupid,
    groupname: `g${groupid}`,
    groupdesc: "",
    users: [
      { id: 9, name: "carol", state: "online", role: "creator" },
      { id: frame.id, name: "alice", state: "online", role: "normal" },
    ],
  });
}

/** The result fields of a successful ACK of each request of issue 13, as spec.md lists them. */
function socialAck(frame: Reply): Reply | undefined {
  switch (frame.msgid) {
    case 9:
      return addGroupAck(frame);
    case 21:
      return ack(frame, { friendid: frame.friendid, status: "sent" });
    case 22:
      return ack(frame, { id: frame.id, accept: frame.accept });
    case 23:
      return ack(frame, { friendid: frame.friendid });
    case 24:
      return ack(frame, { userid: frame.userid, on: frame.on });
    case 25:
      return ack(frame, { groupid: frame.groupid });
    case 26:
      return ack(frame, { groupid: frame.groupid, userid: frame.userid });
    case 27:
      return ack(frame, { groupid: frame.groupid, userid: frame.userid, role: frame.role });
    case 28:
      return ack(frame, {
        groupid: frame.groupid,
        groupname: frame.groupname,
        groupdesc: frame.groupdesc ?? "",
      });
  }
  return undefined;
}

function defaults(frame: Reply): Reply[] {
  const social = socialAck(frame);
  if (social) return [social];
  switch (frame.msgid) {
    case 1:
      return [loginAck(frame)];
    case 13:
      return [{ msgid: 14, cid: frame.cid, ts: Date.now() }];
    case 16:
      return frame.conv === undefined
        ? [ack(frame, { convs: [] })]
        : [ack(frame, { messages: [], more: false })];
    default:
      return [ack(frame)];
  }
}

export class FakeServer implements AsyncDisposable {
  /** Every frame received except PINGs, in order. */
  readonly frames: Reply[] = [];
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  readonly #conns = new Set<Deno.Conn>();
  readonly #handlers: Promise<void>[] = [];
  readonly #serving: Promise<void>;
  #handler: Handler;
  #waiters: { match: (frame: Reply) => boolean; resolve: (frame: Reply) => void }[] = [];

  constructor(handler: Handler = () => undefined) {
    this.#handler = handler;
    this.#serving = this.#serve();
  }

  get port(): number {
    return this.#listener.addr.port;
  }

  /** Replaces the handler (a test's next phase). */
  set handler(handler: Handler) {
    this.#handler = handler;
  }

  /** The frames received with this msgid. */
  of(msgid: number): Reply[] {
    return this.frames.filter((frame) => frame.msgid === msgid);
  }

  /** Resolves with the next frame (received from now on) that matches. */
  next(match: (frame: Reply) => boolean): Promise<Reply> {
    const { promise, resolve } = Promise.withResolvers<Reply>();
    this.#waiters.push({ match, resolve });
    return promise;
  }

  /** Sends `frames` to every connected client. */
  async push(...frames: Reply[]): Promise<void> {
    const bytes = encoder.encode(frames.map((frame) => JSON.stringify(frame) + "\n").join(""));
    for (const conn of this.#conns) await conn.write(bytes);
  }

  /** Closes every connection (the client sees a lost connection); new ones are still accepted. */
  drop(): void {
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    this.#conns.clear();
  }

  async #serve(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#conns.add(conn);
        this.#handlers.push(readLines(conn, (line) => this.#accept(conn, JSON.parse(line))));
      }
    } catch {
      // Listener closed.
    }
  }

  #accept(conn: Deno.Conn, frame: Reply): void {
    if (frame.msgid !== 13) {
      this.frames.push(frame);
      const index = this.#waiters.findIndex((waiter) => waiter.match(frame));
      if (index >= 0) this.#waiters.splice(index, 1)[0].resolve(frame);
    }
    const replies = this.#handler(frame, this) ?? defaults(frame);
    if (replies.length === 0 || !this.#conns.has(conn)) return;
    conn.write(encoder.encode(replies.map((reply) => JSON.stringify(reply) + "\n").join(""))).catch(() => {});
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#listener.close();
    this.drop();
    await this.#serving;
    await Promise.all(this.#handlers);
  }
}
