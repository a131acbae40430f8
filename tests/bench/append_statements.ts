/**
 * Where the chat append transaction's time goes: runs the statements of `SqliteMessages.appendMessages`
 * (lib/store/sqlite_messages.ts) the way pingpong makes the server run them (batches over 100 one-to-one
 * conversations, one message per conversation and batch, no cmid) on a migrated database file in WAL mode
 * with the server's background checkpoints, and prints the time per message of each kind of statement.
 *
 * `--read-seq-rows` runs the statements of schema version 3 instead: the sender's read seq moved by an UPDATE
 * of its `read_seqs` row per message, where version 4 sets a column of the conversation's row in the UPDATE of
 * its last seq (lib/store/sent_seqs.ts).
 *
 * `--staging` measures an idea instead of the server: the messages go into a small staging table with the
 * same (conv, seq) key, moved into `messages` every 1,000 messages in one transaction ("move", which another
 * thread would run). The COMMIT then writes a few index pages per batch instead of one per conversation.
 *
 * Usage: `deno run --allow-read --allow-write=/tmp --allow-env tests/bench/append_statements.ts
 * [--batch 50] [--messages 200000] [--read-seq-rows] [--staging]`
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parseArgs } from "node:util";
import { checkpointInBackground } from "../../lib/store/sqlite_checkpointer.ts";
import { SqliteConnection } from "../../lib/store/sqlite_connection.ts";
import { SqliteStore } from "../../lib/store/sqlite_store.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    batch: { type: "string", default: "50" },
    messages: { type: "string", default: "200000" },
    staging: { type: "boolean", default: false },
    "read-seq-rows": { type: "boolean", default: false },
  },
});
const batchSize = Number(values.batch);
const total = Number(values.messages);
if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 100) {
  throw new RangeError(`--batch must be an integer from 1 to 100, got ${values.batch}`);
}
if (!Number.isSafeInteger(total) || total < batchSize) {
  throw new RangeError(`--messages must be an integer of at least --batch, got ${values.messages}`);
}
const table = values.staging ? "staging" : "messages";
const MOVE_EVERY = 1000;
const readSeqRows = values["read-seq-rows"];

const dir = await Deno.makeTempDir({ prefix: "append-statements-" });
const path = `${dir}/chat.db`;
const store = SqliteStore.open(path, { backgroundCheckpoints: false });
await store.migrate();
await store.close();

// The statements' own connection, checkpointed by a worker as the server's is.
const connection = SqliteConnection.open(path, { busyTimeoutMs: 5000, synchronous: "normal" });
const checkpointer = checkpointInBackground(connection, path);
const db: DatabaseSync = connection.database();
if (values.staging) {
  db.exec(
    "CREATE TABLE staging (conv TEXT NOT NULL, seq INTEGER NOT NULL, sender INTEGER NOT NULL, " +
      "ts INTEGER NOT NULL, mid TEXT NOT NULL, cmid TEXT, frame TEXT NOT NULL, PRIMARY KEY (conv, seq)) STRICT",
  );
}
const sql = {
  begin: "BEGIN IMMEDIATE",
  dataVersion: "PRAGMA data_version",
  blocked: "SELECT 1 FROM blocks WHERE blocker = ? AND blocked = ?",
  insert: `INSERT INTO ${table} (conv, seq, sender, ts, mid, cmid, frame) VALUES (?, ?, ?, ?, ?, ?, ?) ` +
    "ON CONFLICT (sender, cmid) WHERE cmid IS NOT NULL DO NOTHING",
  // Version 4: the sender's read seq moves with the last seq (?3: the lower id's, ?4: the higher's, 0: none).
  newConv: "INSERT INTO conversations (conv, lastseq, lowsentseq, highsentseq) VALUES (?1, ?2, ?3, ?4)",
  setLastSeq: "UPDATE conversations SET lastseq = ?2, lowsentseq = max(lowsentseq, ?3), " +
    "highsentseq = max(highsentseq, ?4) WHERE conv = ?1",
  raiseRead: "UPDATE read_seqs SET readseq = max(readseq, ?3) WHERE userid = ?1 AND conv = ?2",
  addRead: "INSERT INTO read_seqs (userid, conv, readseq) VALUES (?, ?, ?)",
  commit: "COMMIT",
};
if (values.staging) sql.insert = sql.insert.replace(/ ON CONFLICT.*/, "");
if (readSeqRows) {
  sql.newConv = "INSERT INTO conversations (conv, lastseq) VALUES (?1, ?2)";
  sql.setLastSeq = "UPDATE conversations SET lastseq = ?2 WHERE conv = ?1";
}
const statement = Object.fromEntries(
  Object.entries(sql).map(([name, text]) => [name, db.prepare(text)]),
) as Record<keyof typeof sql, ReturnType<DatabaseSync["prepare"]>>;

const spent = new Map<string, number>();
function timed<T>(what: string, fn: () => T): T {
  const start = performance.now();
  try {
    return fn();
  } finally {
    spent.set(what, (spent.get(what) ?? 0) + performance.now() - start);
  }
}

const lastSeqs = new Map<string, number>();

/** The sent seq columns' arguments for a message of `seq` by the conversation's lower id or its higher. */
function sentSeqs(byLow: boolean, seq: number): { lowSent: number; highSent: number } {
  return byLow ? { lowSent: seq, highSent: 0 } : { lowSent: 0, highSent: seq };
}
let sent = 0;
let turn = 0;
/** One batch: message i of the batch goes to conversation (turn + i) mod 100, from either side in turn. */
function appendBatch(): void {
  timed("BEGIN", () => statement.begin.run());
  timed("data_version", () => statement.dataVersion.get());
  const moves: { conv: string; sender: bigint; seq: number; lowSent: number; highSent: number }[] = [];
  for (let i = 0; i < batchSize; i++) {
    const pair = (turn + i) % 100;
    const low = pair + 1;
    const high = pair + 101;
    const sender = Math.floor((turn + i) / 100) % 2 === 0 ? low : high;
    const peer = sender === low ? high : low;
    const conv = `u:${low}:${high}`;
    timed("block lookup", () => statement.blocked.get(BigInt(peer), BigInt(sender)));
    const seq = (lastSeqs.get(conv) ?? 0) + 1;
    const ts = Date.now();
    const frame = JSON.stringify({
      msgid: 6,
      conv,
      seq,
      id: sender,
      name: `user${sender}`,
      toid: peer,
      msg: "x".repeat(32),
      time: "2026-12-03 10:00:00",
      mid: `m${sent + i}`,
      ts,
    });
    timed(
      "INSERT message",
      () => statement.insert.run(conv, seq, BigInt(sender), BigInt(ts), `m${sent + i}`, null, frame),
    );
    moves.push({ conv, sender: BigInt(sender), seq, ...sentSeqs(sender === low, seq) });
  }
  for (const { conv, seq, lowSent, highSent } of moves) {
    const args = readSeqRows ? [conv, seq] : [conv, seq, lowSent, highSent];
    if (lastSeqs.has(conv)) timed("UPDATE lastseq", () => statement.setLastSeq.run(...args));
    else statement.newConv.run(...args);
    lastSeqs.set(conv, seq);
  }
  if (readSeqRows) {
    for (const { conv, sender, seq } of moves) {
      timed("UPDATE read seq", () => {
        if (statement.raiseRead.run(sender, conv, seq).changes == 0) statement.addRead.run(sender, conv, seq);
      });
    }
  }
  timed("COMMIT", () => statement.commit.run());
  turn += batchSize;
  sent += batchSize;
  if (values.staging && sent % MOVE_EVERY < batchSize) {
    timed("move (another thread)", () =>
      db.exec(
        "BEGIN IMMEDIATE; INSERT INTO messages (conv, seq, sender, ts, mid, cmid, frame) " +
          "SELECT conv, seq, sender, ts, mid, cmid, frame FROM staging ORDER BY rowid; DELETE FROM staging; COMMIT",
      ));
  }
}

// Warm-up: the tables and the WAL reach their steady size.
while (sent < Math.min(20_000, total)) appendBatch();
spent.clear();
const from = sent;
const start = performance.now();
while (sent - from < total) appendBatch();
const elapsed = performance.now() - start;
const perMessage = (ms: number) => `${(ms * 1000 / (sent - from)).toFixed(2).padStart(6)} µs`;
console.log(
  `append transaction, batches of ${batchSize} over 100 conversations, ${sent - from} messages` +
    (values.staging ? ", through a staging table" : "") +
    (readSeqRows ? ", read seqs in read_seqs (schema version 3)" : "") + ":",
);
for (const [what, ms] of spent) console.log(`  ${perMessage(ms)}  ${what}`);
const moved = spent.get("move (another thread)") ?? 0;
console.log(
  `  ${
    perMessage(elapsed - moved)
  }  all but the move (wall clock, with the JavaScript around the statements)`,
);
await checkpointer.close();
connection.close();
await Deno.remove(dir, { recursive: true });
