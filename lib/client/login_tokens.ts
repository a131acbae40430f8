/**
 * The resume tokens of this client's device: the one of the current login in memory (so `reconnect` works
 * even when nothing may be written), and on disk through a {@linkcode TokenStore} (so a restarted client
 * logs in with `login <id>` alone). A token that cannot be kept on disk is said once, not at every login.
 */
import { TokenStoreError } from "./errors.ts";
import type { TokenKey, TokenStore } from "./token_store.ts";

/** The device a LOGIN without `device` is (PROTOCOL.md "Devices and resume tokens"). */
export const DEFAULT_DEVICE = "default";

/** Options for {@linkcode LoginTokens}. */
export interface LoginTokensOptions {
  store: TokenStore;
  /** `HOST:PORT` of the server. */
  server: string;
  /** `--device`; `undefined` is {@linkcode DEFAULT_DEVICE}. */
  device: string | undefined;
  /** Shows a notice (why tokens are not kept on disk). */
  notice: (text: string) => void;
}

/**
 * Tokens by user id for one server and device.
 *
 * @example
 * ```ts
 * import { TokenStore } from "./token_store.ts";
 *
 * const tokens = new LoginTokens({
 *   store: new TokenStore({ unavailable: "no --state-dir" }),
 *   server: "127.0.0.1:6000",
 *   device: undefined,
 *   notice: console.log,
 * });
 * await tokens.keep(1, "c2VjcmV0"); // notice: login tokens are not kept after the client exits: no --state-dir
 * await tokens.find(1); // "c2VjcmV0"
 * ```
 */
export class LoginTokens {
  readonly #options: LoginTokensOptions;
  readonly #memory = new Map<number, string>();
  #noticed = false;

  constructor(options: LoginTokensOptions) {
    this.#options = options;
  }

  /** The token to log in `userId` with: this run's, else the saved one. */
  async find(userId: number): Promise<string | undefined> {
    const known = this.#memory.get(userId);
    if (known !== undefined) return known;
    const saved = await this.#options.store.load(this.#key(userId));
    if (saved !== undefined) this.#memory.set(userId, saved);
    return saved;
  }

  /** Keeps the token a LOGIN_ACK carried; written to disk only when it changed. */
  async keep(userId: number, token: string): Promise<void> {
    if (this.#memory.get(userId) === token) return;
    this.#memory.set(userId, token);
    const unavailable = this.#options.store.unavailable;
    if (unavailable !== undefined) {
      return this.#noticeOnce(`login tokens are not kept after the client exits: ${unavailable}`);
    }
    try {
      await this.#options.store.save(this.#key(userId), token);
    } catch (error) {
      if (!(error instanceof TokenStoreError)) throw error;
      this.#noticeOnce(error.message);
    }
  }

  /** Forgets the user's token, here and on disk (logged out, or the server refused it). */
  async forget(userId: number): Promise<void> {
    this.#memory.delete(userId);
    try {
      await this.#options.store.remove(this.#key(userId));
    } catch (error) {
      if (!(error instanceof TokenStoreError)) throw error;
      this.#options.notice(error.message);
    }
  }

  /** Why tokens are not kept on disk, if they are not. */
  get unavailable(): string | undefined {
    return this.#options.store.unavailable;
  }

  #key(userId: number): TokenKey {
    return { server: this.#options.server, userId, device: this.#options.device ?? DEFAULT_DEVICE };
  }

  #noticeOnce(text: string): void {
    if (this.#noticed) return;
    this.#noticed = true;
    this.#options.notice(text);
  }
}
