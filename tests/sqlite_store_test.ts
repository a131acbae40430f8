import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { StoreUnavailableError } from "../lib/store/errors.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { STATE_BATCH_MAX } from "../lib/store/sqlite_users.ts";
import { directConv, groupConv } from "../lib/conversation_name.ts";
import { storeSuite } from "./store_suite.ts";
import { append, chat, type StoreFixture, texts } from "./store_suite_fixture.ts";

/** Deno 2.9 leaves the sanitizers off by default; these unit tests own every file handle and timer they use. */
const SANITIZED = { sanitizeOps: true, sanitizeResources: true };

/**
 * A migrated store on a file of its own in a temporary directory (a file, not `:memory:`, so that the case can
 * reopen it and write legacy rows through a second connection, as the first release left them).
 */
export async function sqliteFixture(): Promise<StoreFixture> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_store_suite_" });
  const path = `${dir}/chat.db`;
  const fixture: StoreFixture = {
    store: await openFile(path),
    async reopen() {
      await fixture.store.close();
      fixture.store = await openFile(path);
      return fixture.store;
    },
    insertLegacyOffline(userId, frame) {
      inspect(
        path,
        (db) =>
          db.prepare("INSERT INTO offlinemessage (userid, message, created_at) VALUES (?, ?, ?)")
            .run(userId, frame, Date.now()),
      );
      return Promise.resolve();
    },
    async [Symbol.asyncDispose]() {
      await fixture.store.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
  return fixture;
}

storeSuite("SqliteStore", sqliteFixture);

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "sqlite_store_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads the file directly, past the store, to observe what the interface cannot (state, pragmas). */
function inspect<T>(path: string, fn: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

async function openFile(path: string, busyTimeoutMs?: number): Promise<SqliteStore> {
  const store = SqliteStore.open(path, { busyTimeoutMs });
  await store.migrate();
  return store;
}

Deno.test("SqliteStore.open() creates the missing parent directories of a file path", SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/data/nested/chat.db`;
    await using store = await openFile(path);
    await store.createUser("alice", "h");
    assert.ok((await Deno.stat(path)).isFile);
  });
});

Deno.test(
  "SqliteStore.open() of a directory throws StoreUnavailableError naming the path",
  SANITIZED,
  async () => {
    await withTempDir((dir) => {
      assert.throws(() => SqliteStore.open(dir), (error: unknown) => {
        assert.ok(error instanceof StoreUnavailableError);
        assert.ok(error.message.includes(dir), error.message);
        return true;
      });
    });
  },
);
Deno.test("SqliteStore.open() puts a file database in WAL mode", SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    await using _store = await openFile(path);
    const row = inspect(path, (db) => db.prepare("PRAGMA journal_mode").get());
    assert.equal(row?.journal_mode, "wal");
  });
});

Deno.test("SqliteStore: data survives close() and reopening the same file", SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const first = await openFile(path);
    const alice = await first.createUser("alice 😀", "hash-a");
    const bob = await first.createUser("bob", "hash-b");
    await first.addFriend(alice, bob);
    const group = await first.createGroup(alice, "devs", "desc");
    await first.addGroupMember(group, bob);
    await first.appendMessages([chat(directConv(alice, bob), alice, "one")]);
    await first.close();

    await using second = await openFile(path);
    assert.deepEqual(await second.findUser(alice), { id: alice, name: "alice 😀", passwordHash: "hash-a" });
    assert.deepEqual(await second.listFriends(alice), [{ id: bob, name: "bob" }]);
    assert.deepEqual(await second.listGroupMemberIds(group), [alice, bob]);
    assert.deepEqual(texts(await second.messagesAfter(directConv(alice, bob), 0, 10)), ["one"]);
    const carol = await second.createUser("carol", "h");
    assert.ok(carol > bob, "ids keep increasing after a reopen");
  });
});

Deno.test("SqliteStore: setUserState() and setUsersOffline() write the state column", SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    await using store = await openFile(path);
    const [a, b, c] = [
      await store.createUser("a", "h"),
      await store.createUser("b", "h"),
      await store.createUser("c", "h"),
    ];
    const states = () =>
      inspect(path, (db) => db.prepare("SELECT state FROM user ORDER BY id").all().map((row) => row.state));

    assert.deepEqual(states(), ["offline", "offline", "offline"]);
    for (const id of [a, b, c]) await store.setUserState(id, true);
    assert.deepEqual(states(), ["online", "online", "online"]);
    await store.setUsersOffline([]);
    assert.deepEqual(states(), ["online", "online", "online"], "an empty list marks nobody offline");
    await store.setUsersOffline([a, c]);
    assert.deepEqual(states(), ["offline", "online", "offline"]);
    await store.setUserState(a, true);
    await store.setUsersOffline();
    assert.deepEqual(states(), ["offline", "offline", "offline"]);
  });
});

Deno.test(
  "SqliteStore.setUserState() batches the copies: the last state asked wins, before setUsersOffline() and close()",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using store = await openFile(path);
      const [a, b] = [await store.createUser("a", "h"), await store.createUser("b", "h")];
      const states = () =>
        inspect(path, (db) => db.prepare("SELECT state FROM user ORDER BY id").all().map((row) => row.state));
      // The last state asked for a user wins; every call resolves once their one transaction committed.
      await Promise.all([
        store.setUserState(a, true),
        store.setUserState(b, true),
        store.setUserState(a, false),
      ]);
      assert.deepEqual(states(), ["offline", "online"]);
      // setUsersOffline() after a waiting copy: the copy is written first, so offline is what stays.
      const pending = store.setUserState(b, true);
      await store.setUsersOffline([b]);
      await pending;
      assert.deepEqual(states(), ["offline", "offline"]);
      // close() writes what still waits.
      const last = store.setUserState(a, true);
      await store.close();
      await last;
      assert.deepEqual(states(), ["online", "offline"]);
    });
  },
);

Deno.test(
  "SqliteStore.setUserState() writes a full batch at once, without waiting for the batch's time",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using store = await openFile(path);
      const ids: number[] = [];
      for (let i = 0; i <= STATE_BATCH_MAX; i++) ids.push(await store.createUser(`u${i}`, "h"));
      const online = () =>
        inspect(
          path,
          (db) => Number(db.prepare("SELECT count(*) AS n FROM user WHERE state = 'online'").get()!.n),
        );
      const written = Promise.all(ids.slice(0, STATE_BATCH_MAX).map((id) => store.setUserState(id, true)));
      assert.equal(online(), STATE_BATCH_MAX, "written by the call that filled the batch");
      const next = store.setUserState(ids[STATE_BATCH_MAX], true);
      assert.equal(online(), STATE_BATCH_MAX, "the next copy waits for a batch of its own");
      await Promise.all([written, next]);
      assert.equal(online(), STATE_BATCH_MAX + 1);
    });
  },
);

Deno.test(
  "SqliteStore.setUserState() rejects every caller of a batch that cannot be written",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using store = await openFile(path, 50);
      const [a, b] = [await store.createUser("a", "h"), await store.createUser("b", "h")];
      await assert.rejects(store.setUserState(1.5, true), RangeError);
      const other = new DatabaseSync(path);
      try {
        other.exec("BEGIN IMMEDIATE");
        const results = await Promise.allSettled([store.setUserState(a, true), store.setUserState(b, true)]);
        for (const result of results) {
          assert.equal(result.status, "rejected");
          assert.ok(result.reason instanceof StoreUnavailableError);
        }
        other.exec("ROLLBACK");
      } finally {
        other.close();
      }
      await store.setUserState(a, true);
      assert.deepEqual(
        inspect(path, (db) => db.prepare("SELECT state FROM user ORDER BY id").all().map((row) => row.state)),
        ["online", "offline"],
        "the next batch is written once the lock is gone",
      );
    });
  },
);

Deno.test(
  "SqliteStore: a write blocked by another connection's lock rejects with StoreUnavailableError",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using store = await openFile(path, 50);
      const other = new DatabaseSync(path);
      try {
        other.exec("BEGIN IMMEDIATE");
        await assert.rejects(store.createUser("alice", "h"), StoreUnavailableError);
        await assert.rejects(store.appendMessages([chat("u:1:2", 1, "f")]), StoreUnavailableError);
        other.exec("ROLLBACK");
      } finally {
        other.close();
      }
      const id = await store.createUser("alice", "h");
      assert.equal((await store.findUser(id))?.name, "alice", "the store works once the lock is gone");
    });
  },
);

Deno.test(
  "SqliteStore: ids and limits that are not safe integers reject with RangeError",
  SANITIZED,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const a = await store.createUser("a", "h");
    await assert.rejects(store.findUser(1.5), RangeError);
    await assert.rejects(store.existingUsers([a, Number.NaN]), RangeError);
    await assert.rejects(store.addFriend(a, 2 ** 53), RangeError);
    await assert.rejects(store.readOffline(a, -1), RangeError);
  },
);

Deno.test(
  "SqliteStore.appendMessages() of two stores on one file keeps each conversation gapless",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using first = await openFile(path);
      await using second = await openFile(path);
      const [a, b] = [await first.createUser("a", "h"), await first.createUser("b", "h")];
      const conv = directConv(a, b);
      // Each store remembers the last seqs it committed; the other's commits must make it look again.
      for (let round = 0; round < 5; round++) {
        await first.appendMessages([chat(conv, a, `first ${round}`), chat(conv, a, `first ${round}'`)]);
        await second.appendMessages([chat(conv, b, `second ${round}`)]);
      }
      const seqs = (await first.messagesAfter(conv, 0, 100)).map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: 15 }, (_, i) => i + 1));
      assert.equal(await second.lastSeq(conv), 15);
    });
  },
);

Deno.test(
  "SqliteStore.appendMessages() after a failed batch reuses none of its seqs",
  SANITIZED,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const conv = "u:1:2";
    await store.appendMessages([chat(conv, 1, "one")]);
    const failing = { ...chat(conv, 2, "x"), frame: () => null as unknown as string };
    await assert.rejects(store.appendMessages([chat(conv, 1, "two"), failing]), TypeError);
    const [next] = await append(store, [chat(conv, 1, "two")]);
    assert.equal(next.seq, 2, "the rolled-back batch's seq is handed out again, not skipped");
  },
);

Deno.test("SqliteStore.open() rejects an unknown synchronous setting with RangeError", SANITIZED, () => {
  assert.throws(
    () => SqliteStore.open(":memory:", { synchronous: "off" as "full" }),
    /synchronous must be "normal" or "full", got "off"/,
  );
});

Deno.test('SqliteStore with synchronous "full" stores and reads like the default', SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const store = SqliteStore.open(`${dir}/chat.db`, { synchronous: "full" });
    try {
      await store.migrate();
      const a = await store.createUser("a", "h");
      await store.setUserState(a, true);
      const [stored] = await append(store, [chat(directConv(a, a + 1), a, "durable")]);
      assert.equal(stored.seq, 1);
    } finally {
      await store.close();
    }
  });
});

Deno.test(
  "SqliteStore.open() of a file that is not a database throws StoreUnavailableError",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/not-a.db`;
      await Deno.writeTextFile(
        path,
        "this is not a SQLite database, it is a text file long enough to be read\n".repeat(20),
      );
      assert.throws(() => SqliteStore.open(path), StoreUnavailableError);
    });
  },
);

Deno.test(
  "SqliteStore.migrate() while another connection holds the write lock rejects with StoreUnavailableError",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      const other = new DatabaseSync(path);
      try {
        other.exec("PRAGMA journal_mode = WAL; CREATE TABLE unrelated (x INTEGER); BEGIN IMMEDIATE");
        await using store = SqliteStore.open(path, { busyTimeoutMs: 50 });
        await assert.rejects(store.migrate(), StoreUnavailableError);
        other.exec("ROLLBACK");
        await store.migrate();
        assert.equal((await store.findUser(await store.createUser("a", "h")))?.name, "a");
      } finally {
        other.close();
      }
    });
  },
);

Deno.test(
  "SqliteStore: friend and group arguments of the wrong type reject with TypeError and change nothing",
  SANITIZED,
  async () => {
    await using store = SqliteStore.open(":memory:");
    await store.migrate();
    const [a, b] = [await store.createUser("a", "h"), await store.createUser("b", "h")];
    const groupId = await store.createGroup(a, "g", "d");
    await assert.rejects(store.requestFriend(a, b, 7 as unknown as string), TypeError);
    assert.deepEqual(await store.listFriendRequests(b), []);
    await store.requestFriend(a, b, "");
    await assert.rejects(store.answerFriendRequest(b, a, "yes" as unknown as boolean), TypeError);
    await assert.rejects(store.setBlock(a, b, 1 as unknown as boolean), TypeError);
    assert.deepEqual(await store.listFriendRequests(b), [{ id: a, name: "a", note: "" }]);
    assert.equal(await store.isBlocked(a, b), false);
    await assert.rejects(store.updateGroup(groupId, a, { name: null as unknown as string }), TypeError);
    assert.equal((await store.findGroup(groupId))?.name, "g");
  },
);

Deno.test(
  "SqliteStore.appendMessages() sees a block that another store on the same file committed",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using first = await openFile(path);
      await using second = await openFile(path);
      const [a, b] = [await first.createUser("a", "h"), await first.createUser("b", "h")];
      const conv = directConv(a, b);
      await append(first, [chat(conv, a, "before")]);
      await second.setBlock(b, a, true);
      assert.deepEqual(await first.appendMessages([chat(conv, a, "after")]), [{ blocked: true, conv }]);
      await second.setBlock(b, a, false);
      const [next] = await append(first, [chat(conv, a, "unblocked")]);
      assert.equal(next.seq, 2);
    });
  },
);

Deno.test(
  "SqliteStore: two stores on one file answering one friend request: exactly one finds it",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      await using first = await openFile(path);
      await using second = await openFile(path);
      const [a, b] = [await first.createUser("a", "h"), await first.createUser("b", "h")];
      await first.requestFriend(a, b, "");
      const answers = await Promise.all([
        first.answerFriendRequest(b, a, true),
        second.answerFriendRequest(b, a, false),
      ]);
      assert.deepEqual(answers, [true, false]);
      assert.deepEqual((await second.listFriends(a)).map((f) => f.id), [b]);
    });
  },
);

Deno.test("SqliteStore: schema version 3 keeps roles to creator, admin and normal", SANITIZED, async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/chat.db`;
    const store = await openFile(path);
    const a = await store.createUser("a", "h");
    const groupId = await store.createGroup(a, "g", "");
    await store.close();
    inspect(path, (db) => {
      db.prepare("UPDATE groupuser SET grouprole = 'admin' WHERE groupid = ?").run(groupId);
      assert.throws(
        () => db.prepare("UPDATE groupuser SET grouprole = 'owner' WHERE groupid = ?").run(groupId),
        /CHECK constraint failed/,
      );
      const indexes = db.prepare("SELECT name FROM pragma_index_list('groupuser') ORDER BY name").all()
        .map((row) => row.name);
      assert.deepEqual(indexes, ["groupuser_joinorder", "groupuser_userid", "sqlite_autoindex_groupuser_1"]);
    });
  });
});

Deno.test(
  "SqliteStore: a one-to-one sender's read seq moves on the conversation's row, a group sender's in read_seqs",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      const store = await openFile(path);
      const [a, b] = [await store.createUser("a", "h"), await store.createUser("b", "h")];
      const conv = directConv(a, b);
      const group = groupConv(await store.createGroup(a, "g", ""));
      await append(store, [chat(conv, b, "1"), chat(conv, a, "2"), chat(conv, b, "3"), chat(group, a, "g")]);
      await store.close();
      inspect(path, (db) => {
        const row = db.prepare("SELECT lastseq, lowsentseq, highsentseq FROM conversations WHERE conv = ?")
          .get(conv);
        assert.deepEqual({ ...row }, { lastseq: 3, lowsentseq: 2, highsentseq: 3 });
        const reads = db.prepare("SELECT userid, conv, readseq FROM read_seqs ORDER BY conv, userid").all()
          .map((r) => [r.userid, r.conv, r.readseq]);
        // The one-to-one rows only list the conversation as both users' (written when it was new).
        assert.deepEqual(reads, [[a, group, 1], [a, conv, 0], [b, conv, 0]]);
      });
    });
  },
);

Deno.test(
  "SqliteStore.open() checkpoints a file database in the background, unless told not to; never :memory:",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      await using file = SqliteStore.open(`${dir}/a.db`);
      assert.equal(file.backgroundCheckpoints, true);
      await using alone = SqliteStore.open(`${dir}/b.db`, { backgroundCheckpoints: false });
      assert.equal(alone.backgroundCheckpoints, false);
      await using memory = SqliteStore.open(":memory:");
      assert.equal(memory.backgroundCheckpoints, false);
      await file.close();
      assert.equal(file.backgroundCheckpoints, false, "closing stops the worker");
    });
  },
);

Deno.test(
  "SqliteStore: the WAL stays bounded while batches are appended without pause, and the rows survive reopening",
  SANITIZED,
  async () => {
    await withTempDir(async (dir) => {
      const path = `${dir}/chat.db`;
      const store = await openFile(path);
      const pairs = 100;
      const batches = 600;
      let walMax = 0;
      for (let b = 0; b < batches; b++) {
        // 50 messages in 50 conversations: about 66 WAL pages per commit, 40,000 in all (160 MB unrestarted).
        await store.appendMessages(
          Array.from({ length: 50 }, (_, i) => {
            const low = 2 * ((b * 50 + i) % pairs) + 1;
            return chat(directConv(low, low + 1), low, `m${b}.${i}`);
          }),
        );
        walMax = Math.max(walMax, (await Deno.stat(`${path}-wal`)).size);
      }
      // The WAL restarts about every CHECKPOINT_PAGES (4000) pages of 4 KiB: 16 MB, plus the commits made while
      // the worker held the checkpoint lock (up to 40 MB measured on a loaded 2-vCPU host).
      assert.ok(walMax < 64_000_000, `the WAL grew to ${walMax} bytes`);
      await store.close();
      await using reopened = await openFile(path);
      assert.equal(await reopened.lastSeq(directConv(1, 2)), batches * 50 / pairs);
    });
  },
);
