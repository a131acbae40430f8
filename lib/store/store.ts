/**
 * The storage seam: one interface grouped by entity, implemented once per database
 * (embedded SQLite in `sqlite_store.ts`, MySQL/MariaDB in `mysql_store.ts`).
 * Every implementation passes the shared suite in `tests/store_suite.ts`.
 *
 * Errors: a name that is already taken throws {@linkcode NameTakenError}; a database that cannot be
 * reached throws {@linkcode StoreUnavailableError}. Nothing here knows the wire protocol.
 */

/** A user row as the service needs it for login. */
export interface UserRecord {
  id: number;
  name: string;
  /** The encoded password hash (see `lib/service/password.ts`); never a clear password. */
  passwordHash: string;
}

/** A user as listed to others (friends, group members). */
export interface UserSummary {
  id: number;
  name: string;
}

/** A member's role in a group (PROTOCOL.md "Groups"). */
export type GroupRole = "creator" | "admin" | "normal";

/** A group member with their role. */
export interface GroupMember extends UserSummary {
  role: GroupRole;
}

/** A group with its members, as LOGIN_ACK lists it. */
export interface GroupRecord {
  id: number;
  name: string;
  desc: string;
  members: GroupMember[];
}

/** A stored offline message: the exact frame text that will be handed to the recipient. */
export interface OfflineMessage {
  id: number;
  frame: string;
}

/**
 * A chat message to store in its conversation (`lib/conversation_name.ts`). The store assigns `seq` inside
 * the storing transaction, so `frame` is built once the seq is known.
 */
export interface NewMessage {
  conv: string;
  senderId: number;
  /** The client's message id (1–64 printable ASCII) for idempotent sends, or undefined. */
  cmid?: string;
  /** The server's message id. */
  mid: string;
  /** The server's receive time, ms since the epoch (retention goes by it). */
  ts: number;
  /** The frame text to keep and hand out, carrying `seq`. */
  frame(seq: number): string;
}

/** A message as kept in its conversation. */
export interface StoredMessage {
  conv: string;
  seq: number;
  senderId: number;
  mid: string;
  ts: number;
  /** The exact frame text. */
  frame: string;
}

/** The outcome of storing one {@linkcode NewMessage}. */
export interface AppendedMessage extends StoredMessage {
  /** True when (senderId, cmid) was stored before: this is the first message, nothing new was stored. */
  dup: boolean;
}

/**
 * A message that was not stored because the other user of its one-to-one conversation blocks the sender
 * (PROTOCOL.md msgid 24): errno 16.
 */
export interface BlockedMessage {
  blocked: true;
  conv: string;
}

/** What {@linkcode Store.appendMessages} did with one message. */
export type AppendResult = AppendedMessage | BlockedMessage;

/** A pending friend request, as the target's v2 LOGIN_ACK lists it (`requests`). */
export interface FriendRequestRecord {
  /** The requester. */
  id: number;
  name: string;
  note: string;
}

/**
 * What {@linkcode Store.requestFriend} did, decided in one transaction:
 * - `sent`: a new pending request was stored (push FRIEND_REQUEST to the target);
 * - `pending`: the user's request to the target was already pending: nothing changed;
 * - `friends`: the two are already friends both ways: nothing changed;
 * - `accepted`: the target had asked the user: the two are now friends both ways and that request is gone;
 * - `blocked`: the target blocks the user (errno 16): nothing changed;
 * - `blocking`: the user blocks the target (errno 4, unblock first): nothing changed.
 */
export type FriendRequestOutcome = "sent" | "pending" | "friends" | "accepted" | "blocked" | "blocking";

/**
 * Why a group change was refused (PROTOCOL.md "Groups"):
 * - `no_group`: the group does not exist (errno 7);
 * - `not_member`: the acting user is not a member (errno 8);
 * - `no_target`: the user acted on is not a member (errno 8);
 * - `not_permitted`: the acting user's role does not allow it (errno 15).
 */
export type GroupRefusal = "no_group" | "not_member" | "no_target" | "not_permitted";

/** The outcome of a group change: made (`changed` false when it was a no-op), or refused. */
export type GroupChange = { ok: true; changed: boolean } | { ok: false; reason: GroupRefusal };

/** The outcome of {@linkcode Store.leaveGroup}: `heir` is the new creator when the creator left others behind. */
export type GroupLeave =
  | { ok: true; heir?: number }
  | { ok: false; reason: "no_group" | "not_member" };

/** One conversation as SYNC lists it (PROTOCOL.md msgid 16). */
export interface ConversationSummary {
  conv: string;
  /** The highest seq the user may read (a former group member: the last seq when they left). */
  lastseq: number;
  /** The user's read seq. */
  readseq: number;
  /** One-to-one only: the other user's read seq. */
  peerread?: number;
  /** Messages with seq > readseq (and ≤ lastseq) sent by others. */
  unread: number;
}

/** What a user may read of a group's conversation. */
export type GroupAccess =
  | { member: true }
  /** Left or was removed: may read up to `lastSeq`, the conversation's last seq when they left. */
  | { member: false; lastSeq: number }
  | null;

/** Where one device is in one conversation, plus the conversation's last seq when it was read. */
export interface DeviceCursor {
  /** Every message of the conversation with seq ≤ this was handed to the device, or is not for it. */
  cursor: number;
  lastSeq: number;
}

/** A device's resume token, as stored (only a hash). */
export interface DeviceToken {
  tokenHash: string;
  /** ms since the epoch. */
  expiresAt: number;
}

/** One cursor to save: moves only forward (the stored value becomes max(old, seq)). */
export interface CursorUpdate {
  userId: number;
  device: string;
  conv: string;
  seq: number;
}

/** One offline message to store. */
export interface OfflineEntry {
  userId: number;
  frame: string;
}

/** The storage interface shared by every implementation. */
export interface Store extends AsyncDisposable {
  /**
   * Brings the schema to the current version: creates it on an empty database, and runs the versioned
   * migrations (`sql/`) that a database of an earlier release lacks, each once. Never drops data.
   */
  migrate(): Promise<void>;
  /** Cheap round trip used by health checks; throws StoreUnavailableError when unreachable. */
  ping(): Promise<void>;

  /** Creates a user and returns the new id. Throws NameTakenError when `name` exists. */
  createUser(name: string, passwordHash: string): Promise<number>;
  findUser(id: number): Promise<UserRecord | null>;
  /** Which of `ids` exist. */
  existingUsers(ids: number[]): Promise<Set<number>>;
  /** Display copy of presence (the authority is the bus's presence lease). */
  setUserState(id: number, online: boolean): Promise<void>;
  /** Marks the given users offline (all users when `ids` is omitted). */
  setUsersOffline(ids?: number[]): Promise<void>;

  /** Adds `friendId` to `userId`'s list (one direction). Adding twice is a no-op. */
  addFriend(userId: number, friendId: number): Promise<void>;
  /**
   * FRIEND_REQUEST from `fromId` to `toId` with `note` (0–200 characters), in one transaction; see
   * {@linkcode FriendRequestOutcome}. "Friends" means both directions; a one-way row (v1 ADD_FRIEND) does
   * not stop a request, and accepting one adds whichever direction is missing.
   */
  requestFriend(fromId: number, toId: number, note: string): Promise<FriendRequestOutcome>;
  /**
   * Answers the pending request from `requesterId` to `userId`: removes it and, on `accept`, makes the two
   * friends both ways. `false` when there is no such request (errno 17): of two answers at once, on any
   * nodes, exactly one finds it.
   */
  answerFriendRequest(userId: number, requesterId: number, accept: boolean): Promise<boolean>;
  /** The requests waiting for `userId`'s answer, oldest first. */
  listFriendRequests(userId: number): Promise<FriendRequestRecord[]>;
  /** Removes the friendship in both directions (a no-op when there is none). */
  removeFriend(userId: number, friendId: number): Promise<void>;
  /**
   * `on`: `blockerId` blocks `blockedId` (one way), which also ends any friendship and any pending request
   * between the two, in either direction. `!on`: lifts it. Both are idempotent.
   */
  setBlock(blockerId: number, blockedId: number, on: boolean): Promise<void>;
  /** Whether `blockerId` blocks `blockedId`. */
  isBlocked(blockerId: number, blockedId: number): Promise<boolean>;
  /** The users `userId` blocks (`blocking`) and those who block `userId` (`blockedBy`), each ordered by id. */
  listBlocks(userId: number): Promise<{ blocking: number[]; blockedBy: number[] }>;
  /** The user's friends, ordered by id. */
  listFriends(userId: number): Promise<UserSummary[]>;
  /** Ids of the users who have `userId` in their friend list. */
  listFollowers(userId: number): Promise<number[]>;

  /** Creates a group with `creatorId` as its creator; returns the group id. Throws NameTakenError. */
  createGroup(creatorId: number, name: string, desc: string): Promise<number>;
  groupExists(groupId: number): Promise<boolean>;
  /** The group with all its members ordered by id, or `null` when it does not exist. */
  findGroup(groupId: number): Promise<GroupRecord | null>;
  /**
   * Adds a member, who joins at the conversation's current last seq (offline delivery and unread counts
   * start there), as `normal`, or as `creator` when the group has no members left. Resolves the role
   * joined with, or `null` when the user already was a member (a no-op). The group must exist.
   */
  addGroupMember(groupId: number, userId: number): Promise<GroupRole | null>;
  /** Ids of the group's members, ordered by id (empty when the group does not exist). */
  listGroupMemberIds(groupId: number): Promise<number[]>;
  /** Every group `userId` belongs to, with all members, ordered by group id then member id. */
  listUserGroups(userId: number): Promise<GroupRecord[]>;

  /**
   * Removes a member, recording the conversation's last seq so that they can still read up to it
   * ({@linkcode Store.groupAccess}). The creator may be removed too (the caller hands the role on). A
   * non-member is a no-op. Re-joining with {@linkcode Store.addGroupMember} makes them a member again.
   */
  removeGroupMember(groupId: number, userId: number): Promise<void>;
  /** Whether `userId` is, was, or never was (`null`) a member of the group. */
  groupAccess(groupId: number, userId: number): Promise<GroupAccess>;
  /**
   * LEAVE_GROUP: removes the member as {@linkcode Store.removeGroupMember} does; a leaving creator hands
   * the role to the longest-standing admin, else the longest-standing member (`heir`). One transaction.
   */
  leaveGroup(groupId: number, userId: number): Promise<GroupLeave>;
  /**
   * KICK: the creator or an admin removes `targetId` (as {@linkcode Store.removeGroupMember}); an admin may
   * not kick an admin, and nobody the creator (`not_permitted`). The roles are read and the member removed
   * in one transaction, so of two kicks at once, on any nodes, each sees the other's outcome or none.
   * Kicking oneself is the caller's to refuse (errno 4).
   */
  kickMember(groupId: number, actorId: number, targetId: number): Promise<GroupChange>;
  /** SET_ROLE: the creator makes a member `admin` or `normal` (one transaction, as kickMember). */
  setMemberRole(
    groupId: number,
    actorId: number,
    targetId: number,
    role: "admin" | "normal",
  ): Promise<GroupChange>;
  /**
   * UPDATE_GROUP: the creator or an admin changes the name and/or the description (at least one given).
   * Throws NameTakenError when the name belongs to another group.
   */
  updateGroup(
    groupId: number,
    actorId: number,
    fields: { name?: string; desc?: string },
  ): Promise<GroupChange>;

  /**
   * Stores chat messages in one transaction (group commit), in the given order: all or none. Each gets the
   * next seq of its conversation, gapless and unique across every node sharing the database. A message
   * whose (senderId, cmid) was stored before, or earlier in this batch, is not stored again: its result is
   * the first one with `dup: true`. A new message of a one-to-one conversation whose other user blocks the
   * sender is not stored: its result is a {@linkcode BlockedMessage} (read in the same transaction, so a
   * block committed before it is never missed). Storing moves the sender's read seq to the new seq.
   * Rejects with StoreUnavailableError when the database is unreachable (nothing stored).
   */
  appendMessages(messages: NewMessage[]): Promise<AppendResult[]>;
  /** The conversation's last seq (0 when it has no messages). */
  lastSeq(conv: string): Promise<number>;
  /** Up to `limit` messages with `after` < seq ≤ `upTo` (default: no bound), ascending. */
  messagesAfter(conv: string, after: number, limit: number, upTo?: number): Promise<StoredMessage[]>;
  /** The newest `limit` messages with seq < `before` and seq ≤ `upTo`, ascending. */
  messagesBefore(conv: string, before: number, limit: number, upTo?: number): Promise<StoredMessage[]>;
  /**
   * Every conversation of the user that has messages: one-to-one conversations they are in, groups they
   * are in, and groups they left (capped at the seq when they left). Ordered by conv.
   */
  listConversations(userId: number): Promise<ConversationSummary[]>;
  /** Moves the user's read seq of `conv` to max(old, seq) and returns the result. */
  markRead(userId: number, conv: string, seq: number): Promise<number>;
  /** Deletes messages stored before `ts` (retention); returns how many. */
  deleteMessagesBefore(ts: number): Promise<number>;

  /**
   * Records a device of the user; `true` when it is new. A new device starts at the lowest cursor of the
   * user's other devices in each conversation, so it misses nothing that none of them was handed.
   */
  registerDevice(userId: number, device: string): Promise<boolean>;
  /**
   * Cursors of one device: for every conversation of the user (one-to-one, groups it is in), the device's
   * cursor (for a group never below the seq the user joined at) and the conversation's last seq.
   */
  deviceCursors(userId: number, device: string): Promise<Map<string, DeviceCursor>>;
  /**
   * The oldest `limit` messages past `cursors` (seq > cursor in each named conversation) sent by others
   * than `userId`, in the order they were stored.
   */
  messagesPast(userId: number, cursors: Map<string, number>, limit: number): Promise<StoredMessage[]>;
  /** Saves cursors in one transaction; each only moves forward. */
  saveCursors(updates: CursorUpdate[]): Promise<void>;
  /** Stores the device's token hash, replacing its previous one; keeps at most `maxTokens` per user (newest). */
  setDeviceToken(userId: number, device: string, token: DeviceToken, maxTokens: number): Promise<void>;
  /** The device's token, or `null` when it has none (never issued, or revoked). */
  findDeviceToken(userId: number, device: string): Promise<DeviceToken | null>;
  /** Revokes the device's token (LOGINOUT). */
  revokeDeviceToken(userId: number, device: string): Promise<void>;

  /**
   * Offline messages stored by the first release (before conversations were kept), still waiting after an
   * upgrade: delivered once at the next login, then deleted. New messages never go here.
   */
  /** The user's oldest `limit` offline messages, oldest first. */
  readOffline(userId: number, limit: number): Promise<OfflineMessage[]>;
  /** Deletes exactly these offline message ids of this user. */
  deleteOffline(userId: number, ids: number[]): Promise<void>;

  /** Counters of the connection pool, for stores that have one (metrics). */
  poolStats?(): PoolStats;

  /** Idempotent. */
  close(): Promise<void>;
}

/** A connection pool's counters. */
export interface PoolStats {
  size: number;
  idle: number;
  inUse: number;
  waiting: number;
  pending: number;
}

/** The part of {@linkcode Store} about users and their presence, which each store keeps in one module. */
export type UserMethods = Pick<
  Store,
  "createUser" | "findUser" | "existingUsers" | "setUserState" | "setUsersOffline"
>;

/** The part of {@linkcode Store} about friend lists. */
export type FriendMethods = Pick<
  Store,
  | "addFriend"
  | "listFriends"
  | "listFollowers"
  | "requestFriend"
  | "answerFriendRequest"
  | "listFriendRequests"
  | "removeFriend"
  | "setBlock"
  | "isBlocked"
  | "listBlocks"
>;

/** The part of {@linkcode Store} about groups and their members. */
export type GroupMethods = Pick<
  Store,
  | "createGroup"
  | "groupExists"
  | "findGroup"
  | "addGroupMember"
  | "listGroupMemberIds"
  | "listUserGroups"
  | "removeGroupMember"
  | "groupAccess"
  | "leaveGroup"
  | "kickMember"
  | "setMemberRole"
  | "updateGroup"
>;

/** The part of {@linkcode Store} about the first release's offline messages (drained at login). */
export type OfflineMethods = Pick<Store, "readOffline" | "deleteOffline">;

/** The part of {@linkcode Store} about conversations, their messages and read state. */
export type MessageMethods = Pick<
  Store,
  | "appendMessages"
  | "lastSeq"
  | "messagesAfter"
  | "messagesBefore"
  | "listConversations"
  | "markRead"
  | "deleteMessagesBefore"
>;

/** The part of {@linkcode Store} about devices, their cursors and resume tokens. */
export type DeviceMethods = Pick<
  Store,
  | "registerDevice"
  | "deviceCursors"
  | "messagesPast"
  | "saveCursors"
  | "setDeviceToken"
  | "findDeviceToken"
  | "revokeDeviceToken"
>;
