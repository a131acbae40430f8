/** What every handler can reach: the node's shared state and its backing services. */
import type { Bus } from "../bus/bus.ts";
import type { Logger } from "../log.ts";
import type { Limits } from "../protocol/limits.ts";
import type { Store } from "../store/store.ts";
import type { CursorSaver } from "./cursor_saver.ts";
import type { Delivery } from "./delivery.ts";
import type { GapFiller } from "./gap_filler.ts";
import type { MessageWriter } from "./message_writer.ts";
import type { Session } from "./session.ts";
import type { SessionRegistry } from "./session_registry.ts";
import type { UserSubscriptions } from "./user_subscriptions.ts";

export interface ServiceContext {
  store: Store;
  bus: Bus;
  /**
   * Live delivery, best effort: `toUser(userId, frame, except?)` and `toUsers(ids, frame)` write to every
   * session of the users here (but `except`) and publish for other nodes; they never store nor reject.
   */
  delivery: Delivery;
  /** Saves devices' delivery cursors in batches, once their frames were flushed. */
  cursors: CursorSaver;
  /** Fills holes in what devices were handed live, from the store (`Session.onHole`). */
  gaps: GapFiller;
  /** One bus subscription per user on this node, shared by the user's sessions here. */
  subscriptions: UserSubscriptions;
  /** The sessions of the users logged in on this node. */
  sessions: SessionRegistry<Session>;
  limits: Limits;
  log: Logger;
  /** Offline messages per LOGIN_ACK; more follow as separate frames. */
  offlineBatch: number;
  /** Characters of offline frames sent before waiting for the socket to drain (below the outbound limit). */
  offlineBatchBytes: number;
  /** Stores chat messages before they are acknowledged, many per transaction. */
  messages: MessageWriter;
  /** Live devices per user across all nodes (`--max-devices`, default 5). */
  maxDevices: number;
  /** How long a resume token is valid, in days (`--token-days`, default 30). */
  tokenDays: number;
  /** Resume tokens kept per user (the newest; default 20). */
  maxTokensPerUser: number;
  /** The largest `limit` of SYNC and HISTORY (default 1000). */
  pageLimit: number;
  /** A new server message id (`mid`), unique across nodes and restarts. */
  nextMessageId(): string;
  /** Whether a user exists; answers from memory after the first hit (users are never deleted). */
  userExists(id: number): Promise<boolean>;
}
