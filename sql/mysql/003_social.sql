-- Version 3: friends by request, blocking and group roles (PROTOCOL.md "v2 extensions", "Friends" and
-- "Groups"). Released rows stay as they were: one-way friend rows are still friends in their direction, and
-- every member keeps their role.
--
-- As in version 2, the runner records the version only after the last statement and MySQL commits DDL at once,
-- so every statement here is safe to run again after a crash halfway.

-- Group roles gain 'admin', and each membership remembers its join order ("longest-standing" = earliest join:
-- who inherits the creator role). joinorder is AUTO_INCREMENT, so every new membership (a re-join too: leaving
-- deletes the row) numbers after every existing one without a statement of its own. The existing rows are
-- numbered when the column is added, in the order the rebuild reads them: the clustered index, (groupid,
-- userid). MySQL 8 has no ADD COLUMN IF NOT EXISTS, so the ALTER runs only when the column is missing, as one
-- statement: a crash leaves either the old table or the new one, never half of it.
SET @social_groupuser = IF(
  (SELECT COUNT(*) FROM information_schema.columns
    WHERE table_schema = DATABASE() AND table_name = 'groupuser' AND column_name = 'joinorder') = 0,
  -- Adjacent string literals are one string.
  'ALTER TABLE groupuser '
    'MODIFY grouprole ENUM(''creator'', ''admin'', ''normal'') NOT NULL DEFAULT ''normal'', '
    'ADD COLUMN joinorder BIGINT NOT NULL AUTO_INCREMENT, '
    'ADD UNIQUE KEY groupuser_joinorder (joinorder)',
  'DO 0'
);
PREPARE social_groupuser FROM @social_groupuser;
EXECUTE social_groupuser;
DEALLOCATE PREPARE social_groupuser;

-- Pending friend requests: requester asked target, who has not answered yet. One per direction; id is the
-- order they were made in (LOGIN_ACK lists a user's requests oldest first, by the target key's (target, id)).
CREATE TABLE IF NOT EXISTS friend_requests (
  id BIGINT NOT NULL AUTO_INCREMENT,
  requester INT NOT NULL,
  target INT NOT NULL,
  note VARCHAR(200) NOT NULL DEFAULT '',
  PRIMARY KEY (id),
  UNIQUE KEY friend_requests_pair (requester, target),
  KEY friend_requests_target (target, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- blocker blocks blocked (one way). Storing a one-to-one message looks up (blocker, blocked) pairs by the primary
-- key; listBlocks finds who blocks a user by blocks_blocked.
CREATE TABLE IF NOT EXISTS blocks (
  blocker INT NOT NULL,
  blocked INT NOT NULL,
  PRIMARY KEY (blocker, blocked),
  KEY blocks_blocked (blocked)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
