-- Version 2: kept conversations (PROTOCOL.md "v2 extensions"): every chat message stored in its conversation
-- with a per-conversation seq, read seqs, group membership history, devices with their delivery cursors and
-- resume tokens. The released tables are left as they were: the first release's offline rows stay in
-- offlinemessage until they are handed over once at the next login.
--
-- MySQL and MariaDB commit DDL at once, so a crash can stop this file halfway; the runner records the version
-- only after the last statement. Every statement is therefore safe to run again: only CREATE TABLE IF NOT
-- EXISTS, with the indexes inside it (MySQL 8 knows no CREATE INDEX IF NOT EXISTS), and no ALTER of a
-- released table.
--
-- Conversation names are ASCII (`u:3:7`, `g:12`, lib/conversation_name.ts) and so are cmid, device and token
-- hashes: ascii_bin keys are short and compare byte for byte.

-- Every kept message. The primary key (conv, seq) is the conversation's order and makes a seq unique across
-- nodes; (sender, cmid) makes an idempotent send store once (NULL cmids never collide).
CREATE TABLE IF NOT EXISTS messages (
  conv VARCHAR(23) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  seq BIGINT NOT NULL,
  -- The order the rows were stored in, across conversations (offline delivery hands messages out in it).
  -- Within one conversation it grows with seq: both are taken while the conversation's row is locked.
  id BIGINT NOT NULL AUTO_INCREMENT,
  sender INT NOT NULL,
  cmid VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NULL,
  mid VARCHAR(255) NOT NULL,
  ts BIGINT NOT NULL, -- the server's receive time, ms since the epoch; retention deletes by it
  frame MEDIUMTEXT NOT NULL, -- the exact frame text; MEDIUMTEXT because frames may exceed TEXT's 64 KiB
  PRIMARY KEY (conv, seq),
  UNIQUE KEY messages_id (id),
  UNIQUE KEY messages_sender_cmid (sender, cmid),
  KEY messages_ts (ts)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One row per conversation that has messages: its last seq, which the storing transaction raises and reads
-- back under the row's lock (this row is what serialises two nodes appending to one conversation). usera and
-- userb name a one-to-one conversation's users, groupid a group's, so a user's conversations are found by
-- index and joined on integers.
CREATE TABLE IF NOT EXISTS conversations (
  conv VARCHAR(23) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  lastseq BIGINT NOT NULL,
  usera INT NULL,
  userb INT NULL,
  groupid INT NULL,
  PRIMARY KEY (conv),
  KEY conversations_usera (usera),
  KEY conversations_userb (userb),
  UNIQUE KEY conversations_groupid (groupid)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A user's read seq per conversation (READ, and sending moves it); a missing row is 0.
CREATE TABLE IF NOT EXISTS read_seqs (
  userid INT NOT NULL,
  conv VARCHAR(23) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  readseq BIGINT NOT NULL,
  PRIMARY KEY (userid, conv)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The group conversation's last seq when the member joined: offline delivery and unread counts start there.
-- (The embedded store keeps it as a column of groupuser; here a table of its own, because MySQL cannot add a
-- column "if not exists" and this file must be safe to run again.) A member without a row joined at 0: the
-- first release's members joined before any group message was kept.
CREATE TABLE IF NOT EXISTS groupjoin (
  groupid INT NOT NULL,
  userid INT NOT NULL,
  joinseq BIGINT NOT NULL,
  PRIMARY KEY (groupid, userid)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Former members: they may still read the group's conversation up to leftseq, its last seq when they left.
-- A member who joins again is removed from here. groupuser keeps only current members, as in the first release.
CREATE TABLE IF NOT EXISTS groupleft (
  groupid INT NOT NULL,
  userid INT NOT NULL,
  leftseq BIGINT NOT NULL,
  PRIMARY KEY (groupid, userid),
  KEY groupleft_userid (userid) -- listConversations starts from the user's former groups
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The devices each user has logged in with (LOGIN `device`; "default" when none was given).
CREATE TABLE IF NOT EXISTS devices (
  userid INT NOT NULL,
  device VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  created_at BIGINT NOT NULL, -- ms since the epoch, for diagnostics
  PRIMARY KEY (userid, device)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- A device's delivery cursor per conversation: every message with seq <= seq was handed to it. This is the
-- device's offline queue: what lies past its cursors. A missing row is 0 (a group: the join seq).
CREATE TABLE IF NOT EXISTS device_cursors (
  userid INT NOT NULL,
  device VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  conv VARCHAR(23) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (userid, device, conv)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- One resume token per device, kept only as its sha256 hex. id orders a user's tokens by issue (the newest are
-- kept when a user has too many).
CREATE TABLE IF NOT EXISTS device_tokens (
  id BIGINT NOT NULL AUTO_INCREMENT,
  userid INT NOT NULL,
  device VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  tokenhash VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, -- sha256 hex: 64
  expires_at BIGINT NOT NULL, -- ms since the epoch
  PRIMARY KEY (id),
  UNIQUE KEY device_tokens_device (userid, device)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
