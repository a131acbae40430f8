/**
 * The operator's HTTP endpoint (`--metrics-port`): `/metrics` in Prometheus text format and
 * `/healthz`, 200 when every dependency answers and 503 naming the ones that do not.
 */
import type { Registry } from "./metrics.ts";

/** A dependency the health check calls; it rejects when unreachable. */
export interface HealthCheck {
  name: string;
  check(): Promise<void>;
}

/** Options for {@linkcode serveOps}. */
export interface OpsEndpointOptions {
  hostname: string;
  port: number;
  registry: Registry;
  checks: HealthCheck[];
  /** A dependency slower than this counts as down (default 2000 ms). */
  checkTimeoutMs?: number;
}

/** Starts the endpoint; resolves with the server once it listens. */
export async function serveOps(options: OpsEndpointOptions): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: () => listening.resolve(),
  }, async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/metrics") {
      return new Response(options.registry.render(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    }
    if (path === "/healthz") return await health(options.checks, options.checkTimeoutMs ?? 2000);
    return new Response("not found\n", { status: 404 });
  });
  await listening.promise;
  return server;
}

async function health(checks: HealthCheck[], timeoutMs: number): Promise<Response> {
  const results = await Promise.all(checks.map(async ({ name, check }) => {
    const timeout = Promise.withResolvers<never>();
    const timer = setTimeout(() => timeout.reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    try {
      await Promise.race([check(), timeout.promise]);
      return { name, ok: true, error: undefined };
    } catch (error) {
      return { name, ok: false, error: error instanceof Error ? error.message : String(error) };
    } finally {
      clearTimeout(timer);
    }
  }));
  const ok = results.every((result) => result.ok);
  const body = JSON.stringify({
    status: ok ? "ok" : "unavailable",
    checks: Object.fromEntries(results.map((r) => [r.name, r.ok ? "ok" : r.error])),
  });
  return new Response(body + "\n", {
    status: ok ? 200 : 503,
    headers: { "content-type": "application/json" },
  });
}
