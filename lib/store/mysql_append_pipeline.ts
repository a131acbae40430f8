/**
 * The MySQL append pipelined (issue 12): while batches queue, batch N's second round trip (its INSERTs and
 * COMMIT) and batch N+1's first (START TRANSACTION, the conversations' upsert, the reads of seqs and blocks)
 * go as ONE multi-statement query, so a node pays about one round trip per batch instead of two.
 *
 * Only a batch's optimistic first attempt is pipelined. Anything else (blocks found, a repeated cmid, a lock
 * conflict) rolls back and runs that batch through {@linkcode appendOn}, the two-trip path with its retries.
 * When a combined query fails, the server stopped at the failing statement: batch N committed exactly when its
 * first row is stored, which a read after the ROLLBACK tells.
 *
 * @module
 */

import type { Connection, RowDataPacket } from "mysql2/promise";
import { isFatalMysqlError } from "../db/errors.ts";
import {
  appendOn,
  checkMessage,
  type FirstPart,
  type Pending,
  planBatch,
  secondPart,
} from "./mysql_append.ts";
import { type MysqlConnections, rollbackAfter } from "./mysql_connections.ts";
import { formatSql, runTexts, type Statement } from "./mysql_script.ts";
import type { AppendedMessage, AppendResult, NewMessage } from "./store.ts";

/**
 * How long one call chains batches at most: the whole call runs under the store's query timeout (10 s by
 * default), so a queue that never empties is served by several calls.
 */
const CHAIN_MS = 1_000;

/** A batch whose first round trip was sent: its plan and the results (or the error) of that round trip. */
interface Open {
  batch: Pending[];
  plan: FirstPart;
  outcome: { results: unknown[] } | { error: unknown };
}

function texts(statements: readonly Statement[]): string[] {
  return statements.map(({ sql, values }) => formatSql(sql, values));
}

/**
 * Stores the batches `next` hands out (until it returns `undefined`), in order, calling `done` with each
 * batch's results in that order. Rejects on a failure that broke the connection or could not be retried: the
 * caller fails every batch it handed out without a `done`.
 */
export async function appendBatches(
  connections: MysqlConnections,
  next: () => NewMessage[] | undefined,
  done: (results: AppendResult[]) => void,
): Promise<void> {
  const started = Date.now();
  const more = () => (Date.now() - started < CHAIN_MS ? next() : undefined);
  await connections.use(async ({ connection }) => {
    let messages = next();
    let open: Open | undefined;
    while (messages !== undefined || open !== undefined) {
      if (open === undefined) {
        const batch = messages!.map(checkMessage);
        const plan = planBatch(batch, new Map(), new Set(), true);
        open = {
          batch,
          plan,
          outcome: await attempt(connection, ["START TRANSACTION", ...texts(plan.statements)]),
        };
      }
      const { batch, plan, outcome } = open;
      open = undefined;
      const read = "results" in outcome ? plan.read(outcome.results) : undefined;
      if (read === undefined || read.found.size > 0) {
        // The first round trip failed, or found blocks: the two-trip path, with its retries.
        if ("error" in outcome && isFatalMysqlError(outcome.error)) throw outcome.error;
        await rollbackAfter(connection, "error" in outcome ? outcome.error : undefined);
        done(await appendOn(connection, batch));
        messages = more();
        continue;
      }
      const earlier = new Map<string, AppendedMessage>();
      const second = secondPart(batch, earlier, new Set(), read.nextSeq);
      const following = more();
      let nextBatch: Pending[] | undefined;
      let nextPlan: FirstPart | undefined;
      let badNext: unknown;
      try {
        nextBatch = following?.map(checkMessage);
        nextPlan = nextBatch && planBatch(nextBatch, new Map(), new Set(), true);
      } catch (error) {
        badNext = error;
      }
      const query = [...texts(second.statements), "COMMIT"];
      if (nextPlan) query.push("START TRANSACTION", ...texts(nextPlan.statements));
      const sent = await attempt(connection, query);
      if ("results" in sent) {
        done(second.results);
        if (nextPlan) {
          open = {
            batch: nextBatch!,
            plan: nextPlan,
            outcome: { results: sent.results.slice(sent.results.length - nextPlan.statements.length) },
          };
        }
      } else {
        if (isFatalMysqlError(sent.error)) throw sent.error;
        await rollbackAfter(connection, sent.error);
        // Batch N committed exactly when its first row is there; otherwise it runs again on its own.
        done(
          await isStored(connection, second.firstRow) ? second.results : await appendOn(connection, batch),
        );
        if (nextPlan) open = { batch: nextBatch!, plan: nextPlan, outcome: { error: sent.error } };
      }
      if (badNext !== undefined) throw badNext;
      messages = nextPlan ? undefined : more();
    }
  });
}

/** The results of the statements `query`, or the error that stopped them. */
async function attempt(
  connection: Connection,
  query: string[],
): Promise<{ results: unknown[] } | { error: unknown }> {
  try {
    return { results: await runTexts(connection, query) };
  } catch (error) {
    return { error };
  }
}

/** Whether the message row `[conv, seq, mid]` is stored (`undefined`: the batch stored no row). */
async function isStored(connection: Connection, row: unknown[] | undefined): Promise<boolean> {
  if (row === undefined) return true;
  const [conv, seq, mid] = row;
  const [rows] = await connection.query(
    formatSql("SELECT 1 FROM messages WHERE conv = ? AND seq = ? AND mid = ?", [
      conv as string,
      seq as number,
      mid as string,
    ]),
  );
  return (rows as RowDataPacket[]).length > 0;
}
