/**
 * A {@linkcode Store} made of its table groups. Each database implements the groups in modules of its own
 * (`mysql_users.ts`, `sqlite_users.ts`, ...); this class is the one place that routes each `Store` method to
 * its group, so the two stores differ only in how they open, migrate, ping and close.
 *
 * @module
 */

import type {
  AppendResult,
  ConversationSummary,
  CursorUpdate,
  DeviceCursor,
  DeviceMethods,
  DeviceToken,
  FriendMethods,
  FriendRequestOutcome,
  FriendRequestRecord,
  GroupAccess,
  GroupChange,
  GroupLeave,
  GroupMethods,
  GroupRecord,
  GroupRole,
  MessageMethods,
  NewMessage,
  OfflineMessage,
  OfflineMethods,
  Store,
  StoredMessage,
  UserMethods,
  UserRecord,
  UserSummary,
} from "./store.ts";

/** The table groups a {@linkcode ComposedStore} routes to. */
export interface StoreTables {
  users: UserMethods;
  friends: FriendMethods;
  groups: GroupMethods;
  messages: MessageMethods;
  devices: DeviceMethods;
  offline: OfflineMethods;
}

/**
 * The table methods of {@linkcode Store}, each handed to its group; a subclass adds the database's own
 * `migrate`, `ping` and `close`.
 *
 * @example
 * ```ts
 * class NullStore extends ComposedStore {
 *   constructor(tables: StoreTables) {
 *     super(tables);
 *   }
 *   migrate(): Promise<void> {
 *     return Promise.resolve();
 *   }
 *   ping(): Promise<void> {
 *     return Promise.resolve();
 *   }
 *   close(): Promise<void> {
 *     return Promise.resolve();
 *   }
 * }
 * ```
 */
export abstract class ComposedStore implements Store {
  readonly #tables: StoreTables;

  /** Routes the table methods to `tables`. */
  protected constructor(tables: StoreTables) {
    this.#tables = tables;
  }

  /** Brings the schema to the current version (versioned migrations); never drops data. */
  abstract migrate(): Promise<void>;

  /** Cheap round trip; rejects with StoreUnavailableError when the database cannot be used. */
  abstract ping(): Promise<void>;

  /** Closes the database; idempotent. */
  abstract close(): Promise<void>;

  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Creates a user; rejects with {@linkcode NameTakenError} when `name` exists. */
  createUser(name: string, passwordHash: string): Promise<number> {
    return this.#tables.users.createUser(name, passwordHash);
  }

  /** The user with this id, or `null`. */
  findUser(id: number): Promise<UserRecord | null> {
    return this.#tables.users.findUser(id);
  }

  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>> {
    return this.#tables.users.existingUsers(ids);
  }

  /** Sets the display copy of a user's presence; a missing user is ignored. */
  setUserState(id: number, online: boolean): Promise<void> {
    return this.#tables.users.setUserState(id, online);
  }

  /** Marks `ids` offline, or every user when `ids` is omitted; an empty array changes nothing. */
  setUsersOffline(ids?: number[]): Promise<void> {
    return this.#tables.users.setUsersOffline(ids);
  }

  /** Adds `friendId` to `userId`'s list; adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void> {
    return this.#tables.friends.addFriend(userId, friendId);
  }

  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]> {
    return this.#tables.friends.listFriends(userId);
  }

  /** Ids of the users who have `userId` in their friend list, ordered by id. */
  listFollowers(userId: number): Promise<number[]> {
    return this.#tables.friends.listFollowers(userId);
  }

  /** FRIEND_REQUEST from `fromId` to `toId`, decided in one transaction. */
  requestFriend(fromId: number, toId: number, note: string): Promise<FriendRequestOutcome> {
    return this.#tables.friends.requestFriend(fromId, toId, note);
  }

  /** Answers the pending request from `requesterId`; `false` when there is none. */
  answerFriendRequest(userId: number, requesterId: number, accept: boolean): Promise<boolean> {
    return this.#tables.friends.answerFriendRequest(userId, requesterId, accept);
  }

  /** The requests waiting for `userId`'s answer, oldest first. */
  listFriendRequests(userId: number): Promise<FriendRequestRecord[]> {
    return this.#tables.friends.listFriendRequests(userId);
  }

  /** Removes the friendship in both directions (a no-op when there is none). */
  removeFriend(userId: number, friendId: number): Promise<void> {
    return this.#tables.friends.removeFriend(userId, friendId);
  }

  /** Turns `blockerId`'s block of `blockedId` on (ending friendship and requests) or off; idempotent. */
  setBlock(blockerId: number, blockedId: number, on: boolean): Promise<void> {
    return this.#tables.friends.setBlock(blockerId, blockedId, on);
  }

  /** Whether `blockerId` blocks `blockedId`. */
  isBlocked(blockerId: number, blockedId: number): Promise<boolean> {
    return this.#tables.friends.isBlocked(blockerId, blockedId);
  }

  /** The users `userId` blocks and those who block `userId`, each ordered by id. */
  listBlocks(userId: number): Promise<{ blocking: number[]; blockedBy: number[] }> {
    return this.#tables.friends.listBlocks(userId);
  }

  /** Creates a group and its creator membership atomically; rejects with {@linkcode NameTakenError}. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number> {
    return this.#tables.groups.createGroup(creatorId, name, desc);
  }

  /** Whether the group exists. */
  groupExists(groupId: number): Promise<boolean> {
    return this.#tables.groups.groupExists(groupId);
  }

  /** The group with all its members ordered by id, or `null`. */
  findGroup(groupId: number): Promise<GroupRecord | null> {
    return this.#tables.groups.findGroup(groupId);
  }

  /** Adds a member (`normal`, or `creator` of a group without members); `null` when already a member. */
  addGroupMember(groupId: number, userId: number): Promise<GroupRole | null> {
    return this.#tables.groups.addGroupMember(groupId, userId);
  }

  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]> {
    return this.#tables.groups.listGroupMemberIds(groupId);
  }

  /** Every group `userId` belongs to with all its members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]> {
    return this.#tables.groups.listUserGroups(userId);
  }

  /** Removes a member, recording where they may still read up to; a non-member is a no-op. */
  removeGroupMember(groupId: number, userId: number): Promise<void> {
    return this.#tables.groups.removeGroupMember(groupId, userId);
  }

  /** Whether `userId` is, was, or never was (`null`) a member of the group. */
  groupAccess(groupId: number, userId: number): Promise<GroupAccess> {
    return this.#tables.groups.groupAccess(groupId, userId);
  }

  /** LEAVE_GROUP: removes the member; a leaving creator hands the role on (`heir`). */
  leaveGroup(groupId: number, userId: number): Promise<GroupLeave> {
    return this.#tables.groups.leaveGroup(groupId, userId);
  }

  /** KICK: the creator or an admin removes a member, as the roles allow. */
  kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange> {
    return this.#tables.groups.kickMember(groupId, actorId, targetId);
  }

  /** SET_ROLE: the creator makes a member `admin` or `normal`. */
  setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange> {
    return this.#tables.groups.setMemberRole(groupId, actorId, targetId, role);
  }

  /** UPDATE_GROUP: the creator or an admin changes the name and/or description; NameTakenError when taken. */
  updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange> {
    return this.#tables.groups.updateGroup(groupId, actorId, fields);
  }

  /**
   * Stores chat messages in one transaction, each with the next seq of its conversation; all or none. A
   * message to a user who blocks the sender is reported blocked, not stored.
   */
  appendMessages(messages: NewMessage[]): Promise<AppendResult[]> {
    return this.#tables.messages.appendMessages(messages);
  }

  /** The conversation's last seq (0 when it has no messages). */
  lastSeq(conv: string): Promise<number> {
    return this.#tables.messages.lastSeq(conv);
  }

  /** Up to `limit` messages with `after` < seq ≤ `upTo`, ascending. */
  messagesAfter(conv: string, after: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    return this.#tables.messages.messagesAfter(conv, after, limit, upTo);
  }

  /** The newest `limit` messages with seq < `before` and seq ≤ `upTo`, ascending. */
  messagesBefore(conv: string, before: number, limit: number, upTo?: number): Promise<StoredMessage[]> {
    return this.#tables.messages.messagesBefore(conv, before, limit, upTo);
  }

  /** Every conversation of the user that has messages, ordered by conv. */
  listConversations(userId: number): Promise<ConversationSummary[]> {
    return this.#tables.messages.listConversations(userId);
  }

  /** Moves the user's read seq of `conv` to max(old, seq) and returns the result. */
  markRead(userId: number, conv: string, seq: number): Promise<number> {
    return this.#tables.messages.markRead(userId, conv, seq);
  }

  /** Deletes messages stored before `ts`; returns how many. */
  deleteMessagesBefore(ts: number): Promise<number> {
    return this.#tables.messages.deleteMessagesBefore(ts);
  }

  /** Records a device of the user; `true` when it is new. */
  registerDevice(userId: number, device: string): Promise<boolean> {
    return this.#tables.devices.registerDevice(userId, device);
  }

  /** The device's cursor and the last seq of every conversation of the user. */
  deviceCursors(userId: number, device: string): Promise<Map<string, DeviceCursor>> {
    return this.#tables.devices.deviceCursors(userId, device);
  }

  /** The oldest `limit` messages past `cursors` sent by others than `userId`, in stored order. */
  messagesPast(userId: number, cursors: Map<string, number>, limit: number): Promise<StoredMessage[]> {
    return this.#tables.devices.messagesPast(userId, cursors, limit);
  }

  /** Saves cursors in one transaction; each only moves forward. */
  saveCursors(updates: CursorUpdate[]): Promise<void> {
    return this.#tables.devices.saveCursors(updates);
  }

  /** Stores the device's token hash, keeping at most `maxTokens` per user (newest). */
  setDeviceToken(userId: number, device: string, token: DeviceToken, maxTokens: number): Promise<void> {
    return this.#tables.devices.setDeviceToken(userId, device, token, maxTokens);
  }

  /** The device's token, or `null`. */
  findDeviceToken(userId: number, device: string): Promise<DeviceToken | null> {
    return this.#tables.devices.findDeviceToken(userId, device);
  }

  /** Revokes the device's token. */
  revokeDeviceToken(userId: number, device: string): Promise<void> {
    return this.#tables.devices.revokeDeviceToken(userId, device);
  }

  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]> {
    return this.#tables.offline.readOffline(userId, limit);
  }

  /** Deletes exactly these offline message ids of this user; ids of other users are left alone. */
  deleteOffline(userId: number, ids: number[]): Promise<void> {
    return this.#tables.offline.deleteOffline(userId, ids);
  }
}
