/**
 * How a user's friends and fellow group members are shown to them (LOGIN_ACK lists, ADD_GROUP's ACK):
 * online only while a device of theirs is live, and always offline across a block, either way
 * (PROTOCOL.md "Friends and blocking": neither sees the other's presence).
 *
 * @module
 */
import type { LoginGroup, PresenceEntry } from "../protocol/encode.ts";
import type { GroupRecord, UserSummary } from "../store/store.ts";
import type { ServiceContext } from "./context.ts";

/** Who is shown online: the live users, less those with a block between them and the viewer. */
export class PresenceView {
  readonly #online: Set<number>;
  readonly #hidden: Set<number>;

  /** `online`: users with a live device; `hidden`: users with a block between them and the viewer. */
  constructor(online: Set<number>, hidden: Iterable<number> = []) {
    this.#online = online;
    this.#hidden = new Set(hidden);
  }

  /**
   * The view of `viewerId` over `ids`: who of them is live (the bus) and whom a block hides. The bus
   * failing rejects (a login refuses with errno 11; other callers decide).
   */
  static async of(context: ServiceContext, viewerId: number, ids: number[]): Promise<PresenceView> {
    const [online, blocks] = await Promise.all([
      context.bus.onlineUsers(ids),
      context.store.listBlocks(viewerId),
    ]);
    return new PresenceView(online, [...blocks.blocking, ...blocks.blockedBy]);
  }

  state(id: number): "online" | "offline" {
    return this.#online.has(id) && !this.#hidden.has(id) ? "online" : "offline";
  }

  /**
   * @example
   * ```ts
   * new PresenceView(new Set([1, 2]), [2]).users([{ id: 1, name: "a" }, { id: 2, name: "b" }]);
   * // [{ id: 1, name: "a", state: "online" }, { id: 2, name: "b", state: "offline" }]
   * ```
   */
  users(users: UserSummary[]): PresenceEntry[] {
    return users.map((user) => ({ id: user.id, name: user.name, state: this.state(user.id) }));
  }

  /** A group as LOGIN_ACK lists it (and ADD_GROUP's v2 ACK carries it, as `groupid`). */
  group(group: GroupRecord): LoginGroup {
    return {
      id: group.id,
      groupname: group.name,
      groupdesc: group.desc,
      users: group.members.map((member) => ({
        id: member.id,
        name: member.name,
        state: this.state(member.id),
        role: member.role,
      })),
    };
  }
}
