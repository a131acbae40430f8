/**
 * The publishing side of the Redis bus's at-least-once delivery of durable frames.
 *
 * Pub/sub alone is at-most-once: PUBLISH counts a subscriber whose process was just killed, and the frames
 * in its socket are gone. So a durable frame is `true` only once the receiving node's handler took it: the
 * receiver answers on the publisher's ack channel, and a frame not acknowledged within `ackTimeoutMs` is
 * `false` (the caller stores it offline). The cost is a second hop of latency and one ack PUBLISH per
 * batch of frames.
 *
 * When one of the publisher's connections drops, the frames still waiting for an ack may or may not have
 * arrived (Redis restarted between the frame and its ack, say). They are published again, in order, once
 * both connections are back; the receiver (`redis_receiver.ts`) recognises a frame it took already and
 * only acknowledges it again. It can, because one publisher's frames reach one receiver in order and an
 * outage loses a suffix of them: per publisher "stream" (its token and a number bumped on every reconnect)
 * the receiver keeps the highest sequence number it took (and, apart, the frames below it whose handler is
 * still running or failed: their resends get that outcome, a decline for a failure, never a blind ack). A
 * PUBLISH Redis refused with an error reply never arrived: it is resent alone, in a stream of its own, so
 * later frames that did arrive do not make it look taken. A frame's ack clock does not run while it waits
 * for its resend: the outage and the reconnects (Redis down, the receiving node not resubscribed yet, so
 * PUBLISH counts nobody) are not the receiver's slowness. It starts again, with the full `ackTimeoutMs`,
 * when the frame is resent to a subscriber. Bounded all the same: `publish` resolves false at the latest
 * `ackTimeoutMs + outageGraceMs` after it was called (the bus passes its lease time: a node that is not
 * back by then counts as dead for presence too).
 *
 * The receiver, for its part, keeps the acks its own dropped connection lost (or a timed-out PUBLISH) and
 * sends them once it is back, and again with every lease renewal: a publisher whose connections stayed up
 * resends nothing, and hears them within its ack timeout.
 *
 * So a frame reaches its recipient twice (taken, then stored offline or taken elsewhere: a duplicate,
 * never a loss) only when its receiving node took it and no ack of it reached the publisher in time:
 * - the receiving node died (or closed) before its ack went out;
 * - only the receiving node was cut off from Redis, and its command connection was not back within the
 *   publisher's ack timeout (or more than 10,000 acks were waiting: `MAX_UNSENT_ACKS`);
 * - after an outage the resend did not reach that node by `ackTimeoutMs + outageGraceMs` after the
 *   publish (it resubscribed later, or the user left it meanwhile), or the user had moved to another node,
 *   which takes the resend as a new frame.
 *
 * @module
 */
import type { Redis } from "ioredis";
import type { Logger } from "../log.ts";
import type { BusMessage } from "./bus.ts";
import { BusUnavailableError } from "./errors.ts";
import { DURABLE, NACK, TRANSIENT } from "./redis_wire.ts";

/** Options for {@linkcode ReliablePublisher}. */
export interface ReliablePublisherOptions {
  /** Commands and PUBLISH. */
  cmd: Redis;
  /** The subscriber connection, where the acks arrive. */
  sub: Redis;
  /** This process's token: the ack channel's name and the publisher's id in durable payloads. */
  token: string;
  /** Prefix of the ack channels: `{keyPrefix}ack:`. */
  ackPrefix: string;
  /** How long a durable frame waits for an ack before `publish` resolves false. */
  ackTimeoutMs: number;
  /**
   * How much longer a frame whose connection dropped may wait to be resent and acknowledged (its ack clock
   * stops while it waits for the resend). Receivers must remember streams for longer than
   * `ackTimeoutMs + outageGraceMs`.
   */
  outageGraceMs: number;
  /** Where warnings about outages and failed handlers go. */
  log: Logger;
}

interface AckWaiter {
  resolve(received: boolean): void;
  /** `performance.now()` after which the frame counts as not received. */
  deadline: number;
  /** The latest deadline it can get, however its connections drop: `publish` is bounded. */
  giveUpAt: number;
  channel: string;
  payload: string;
  /** Its connection dropped before the ack came: to be published again. */
  resend?: boolean;
  /** Nodes that received it (PUBLISH's reply; unknown until that reply, which an ack may overtake). */
  receivers?: number;
  /** Nodes that declined it: once all receivers did, nobody took it. */
  declines: number;
}

/**
 * Publishes frames, and for durable ones waits for acks, resends across dropped connections and times
 * out. The owning bus routes the ack channel's messages to {@linkcode ReliablePublisher.onAcks} and tells
 * it about connections (`connectionLost`, `subscribeAcks` once the subscriber is ready).
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { Logger } from "../log.ts";
 * import { ReliablePublisher } from "./redis_publisher.ts";
 *
 * const url = "redis://127.0.0.1:6380";
 * const publisher = new ReliablePublisher({
 *   cmd: new Redis(url),
 *   sub: new Redis(url),
 *   token: crypto.randomUUID(),
 *   ackPrefix: "chat:ack:",
 *   ackTimeoutMs: 2000,
 *   outageGraceMs: 5000,
 *   log: new Logger(),
 * });
 * await publisher.subscribeAcks();
 * await publisher.publish("chat:user:7", { userId: 7, frame: '{"msgid":6}', durable: true });
 * ```
 */
export class ReliablePublisher {
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #token: string;
  readonly #ackTimeoutMs: number;
  readonly #outageGraceMs: number;
  readonly #log: Logger;
  /** Where receivers send acks: a restarted node never gets acks meant for its previous run. */
  readonly ackChannel: string;

  /** Durable frames published and not acknowledged yet, by sequence number. */
  readonly #awaitingAcks = new Map<number, AckWaiter>();
  #sequence = 0;
  /** Bumped whenever a connection drops: frames published after it are a new stream for the receivers. */
  #stream = 0;
  /** Whether Redis confirmed the subscription to the ack channel on the current connection. */
  #ackSubscribed = false;
  /** Some waiters must be published again (their connection dropped before the ack came). */
  #resendDue = false;
  #resending = false;
  #ackTimer: ReturnType<typeof setInterval> | undefined;

  /** Nothing is sent before the first call. */
  constructor(options: ReliablePublisherOptions) {
    this.#cmd = options.cmd;
    this.#sub = options.sub;
    this.#token = options.token;
    this.#ackTimeoutMs = options.ackTimeoutMs;
    this.#outageGraceMs = options.outageGraceMs;
    this.#log = options.log;
    this.ackChannel = options.ackPrefix + options.token;
  }

  /**
   * Transient frames: true when some node subscribed the channel. Durable frames: true once a receiving
   * node's handler took the frame; false when nobody subscribed, every receiver declined, or no ack came
   * within `ackTimeoutMs` of its last sending (`ackTimeoutMs + outageGraceMs` after the call at the
   * latest). Rejects with {@linkcode BusUnavailableError} when a durable frame could not be sent with a
   * way to hear its ack (nothing was sent).
   */
  async publish(channel: string, message: BusMessage): Promise<boolean> {
    if (!message.durable) return await this.#cmd.publish(channel, TRANSIENT + message.frame) > 0;
    if (!this.#ackSubscribed || this.#cmd.status !== "ready") {
      throw new BusUnavailableError(`${this.#cmd.status}/${this.#sub.status}`);
    }
    const sequence = ++this.#sequence;
    const payload = `${DURABLE}${this.#token}${this.#stream}:${sequence} ${message.frame}`;
    const { promise, resolve } = Promise.withResolvers<boolean>();
    const deadline = performance.now() + this.#ackTimeoutMs;
    const waiter: AckWaiter = {
      resolve,
      deadline,
      giveUpAt: deadline + this.#outageGraceMs,
      channel,
      payload,
      declines: 0,
    };
    // Registered first: the ack comes on the other connection and may overtake the PUBLISH reply.
    this.#awaitingAcks.set(sequence, waiter);
    this.#armAckTimer();
    try {
      waiter.receivers = await this.#cmd.publish(channel, payload);
      this.#settleIfAllDeclined(sequence, waiter);
    } catch (error) {
      if (error instanceof Error && error.name === "ReplyError") {
        // Redis refused it (it never arrived) while later frames of this stream may go through: resent
        // with the stream's sequence it would be below the receiver's high-water mark and acknowledged
        // unseen. Resent alone in a stream of its own instead (the next number; later frames use the one after).
        waiter.payload = `${DURABLE}${this.#token}${++this.#stream}:${sequence} ${message.frame}`;
        this.#stream++;
      }
      // Or sent, but the connection dropped or hung: it may have arrived. Resent once connected again.
      this.#markForResend(waiter);
    }
    return await promise;
  }

  /** An ack payload from the ack channel. */
  onAcks(payload: string): void {
    for (const text of payload.split(",")) {
      const declined = text.startsWith(NACK);
      const sequence = Number(declined ? text.slice(NACK.length) : text);
      const waiter = this.#awaitingAcks.get(sequence);
      if (!waiter) continue; // timed out already, or a second receiver's ack
      if (declined) {
        waiter.declines++;
        this.#settleIfAllDeclined(sequence, waiter);
      } else {
        this.#awaitingAcks.delete(sequence);
        waiter.resolve(true);
      }
    }
  }

  /** Whether Redis confirmed the ack channel's subscription on the current subscriber connection. */
  get acksSubscribed(): boolean {
    return this.#ackSubscribed;
  }

  /** Subscribes the ack channel; durable frames are sent only once Redis confirmed it. */
  async subscribeAcks(): Promise<void> {
    await this.#sub.subscribe(this.ackChannel);
    this.#ackSubscribed = true;
  }

  /** The subscriber connection dropped: no acks until it is subscribed again. */
  subscriberLost(): void {
    this.#ackSubscribed = false;
    this.connectionLost();
  }

  /** Frames waiting for an ack across a dropped connection may or may not have arrived: resend them. */
  connectionLost(): void {
    this.#stream++;
    for (const waiter of this.#awaitingAcks.values()) this.#markForResend(waiter);
  }

  /** Resolves every wait false (the callers store their frames offline) and stops the timer. */
  close(): void {
    this.#expireAcks(Infinity);
    clearInterval(this.#ackTimer);
    this.#ackTimer = undefined;
  }

  /**
   * False once every receiver declined (or there was none). A stray subscription on a node the user just
   * left declines while the node the user logged in on takes the frame: one decline is not enough.
   */
  #settleIfAllDeclined(sequence: number, waiter: AckWaiter): void {
    if (waiter.receivers === undefined || waiter.declines < waiter.receivers) return;
    if (this.#awaitingAcks.get(sequence) !== waiter) return;
    this.#awaitingAcks.delete(sequence);
    waiter.resolve(false);
  }

  /** Its ack cannot come before it is resent: the ack clock stops, the overall bound stays. */
  #markForResend(waiter: AckWaiter): void {
    waiter.resend = true;
    waiter.deadline = waiter.giveUpAt;
    this.#resendDue = true;
  }

  /** One timer for all waiters, running only while there are some. */
  #armAckTimer(): void {
    if (this.#ackTimer !== undefined) return;
    const timer = setInterval(() => {
      this.#expireAcks(performance.now());
      if (this.#resendDue) void this.#resend();
    }, Math.min(100, this.#ackTimeoutMs));
    Deno.unrefTimer(timer);
    this.#ackTimer = timer;
  }

  /** Resolves false every wait whose deadline is before `now`; stops the timer when none is left. */
  #expireAcks(now: number): void {
    let expired = 0;
    for (const [sequence, waiter] of this.#awaitingAcks) {
      // Not in insertion order: a resent frame's ack clock started again.
      if (waiter.deadline > now) continue;
      this.#awaitingAcks.delete(sequence);
      waiter.resolve(false);
      expired++;
    }
    if (expired > 0) {
      this.#log.warn("bus frames not acknowledged; the senders store them offline", { count: expired });
    }
    if (this.#awaitingAcks.size === 0) {
      clearInterval(this.#ackTimer);
      this.#ackTimer = undefined;
      this.#resendDue = false;
    }
  }

  /**
   * Publishes the marked waiters again, oldest first and one at a time, stopping at the first that nobody
   * receives yet (its node may not have resubscribed): a later frame must not reach a receiver before an
   * earlier one, or the receiver would take the earlier one for a resend it has seen.
   */
  async #resend(): Promise<void> {
    if (this.#resending || !this.#ackSubscribed || this.#cmd.status !== "ready") return;
    this.#resending = true;
    try {
      for (const [sequence, waiter] of [...this.#awaitingAcks]) {
        // Acknowledged or expired (the caller stored it offline) meanwhile: not again.
        if (!waiter.resend || !this.#awaitingAcks.has(sequence)) continue;
        // Reset before the PUBLISH: a decline of the resend may overtake its reply.
        waiter.declines = 0;
        waiter.receivers = undefined;
        const receivers = await this.#cmd.publish(waiter.channel, waiter.payload);
        if (receivers === 0) return;
        waiter.resend = false;
        waiter.deadline = Math.min(performance.now() + this.#ackTimeoutMs, waiter.giveUpAt);
        waiter.receivers = receivers;
        this.#settleIfAllDeclined(sequence, waiter);
      }
      this.#resendDue = false;
    } catch {
      // Dropped again: the next connection resends.
    } finally {
      this.#resending = false;
    }
  }
}
