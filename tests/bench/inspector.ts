/**
 * A minimal Chrome DevTools Protocol client for a node started with `--inspect`: forced garbage collections,
 * heap usage and heap snapshots (`heap_census.ts`, and the idle scenario, which collects garbage before each
 * reading so that what it reads is what the connections keep, not garbage their logins left).
 *
 * @module
 */

/** Bytes and object count per kind ("object:Connection", "closure:", "(array)" …). */
export type Census = Map<string, { count: number; size: number }>;

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
export class Inspector {
  readonly #ws: WebSocket;
  readonly #pending = new Map<number, (result: unknown) => void>();
  #next = 0;
  #chunks: string[] = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.id !== undefined) {
        this.#pending.get(message.id)?.(message.result);
        this.#pending.delete(message.id);
      } else if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
      }
    };
  }

  static async connect(port: number): Promise<Inspector> {
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.#next;
    const { promise, resolve } = Promise.withResolvers<unknown>();
    this.#pending.set(id, resolve);
    this.#ws.send(JSON.stringify({ id, method, params }));
    return promise;
  }

  /** Two full garbage collections (the second frees what the first's finalizers let go). */
  async collectGarbage(): Promise<void> {
    await this.call("HeapProfiler.collectGarbage");
    await this.call("HeapProfiler.collectGarbage");
  }

  /** The V8 heap's used bytes, as the last collection left it plus what was allocated since. */
  async heapUsed(): Promise<number> {
    const usage = await this.call("Runtime.getHeapUsage") as { usedSize: number };
    return usage.usedSize;
  }

  async census(): Promise<Census> {
    await this.collectGarbage();
    this.#chunks = [];
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const snapshot = JSON.parse(this.#chunks.join("")) as HeapSnapshot;
    this.#chunks = [];
    const fields = snapshot.snapshot.meta.node_fields;
    const types = snapshot.snapshot.meta.node_types[0];
    const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((field) => fields.indexOf(field));
    const census: Census = new Map();
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
      const type = types[snapshot.nodes[i + typeAt]];
      const named = type === "object" || type === "closure" || type === "native";
      const key = named ? `${type}:${snapshot.strings[snapshot.nodes[i + nameAt]]}` : `(${type})`;
      const entry = census.get(key) ?? { count: 0, size: 0 };
      entry.count++;
      entry.size += snapshot.nodes[i + sizeAt];
      census.set(key, entry);
    }
    return census;
  }

  close(): void {
    this.#ws.close();
  }
}
