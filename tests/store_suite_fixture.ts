/**
 * What the shared store suite (`tests/store_suite.ts`) runs on, and the helpers its parts share. Each store's
 * test file supplies a {@linkcode StoreFixture} per case; the suite's parts (`store_suite_*.ts`) only see this.
 *
 * @module
 */

import type { AppendedMessage, NewMessage, Store } from "../lib/store/store.ts";

/** One case's store, plus what the contract cannot do through {@linkcode Store} itself. */
export interface StoreFixture extends AsyncDisposable {
  /** A migrated, empty store that the case owns (the current one, after {@linkcode StoreFixture.reopen}). */
  store: Store;
  /**
   * Closes `store` and opens a new store on the same database (a server restart); `store` becomes the new
   * one. Cases that need it fail on a fixture without it (see {@linkcode reopen}).
   */
  reopen?(): Promise<Store>;
  /** Adds an offline row as the first release stored it (`offlinemessage`), past the store. */
  insertLegacyOffline(userId: number, frame: string): Promise<void>;
}

/** The fixture's store closed and opened again on the same database; a case that needs this fails without it. */
export function reopen(fixture: StoreFixture): Promise<Store> {
  if (fixture.reopen === undefined) throw new Error("this case needs a fixture with reopen()");
  return fixture.reopen();
}

/** Registers one case: `title` is `<method> <criteria>`. */
export type SuiteTest = (title: string, fn: (fixture: StoreFixture) => Promise<void>) => void;

/** Names and frames that break naive quoting or encoding. Names stay within 50 characters (PROTOCOL.md). */
export const AWKWARD_NAMES = [
  `O'Brien "the" \\ back\\slash`,
  "Zoë 你好 مرحبا 😀👩‍👩‍👧",
  "'; DROP TABLE user; --",
  "%_ wildcards\ttab",
];

/** A frame as the service stores it: one JSON object with a chat message in it. */
export function chatFrame(from: number, msg: string): string {
  return JSON.stringify({ msgid: 6, id: from, name: "sender", toid: 0, msg, time: "2026-11-22 10:00:00" });
}

/** An id that none of `ids` is, nor any id the store handed out before them. */
export function missingId(...ids: number[]): number {
  return Math.max(0, ...ids) + 1_000_000;
}

let mids = 0;

/**
 * A chat message for `appendMessages`: its frame names conv, seq and text, so a test can see which message a
 * stored frame is.
 */
export function chat(
  conv: string,
  senderId: number,
  text: string,
  extra: Partial<NewMessage> = {},
): NewMessage {
  const mid = `mid-${++mids}`;
  return {
    conv,
    senderId,
    mid,
    ts: 1_795_000_000_000 + mids,
    frame: (seq) => JSON.stringify({ msgid: 6, conv, seq, id: senderId, msg: text, mid }),
    ...extra,
  };
}

/** The `msg` texts of stored frames, in the order given. */
export function texts(messages: readonly { frame: string }[]): string[] {
  return messages.map((message) => JSON.parse(message.frame).msg);
}

/** Creates users named by `names` and returns their ids in that order. */
export async function users(store: Store, ...names: string[]): Promise<number[]> {
  const ids = [];
  for (const name of names) ids.push(await store.createUser(name, `${name}-hash`));
  return ids;
}

/**
 * `store.appendMessages(messages)` for cases that expect every message stored (no block in the way): the
 * results as {@linkcode AppendedMessage}s, or an assertion error naming the blocked one.
 */
export async function append(store: Store, messages: NewMessage[]): Promise<AppendedMessage[]> {
  return (await store.appendMessages(messages)).map((result, i) => {
    if ("blocked" in result) throw new Error(`message ${i} to ${result.conv} was reported blocked`);
    return result;
  });
}
