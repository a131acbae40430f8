/**
 * Leveled logging to stderr, as text or one JSON object per line. Callers pass fields, never
 * passwords: nothing here redacts.
 */

/** Log levels, most verbose first. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Options for {@linkcode Logger}. */
export interface LoggerOptions {
  level?: LogLevel;
  format?: "text" | "json";
  nodeId?: string;
}

/** Whether `value` names a log level. */
export function isLogLevel(value: string): value is LogLevel {
  return value in RANK;
}

/**
 * @example
 * ```ts
 * const log = new Logger({ level: "info", nodeId: "n1" });
 * log.info("login", { user: 7, conn: 3 });
 * ```
 */
export class Logger {
  readonly #rank: number;
  readonly #json: boolean;
  readonly #nodeId: string | undefined;
  readonly #encoder = new TextEncoder();

  constructor(options: LoggerOptions = {}) {
    this.#rank = RANK[options.level ?? "info"];
    this.#json = options.format === "json";
    this.#nodeId = options.nodeId;
  }

  debug(event: string, fields?: Record<string, unknown>): void {
    this.#write("debug", event, fields);
  }
  info(event: string, fields?: Record<string, unknown>): void {
    this.#write("info", event, fields);
  }
  warn(event: string, fields?: Record<string, unknown>): void {
    this.#write("warn", event, fields);
  }
  error(event: string, fields?: Record<string, unknown>): void {
    this.#write("error", event, fields);
  }

  #write(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#rank) return;
    const time = new Date().toISOString();
    let text: string;
    if (this.#json) {
      text = JSON.stringify({ time, level, node: this.#nodeId, event, ...fields }, errorReplacer);
    } else {
      const rest = Object.entries(fields).map(([key, value]) =>
        `${key}=${typeof value === "string" ? value : JSON.stringify(value, errorReplacer)}`
      );
      text = [time, level.toUpperCase(), this.#nodeId ?? "-", event, ...rest].join(" ");
    }
    Deno.stderr.writeSync(this.#encoder.encode(text + "\n"));
  }
}

function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  return value;
}
