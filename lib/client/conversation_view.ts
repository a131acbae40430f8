/**
 * What the client shows of kept conversations (PROTOCOL.md msgids 16–19): incoming messages in `seq` order
 * (`ConversationTracker`), the SYNC list's unread counts and read seqs (`ConversationList`), `history` and
 * `more` (HISTORY, paged backwards), `read` (READ) and RECEIPTs.
 */
import { MsgId } from "../protocol/msg_id.ts";
import type { Frame } from "./connection.ts";
import { ConversationList } from "./conversation_list.ts";
import { ConversationTracker } from "./conversation_tracker.ts";
import { type ChatMessage, type Group, readConvList, readMessagePage, type Receipt } from "./model.ts";
import type { Renderer, Unread } from "./render.ts";

/** Options for {@linkcode ConversationView}. */
export interface ConversationViewOptions {
  /** A request the user asked for: resolves the successful reply, or `undefined` once the failure is shown. */
  request(action: string, frame: Record<string, unknown>): Promise<Frame | undefined>;
  /** A request of the client's own (SYNC): resolves the successful reply, or `undefined` without a word. */
  quietRequest(frame: Record<string, unknown>): Promise<Frame | undefined>;
  /** Shows an incoming message, once its turn in its conversation has come. */
  show(message: ChatMessage): void;
  result(text: string): void;
  error(text: string): void;
  render: Renderer;
  /** The logged-in user's id. */
  me(): number;
  /** `bob (2)` or `group devs #5`: how the output names a conversation. */
  label(conv: string): string;
  /** The user's groups, to name a group message's group. */
  groups(): Iterable<Group>;
  /** A name seen in a history page, for later output. */
  learnName(id: number, name: string): void;
}

/** A `history` being paged backwards with `more`. */
interface Paging {
  conv: string;
  /** Older than this seq; 0 for the newest messages. */
  before: number;
  count: number;
}

/**
 * The user's conversations as this client shows them.
 *
 * @example
 * ```ts
 * import { Renderer } from "./render.ts";
 *
 * const view = new ConversationView({
 *   request: () => Promise.resolve(undefined),
 *   quietRequest: () => Promise.resolve(undefined),
 *   show: (message) => console.log(message.msg),
 *   result: console.log,
 *   error: console.error,
 *   render: new Renderer({ color: false }),
 *   me: () => 1,
 *   label: (conv) => conv,
 *   groups: () => [],
 *   learnName: () => {},
 * });
 * view.accept({ id: 2, name: "bob", toid: 1, msg: "hi", time: "", conv: "u:1:2", seq: 1 });
 * ```
 */
export class ConversationView {
  readonly #options: ConversationViewOptions;
  readonly #tracker: ConversationTracker;
  readonly #list = new ConversationList();
  #paging: Paging | undefined;

  constructor(options: ConversationViewOptions) {
    this.#options = options;
    this.#tracker = new ConversationTracker({
      fetchAfter: async (conv, after) => {
        const reply = await options.quietRequest({ msgid: MsgId.SYNC, conv, after });
        return reply ? readMessagePage(reply) : undefined;
      },
      show: options.show,
    });
  }

  /** An incoming chat message: shown in order, once. */
  accept(message: ChatMessage): void {
    this.#tracker.accept(message);
  }

  /** A message this client sent took `seq` in `conv` (its ACK said so): nothing to show for it. */
  placeOwn(conv: string, seq: number): void {
    this.#tracker.accept(conv, seq, "own");
  }

  /**
   * Asks for the SYNC list: unread counts, and a gap fill for conversations that moved on (what a
   * reconnect missed). A server without SYNC leaves everything as it was.
   */
  async refresh(): Promise<void> {
    const reply = await this.#options.quietRequest({ msgid: MsgId.SYNC });
    if (!reply) return;
    const list = readConvList(reply);
    this.#list.replace(list);
    for (const summary of list) this.#tracker.listed(summary.conv, summary.lastseq);
  }

  /** Unread counts of the last SYNC list, by user and by group. */
  unread(nameOf: (id: number) => string): Unread {
    return this.#list.unread(this.#options.me(), nameOf);
  }

  /** A RECEIPT: the other side's read seq (history's read marks), or the user's own from another device. */
  receipt(receipt: Receipt): void {
    this.#list.receipt(receipt, this.#options.me());
  }

  /** `history`: the newest `count` messages of `conv`. */
  async history(conv: string, count: number): Promise<boolean> {
    this.#paging = undefined;
    return await this.#page({ conv, before: 0, count }, false);
  }

  /** `more`: the page before the last one shown. */
  async more(): Promise<boolean> {
    if (!this.#paging) {
      this.#options.error(
        this.#options.render.error("more: nothing older to show; start with: history <user|g:group> [n]"),
      );
      return false;
    }
    return await this.#page(this.#paging, true);
  }

  /** `read`: READ up to the conversation's last seq, as a fresh SYNC list gives it. */
  async read(conv: string): Promise<boolean> {
    const { render, label } = this.#options;
    await this.refresh();
    const last = Math.max(this.#list.get(conv)?.lastseq ?? 0, this.#tracker.shown(conv) ?? 0);
    if (last === 0) {
      this.#options.result(render.ok(`nothing to mark read: no messages with ${label(conv)}`));
      return true;
    }
    const reply = await this.#options.request("read", { msgid: MsgId.READ, conv, seq: last });
    if (!reply) return false;
    const readseq = Number.isSafeInteger(reply.readseq) ? reply.readseq as number : last;
    this.#list.read(conv, readseq);
    this.#options.result(render.ok(`read up to #${readseq} with ${label(conv)}`));
    return true;
  }

  /** Resolves once no gap is being filled. */
  settled(): Promise<void> {
    return this.#tracker.idle();
  }

  /** The session ended: a `history` cannot go on with `more`. */
  endSession(): void {
    this.#paging = undefined;
  }

  /** Another user (or none): forget every conversation. */
  clear(): void {
    this.#paging = undefined;
    this.#tracker.clear();
    this.#list.clear();
  }

  async #page(paging: Paging, older: boolean): Promise<boolean> {
    const { render, label } = this.#options;
    const frame = { msgid: MsgId.HISTORY, conv: paging.conv, limit: paging.count };
    const reply = await this.#options.request(
      older ? "more" : "history",
      paging.before > 0 ? { ...frame, before: paging.before } : frame,
    );
    if (!reply) return false;
    const page = readMessagePage(reply);
    for (const message of page.messages) if (message.name) this.#options.learnName(message.id, message.name);
    const oldest = page.messages[0]?.seq;
    this.#paging = page.more && oldest !== undefined ? { ...paging, before: oldest } : undefined;
    // Named after the page: its messages may have taught the name.
    const title = `history ${paging.conv.startsWith("g:") ? "of" : "with"} ${label(paging.conv)}`;
    this.#options.result(
      render.history(title, page, {
        me: this.#options.me(),
        peerread: this.#list.get(paging.conv)?.peerread,
        groups: this.#options.groups(),
        older,
      }),
    );
    return true;
  }
}
