/**
 * `pingpong --tls`: the same node (this checkout's `main.ts`, the same flags and store) started twice, once in
 * plain text and once with `--tls-cert`/`--tls-key` (a private CA and certificate made with `openssl` for the
 * run), measured in interleaved rounds like `--ceiling` so that both see the same machine. The figure is the
 * ratio of their median rates, TLS / plain: what encryption costs the chat port.
 *
 * @module
 */

import { makeTestPki } from "../harness/tls_certs.ts";
import type { BenchOptions } from "./args.ts";
import { interleavedRounds, medianRow, type Side, stalledNotes } from "./pingpong_ceiling.ts";
import { loginPairs, PingPong, WINDOW_HEADERS } from "./pingpong.ts";
import { ProcessWatch } from "./process_stats.ts";
import type { ScenarioResult } from "./report.ts";
import { median } from "./stats.ts";
import { startTarget, type Target } from "./target.ts";

type Name = "plain" | "tls";

/**
 * The order of the sides in `round` (1-based): the first side alternates, so neither always runs on a machine
 * that the other just warmed up.
 *
 * @example
 * ```ts
 * tlsRoundOrder(1); // ["plain", "tls"]
 * tlsRoundOrder(2); // ["tls", "plain"]
 * ```
 */
export function tlsRoundOrder(round: number): [Name, Name] {
  return round % 2 === 1 ? ["plain", "tls"] : ["tls", "plain"];
}

async function side(name: Name, target: Target, options: BenchOptions): Promise<Side<Name>> {
  const users = await target.prepareUsers(options.pairs * 2, options.hashCost ?? "cheap");
  return {
    name,
    engine: new PingPong(
      await loginPairs(users, target.endpoints, { v1: false, sequential: false }),
      users,
      { v1: false, msgBytes: options.msgBytes, rate: options.rate },
    ),
    watch: new ProcessWatch(target.watch.map((process) => ({ ...process, name: `${name} ${process.name}` }))),
    windows: [],
    stalled: 0,
  };
}

/** The `pingpong --tls` scenario. */
export async function pingpongOverTls(options: BenchOptions): Promise<ScenarioResult> {
  await using pki = await makeTestPki("chat bench CA");
  const files = await pki.serverCert("chat bench server");
  await using plainTarget = await startTarget(options);
  await using tlsTarget = await startTarget(options, { tls: { ...files, caCert: pki.caCert } });
  const sides: Record<Name, Side<Name>> = {
    plain: await side("plain", plainTarget, options),
    tls: await side("tls", tlsTarget, options),
  };
  const rows = await interleavedRounds(sides, tlsRoundOrder, options);
  const rates = (side: Side<Name>) => side.windows.map((w) => w.messagesPerSecond);
  const ratio = median(rates(sides.tls)) / median(rates(sides.plain));
  const byRound = rates(sides.tls).map((rate, round) => rate / rates(sides.plain)[round]);
  for (const side of [sides.plain, sides.tls]) rows.push(medianRow(side));
  rows.push(["tls / plain", `${ratio.toFixed(2)}x`, "", "", "", "", "", "", "", ""]);
  const stalled = stalledNotes([sides.plain, sides.tls]);
  return {
    title: `pingpong — ${options.pairs} pairs, the same node in plain text and over TLS`,
    headers: WINDOW_HEADERS,
    rows,
    notes: [
      `Plain: ${plainTarget.description}. TLS: ${tlsTarget.description}, an ECDSA P-256 certificate from a CA ` +
      `made for the run; the load generator verifies it (Deno.startTls on a TCP_NODELAY socket) like \`client.ts --ca\`.`,
      `${options.pairs} pairs each, ${options.msgBytes}-character messages, ${
        options.rate ? `paced at ${options.rate} messages/s per pair` : "closed loop"
      }; ${options.repeats} interleaved rounds (the first side alternates), ${options.warmup} s warm-up and ` +
      `${options.duration} s measured per side and round. The load generator encrypts too, in the same process.`,
      `TLS / plain (median rates): ${ratio.toFixed(2)}x; by round: ${
        byRound.map((r) => `${r.toFixed(2)}x`).join(", ")
      }.`,
      ...stalled,
    ],
    data: {
      plain: {
        target: plainTarget.description,
        serverArgs: plainTarget.serverArgs,
        windows: sides.plain.windows,
      },
      tls: { target: tlsTarget.description, serverArgs: tlsTarget.serverArgs, windows: sides.tls.windows },
      ratio,
      byRound,
    },
    failed: stalled.length > 0 ? stalled.join("; ") : undefined,
  };
}
