/**
 * A small Prometheus text-format registry (exposition format 0.0.4): counters with labels and gauges
 * read at scrape time. Small on purpose: the well-known client (prom-client) leans on Node internals
 * we do not need, and this covers what the server exports.
 */

type Labels = Record<string, string | number>;

function labelText(labels: Labels | undefined): string {
  if (!labels) return "";
  const parts = Object.entries(labels).map(([key, value]) =>
    `${key}="${String(value).replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`
  );
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A monotonically increasing count, optionally split by one label. */
export class Counter {
  readonly #values = new Map<string, number>();
  constructor(readonly name: string, readonly help: string, readonly label?: string) {}

  inc(labelValue?: string | number, by = 1): void {
    const key = labelValue === undefined ? "" : String(labelValue);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /** The current value (for tests and health). */
  get(labelValue?: string | number): number {
    return this.#values.get(labelValue === undefined ? "" : String(labelValue)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0 && !this.label) lines.push(`${this.name} 0`);
    for (const [key, value] of this.#values) {
      lines.push(`${this.name}${this.label && key !== "" ? labelText({ [this.label]: key }) : ""} ${value}`);
    }
    return lines.join("\n");
  }
}

/** A value read when scraped; `read` returns one value or several labelled ones. */
export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly read: () => number | [Labels, number][],
    readonly type: "gauge" | "counter" = "gauge",
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    const value = this.read();
    if (typeof value === "number") lines.push(`${this.name} ${value}`);
    else for (const [labels, v] of value) lines.push(`${this.name}${labelText(labels)} ${v}`);
    return lines.join("\n");
  }
}

/**
 * @example
 * ```ts
 * const registry = new Registry();
 * const requests = registry.counter("chat_requests_total", "Requests by msgid", "msgid");
 * requests.inc(6);
 * registry.render();
 * ```
 */
export class Registry {
  readonly #metrics: (Counter | Gauge)[] = [];

  counter(name: string, help: string, label?: string): Counter {
    const counter = new Counter(name, help, label);
    this.#metrics.push(counter);
    return counter;
  }

  gauge(
    name: string,
    help: string,
    read: () => number | [Labels, number][],
    type?: "gauge" | "counter",
  ): Gauge {
    const gauge = new Gauge(name, help, read, type);
    this.#metrics.push(gauge);
    return gauge;
  }

  render(): string {
    return this.#metrics.map((metric) => metric.render()).join("\n") + "\n";
  }
}
