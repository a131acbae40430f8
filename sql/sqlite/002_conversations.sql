-- Version 2: kept conversations, several devices per user and resume tokens (PROTOCOL.md "v2 extensions").
-- Runs once, inside the migration's transaction (SQLite DDL is transactional), so plain CREATE TABLE: a table
-- that already exists means the database is not what schema_version says, and the migration stops there.
-- Every query of lib/store/sqlite_*.ts is served by a primary key or one of the indexes below.

-- One row per conversation that has messages ("u:A:B" or "g:G", lib/conversation_name.ts): the last seq handed
-- out. Kept when retention deletes the messages, so that seq never starts again.
CREATE TABLE conversations (
  conv TEXT NOT NULL PRIMARY KEY,
  lastseq INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Every chat message, kept in its conversation. The rowid (implicit) is the order in which messages were
-- stored across conversations: a device's offline queue is handed out in that order. A rowid table rather than
-- WITHOUT ROWID because frames may be large (SQLite advises rowid tables for rows past a few hundred bytes).
CREATE TABLE messages (
  conv TEXT NOT NULL,
  seq INTEGER NOT NULL,
  sender INTEGER NOT NULL,
  ts INTEGER NOT NULL, -- the server's receive time, ms since the epoch; retention goes by it
  mid TEXT NOT NULL,
  cmid TEXT, -- the client's message id for idempotent sends, NULL when it sent none
  frame TEXT NOT NULL, -- the exact frame text handed out (last: reading the other columns skips it)
  PRIMARY KEY (conv, seq)
) STRICT;

-- Idempotent send: one message per (sender, cmid). Partial, so messages without a cmid cost no index entry.
CREATE UNIQUE INDEX messages_sender_cmid ON messages (sender, cmid) WHERE cmid IS NOT NULL;
-- Retention deletes by age.
CREATE INDEX messages_ts ON messages (ts);

-- A user's read seq per conversation. Both users of a one-to-one conversation get a row when its first message
-- is stored, so these rows are also the list of a user's one-to-one conversations.
CREATE TABLE read_seqs (
  userid INTEGER NOT NULL,
  conv TEXT NOT NULL,
  readseq INTEGER NOT NULL,
  PRIMARY KEY (userid, conv)
) STRICT, WITHOUT ROWID;

-- The group conversation's last seq when the member joined: offline delivery and unread counts start there.
-- Members of a database from release 1 joined before any group message was kept: 0.
ALTER TABLE groupuser ADD COLUMN joinseq INTEGER NOT NULL DEFAULT 0;

-- Former members: they may still read the group's conversation up to leftseq, its last seq when they left.
-- A member who re-joins is removed from here.
CREATE TABLE groupleft (
  groupid INTEGER NOT NULL,
  userid INTEGER NOT NULL,
  leftseq INTEGER NOT NULL,
  PRIMARY KEY (groupid, userid)
) STRICT, WITHOUT ROWID;

-- listConversations starts from the user's former groups.
CREATE INDEX groupleft_userid ON groupleft (userid);

-- The devices a user has logged in from (LOGIN `device`; "default" without one).
CREATE TABLE devices (
  userid INTEGER NOT NULL,
  device TEXT NOT NULL,
  created_at INTEGER NOT NULL, -- ms since the epoch, for diagnostics
  PRIMARY KEY (userid, device)
) STRICT, WITHOUT ROWID;

-- Per device and conversation: every message with seq <= seq was handed to the device. No row means 0 (for a
-- group: the member's joinseq). This is the device's offline queue.
CREATE TABLE device_cursors (
  userid INTEGER NOT NULL,
  device TEXT NOT NULL,
  conv TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (userid, device, conv)
) STRICT, WITHOUT ROWID;

-- One resume token per device, stored only as its hash. The id grows with every token issued: a user keeps
-- the newest tokens up to the limit.
CREATE TABLE device_tokens (
  id INTEGER PRIMARY KEY,
  userid INTEGER NOT NULL,
  device TEXT NOT NULL,
  tokenhash TEXT NOT NULL, -- sha256 hex of the token
  expires_at INTEGER NOT NULL, -- ms since the epoch
  UNIQUE (userid, device)
) STRICT;
