/**
 * The receiving side of the Redis bus: subscriptions to users' channels, incoming frames handed to the
 * node's handler, resent frames recognised (receiver dedup), and acks batched back to publishers. The
 * protocol it answers is described in `redis_publisher.ts`, the payloads in `redis_wire.ts`.
 *
 * A frame counts as taken (its resends are only acknowledged again) once the handler took it. While the
 * handler's promise is pending, a resend waits for its outcome; when it rejects (the node's offline store
 * failed) or resolves false, the frame and every resend of it are declined, so the publisher stores it.
 *
 * @module
 */
import type { Redis } from "ioredis";
import { describeError } from "../describe_error.ts";
import type { Logger } from "../log.ts";
import type { BusHandler, BusMessage } from "./bus.ts";
import { DURABLE_CODE, NACK, TOKEN_LENGTH } from "./redis_wire.ts";

/**
 * How long a receiver remembers the last frame it took from a publisher's stream: far above the time a
 * resend can come after the frame (the ack timeout plus the lease, see `redis_publisher.ts`).
 */
const STREAM_MEMORY_MS = 60_000;
/** At most this many acks wait for the command connection to come back (its outage may be long). */
const MAX_UNSENT_ACKS = 10_000;
/** At most this many frames whose handler is still running or failed are remembered (oldest dropped). */
const MAX_UNSETTLED = 10_000;

/** Options for {@linkcode Receiver}. */
export interface ReceiverOptions {
  /** Commands and PUBLISH (the acks). */
  cmd: Redis;
  /** SUBSCRIBE / UNSUBSCRIBE. */
  sub: Redis;
  /** Prefix of the users' channels: `{keyPrefix}user:`. */
  channelPrefix: string;
  /** Prefix of the publishers' ack channels: `{keyPrefix}ack:`. */
  ackPrefix: string;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
}

/**
 * Subscriptions and incoming frames of one node. The owning bus routes the subscriber connection's
 * messages on users' channels to {@linkcode Receiver.onMessage}, and calls the housekeeping
 * (`retryUnsubscribes`, `forgetOldStreams`) with every lease renewal.
 *
 * Failure behaviour: `subscribe` rejects while Redis is unreachable; `unsubscribe` never rejects: it is
 * retried until Redis confirms it, and a frame that still arrives goes to the handler (which stores it)
 * and ends the subscription.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { Receiver } from "./redis_receiver.ts";
 *
 * const url = "redis://127.0.0.1:6380";
 * const sub = new Redis(url);
 * const receiver = new Receiver({
 *   cmd: new Redis(url),
 *   sub,
 *   channelPrefix: "chat:user:",
 *   ackPrefix: "chat:ack:",
 *   log: new Logger(),
 * });
 * receiver.setHandler({ onMessage: (message) => console.log(message.frame) });
 * sub.on("message", receiver.onMessage);
 * await receiver.subscribe(7);
 * ```
 */
export class Receiver {
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #channelPrefix: string;
  readonly #ackPrefix: string;
  readonly #log: Logger;
  #handler: BusHandler | undefined;

  /** Users whose frames this node wants. */
  readonly #subscribed = new Set<number>();
  /** Unsubscriptions Redis has not confirmed: retried on every renewal and when a stray frame arrives. */
  readonly #pendingUnsubscribes = new Set<number>();
  /** Acks to send, by publisher token; sent together once the frames of one read are handled. */
  readonly #outgoingAcks = new Map<string, string[]>();
  #ackFlushQueued = false;
  /** Acks whose PUBLISH failed (the command connection dropped), by publisher token: see `resendAcks`. */
  readonly #unsentAcks = new Map<string, string[]>();
  #unsentAckCount = 0;
  /** Per publisher stream, the highest sequence number taken (to recognise resent frames). */
  readonly #takenUpTo = new Map<string, { sequence: number; at: number }>();
  /**
   * Frames at or below their stream's high-water mark that were not taken (yet): the handler's promise is
   * still pending, or it rejected or resolved false. Keyed by `{stream}:{sequence}`; a resend of one is
   * answered with its outcome (ack or decline), never with a blind ack.
   */
  readonly #unsettled = new Map<string, { outcome: Promise<boolean>; at: number }>();

  /** Nothing is sent before the first call. */
  constructor(options: ReceiverOptions) {
    this.#cmd = options.cmd;
    this.#sub = options.sub;
    this.#channelPrefix = options.channelPrefix;
    this.#ackPrefix = options.ackPrefix;
    this.#log = options.log;
  }

  /** Where incoming frames go; without one every durable frame is declined. */
  setHandler(handler: BusHandler): void {
    this.#handler = handler;
  }

  /** The channel of `userId`'s frames. */
  channel(userId: number): string {
    return this.#channelPrefix + userId;
  }

  /** Starts receiving `userId`'s frames; rejects (and forgets the subscription) when Redis did not confirm it. */
  async subscribe(userId: number): Promise<void> {
    this.#subscribed.add(userId);
    this.#pendingUnsubscribes.delete(userId);
    try {
      await this.#sub.subscribe(this.channel(userId));
    } catch (error) {
      // Not subscribed as far as the caller knows: frames that still come (the reply was lost) end it.
      this.#subscribed.delete(userId);
      throw error;
    }
  }

  /** Forgets the subscription at once; Redis is told now, or with a later retry. Never rejects. */
  async unsubscribe(userId: number): Promise<void> {
    this.#subscribed.delete(userId);
    await this.#dropSubscription(userId);
  }

  /** Forgets the subscription without telling Redis (the bus is closing its connection anyway). */
  forget(userId: number): void {
    this.#subscribed.delete(userId);
  }

  /** Tells Redis again about unsubscriptions it has not confirmed. Never rejects. */
  async retryUnsubscribes(): Promise<void> {
    if (this.#pendingUnsubscribes.size === 0 || this.#sub.status !== "ready") return;
    await Promise.all([...this.#pendingUnsubscribes].map((id) => this.#dropSubscription(id)));
  }

  /** Resends come within a publisher's ack timeout and lease: a stream quiet for a minute will not see one. */
  forgetOldStreams(): void {
    const before = Date.now() - STREAM_MEMORY_MS;
    for (const [stream, taken] of this.#takenUpTo) if (taken.at < before) this.#takenUpTo.delete(stream);
    for (const [key, unsettled] of this.#unsettled) if (unsettled.at < before) this.#unsettled.delete(key);
  }

  /**
   * The command connection is back: sends the acks it lost. A publisher whose connections stayed up saw no
   * outage and resends nothing, so without this it would wait out its ack timeout and store the frame
   * offline as well; one that gave up meanwhile ignores them. Also called with every lease renewal: an ack
   * PUBLISH that timed out while the connection stayed up has no reconnect to wait for.
   */
  resendAcks(): void {
    if (this.#unsentAckCount === 0) return;
    const unsent = [...this.#unsentAcks];
    this.#unsentAcks.clear();
    this.#unsentAckCount = 0;
    for (const [token, sequences] of unsent) this.#sendAcks(token, sequences);
  }

  /** Drops every subscription from memory (the connection is closed). */
  clear(): void {
    this.#subscribed.clear();
    this.#pendingUnsubscribes.clear();
  }

  /** The hot path: no JSON; a few slices for the header and one for the frame. */
  readonly onMessage = (channel: string, payload: string): void => {
    const userId = Number(channel.slice(this.#channelPrefix.length));
    if (!this.#subscribed.has(userId) && !this.#pendingUnsubscribes.has(userId)) {
      // A subscription that outlived its unsubscribe (say, re-established by a reconnect): end it.
      void this.#dropSubscription(userId);
    }
    // Handled even when stray: the publisher counted this node as a receiver, so the handler must store it.
    if (payload.charCodeAt(0) !== DURABLE_CODE) {
      this.#handle({ userId, frame: payload.slice(1), durable: false });
      return;
    }
    const colon = payload.indexOf(":", 1 + TOKEN_LENGTH);
    const space = payload.indexOf(" ", colon);
    const origin = payload.slice(1, 1 + TOKEN_LENGTH);
    const stream = payload.slice(1, colon);
    const sequenceText = payload.slice(colon + 1, space);
    const sequence = Number(sequenceText);
    const taken = this.#takenUpTo.get(stream);
    if (taken && sequence <= taken.sequence) {
      const unsettled = this.#unsettled.get(payload.slice(1, space));
      // A resend of a frame whose handler is still running or failed: answered with its outcome, since a
      // blind ack would make the publisher neither deliver nor store it.
      if (unsettled) {
        void unsettled.outcome.then((took) => this.#queueAck(origin, ackText(took, sequenceText)));
      } // Resent after the publisher lost its connection, but taken already: only the ack was missing.
      else this.#queueAck(origin, sequenceText);
      return;
    }
    const handled = this.#handle({ userId, frame: payload.slice(space + 1), durable: true });
    if (handled === false) {
      // Declined: the publisher need not wait out its ack timeout to store the frame itself.
      this.#queueAck(origin, NACK + sequenceText);
      return;
    }
    if (taken) {
      taken.sequence = sequence;
      taken.at = Date.now();
    } else {
      this.#takenUpTo.set(stream, { sequence, at: Date.now() });
    }
    if (handled === true) this.#queueAck(origin, sequenceText);
    else this.#awaitHandler(handled, { userId, origin, key: payload.slice(1, space), sequenceText });
  };

  /**
   * A handler still working (the node is storing the user's earlier frames): acked once it took the frame,
   * declined when it declined or failed (the store is down), so the publisher stores the frame itself.
   * Remembered meanwhile and after a failure, so a resend is never taken for a frame already taken.
   */
  #awaitHandler(
    handled: Promise<unknown>,
    frame: { userId: number; origin: string; key: string; sequenceText: string },
  ): void {
    const outcome = handled.then(
      (took) => took !== false,
      (error) => {
        this.#log.error("bus handler failed", { user: frame.userId, error: describeError(error) });
        return false;
      },
    );
    this.#unsettled.set(frame.key, { outcome, at: Date.now() });
    if (this.#unsettled.size > MAX_UNSETTLED) this.#unsettled.delete(this.#unsettled.keys().next().value!);
    void outcome.then((took) => {
      if (took) this.#unsettled.delete(frame.key);
      this.#queueAck(frame.origin, ackText(took, frame.sequenceText));
    });
  }

  /**
   * Runs the handler: true when it took the frame, a promise when it will have, false when it declined
   * the frame or failed (no ack: the publisher stores it offline).
   */
  #handle(message: BusMessage): boolean | Promise<unknown> {
    if (!this.#handler) return false;
    try {
      const done = this.#handler.onMessage(message);
      if (done === false) return false;
      return done instanceof Promise ? done : true;
    } catch (error) {
      // Thrown inside ioredis's reply parser it would break the subscriber connection for every user.
      this.#log.error("bus handler failed", { user: message.userId, error: describeError(error) });
      return false;
    }
  }

  #queueAck(origin: string, sequence: string): void {
    const pending = this.#outgoingAcks.get(origin);
    if (pending) pending.push(sequence);
    else this.#outgoingAcks.set(origin, [sequence]);
    if (this.#ackFlushQueued) return;
    this.#ackFlushQueued = true;
    // ioredis emits every message of one read synchronously: one ack PUBLISH per publisher per read.
    queueMicrotask(() => {
      this.#ackFlushQueued = false;
      for (const [token, sequences] of this.#outgoingAcks) this.#sendAcks(token, sequences);
      this.#outgoingAcks.clear();
    });
  }

  /** One ack PUBLISH; when it fails, the acks wait for `resendAcks`. */
  #sendAcks(token: string, sequences: string[]): void {
    this.#cmd.publish(this.#ackPrefix + token, sequences.join(",")).catch(() => {
      // Dropping one is safe: the publisher resends after an outage of its own (and hears the ack again),
      // or times out and stores the frame offline (a duplicate, not a loss).
      if (this.#unsentAckCount + sequences.length > MAX_UNSENT_ACKS) return;
      this.#unsentAckCount += sequences.length;
      const unsent = this.#unsentAcks.get(token);
      if (unsent) unsent.push(...sequences);
      else this.#unsentAcks.set(token, sequences);
    });
  }

  async #dropSubscription(userId: number): Promise<void> {
    this.#pendingUnsubscribes.add(userId);
    try {
      await this.#sub.unsubscribe(this.channel(userId));
      // A new subscribe() after this one was sent later on the same connection, so it wins either way.
      this.#pendingUnsubscribes.delete(userId);
    } catch (error) {
      if (this.#subscribed.has(userId)) this.#pendingUnsubscribes.delete(userId);
      else {this.#log.debug("bus unsubscribe failed; will retry", {
          user: userId,
          error: describeError(error),
        });}
    }
  }
}

/** An ack's text for one sequence: itself when the frame was taken, with the decline prefix when not. */
function ackText(took: boolean, sequenceText: string): string {
  return took ? sequenceText : NACK + sequenceText;
}
