import assert from "node:assert/strict";
import { parseBenchArgs, UsageError } from "./bench/args.ts";

Deno.test("parseBenchArgs() reads the issue 12 scenarios with their defaults", () => {
  const sync = parseBenchArgs(["sync"])!;
  assert.equal(sync.scenario, "sync");
  assert.equal(sync.messages, 10_000);
  assert.equal(sync.page, 1000);
  const tokens = parseBenchArgs(["tokens", "--workers", "50"])!;
  assert.equal(tokens.scenario, "tokens");
  assert.equal(tokens.workers, 50);
  const soak = parseBenchArgs(["soak"])!;
  assert.deepEqual([soak.devices, soak.drops, soak.fault, soak.duration], [1, false, undefined, 30]);
  assert.equal(parseBenchArgs(["pingpong"])!.ceiling, false);
});

Deno.test("parseBenchArgs() reads --ceiling, --page, --devices, --drops and --fault", () => {
  assert.equal(parseBenchArgs(["pingpong", "--ceiling", "--repeats", "3"])!.ceiling, true);
  assert.equal(parseBenchArgs(["sync", "--page", "250"])!.page, 250);
  const soak = parseBenchArgs(["soak", "--cluster", "--devices", "3", "--drops", "--fault", "redis"])!;
  assert.deepEqual([soak.devices, soak.drops, soak.fault, soak.cluster], [3, true, "redis", true]);
  for (const fault of ["kill", "mariadb", "redis"]) {
    assert.equal(parseBenchArgs(["soak", "--cluster", "--fault", fault])!.fault, fault);
  }
});

Deno.test("parseBenchArgs() reads --redis-cluster for pingpong and soak across nodes, with its own faults", () => {
  assert.equal(parseBenchArgs(["pingpong", "--cluster"])!.redisCluster, false);
  assert.equal(
    parseBenchArgs(["pingpong", "--cluster", "--redis-cluster", "--repeats", "3"])!.redisCluster,
    true,
  );
  for (const fault of ["master", "reshard"]) {
    const soak = parseBenchArgs(["soak", "--cluster", "--redis-cluster", "--fault", fault])!;
    assert.deepEqual([soak.redisCluster, soak.fault], [true, fault]);
  }
  const cases: [string[], RegExp][] = [
    [["pingpong", "--redis-cluster"], /--redis-cluster is for pingpong --cluster and soak --cluster/],
    [["group", "--redis-cluster"], /--redis-cluster is for pingpong --cluster and soak --cluster/],
    [["pingpong", "--cluster", "--redis-cluster", "--v1"], /--redis-cluster runs this server \(v2\)/],
    [["pingpong", "--cluster", "--redis-cluster", "--baseline", "HEAD"], /--redis-cluster runs this server/],
    [["soak", "--cluster", "--fault", "master"], /--fault master is for soak --cluster --redis-cluster/],
    [["soak", "--cluster", "--fault", "reshard"], /--fault reshard is for soak --cluster --redis-cluster/],
    [["soak", "--cluster", "--redis-cluster", "--fault", "redis"], /--fault redis is for one Redis/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseBenchArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("parseBenchArgs() refuses the new flags out of range or on the wrong scenario, naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["sync", "--page", "0"], /--page must be an integer from 1 to 1000, got "0"/],
    [["sync", "--page", "1001"], /--page must be an integer from 1 to 1000/],
    [["sync", "--page", "x"], /--page must be an integer/],
    [["soak", "--devices", "0"], /--devices must be an integer from 1 to 20, got "0"/],
    [["soak", "--devices", "21"], /--devices must be an integer from 1 to 20/],
    [["pingpong", "--devices", "2"], /--devices is for the soak scenario/],
    [["sync", "--drops"], /--drops is for the soak scenario/],
    [
      ["soak", "--cluster", "--fault", "disk"],
      /--fault must be one of kill, mariadb, redis, master, reshard, got "disk"/,
    ],
    [["soak", "--fault", "kill"], /--fault is for soak --cluster/],
    [["pingpong", "--cluster", "--fault", "kill"], /--fault is for soak --cluster/],
    [["sync", "--ceiling"], /--ceiling is for the pingpong scenario/],
    [["pingpong", "--ceiling", "--cluster"], /--ceiling compares one node/],
    [["pingpong", "--ceiling", "--v1"], /--ceiling compares one node/],
    [["pingpong", "--ceiling", "--endpoints", "127.0.0.1:1"], /--ceiling compares one node/],
    [["tokens", "--cluster"], /--cluster is for the pingpong and soak scenarios/],
    [["nosuch"], /unknown scenario "nosuch"; one of .*tokens, sync/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseBenchArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("parseBenchArgs() reads --baseline for pingpong, group, idle and tokens, and the kick scenario's defaults", () => {
  assert.equal(parseBenchArgs(["pingpong"])!.baseline, undefined);
  assert.equal(parseBenchArgs(["group"])!.baseline, undefined);
  const pingpong = parseBenchArgs([
    "pingpong",
    "--baseline",
    "d0d2d5b",
    "--duration",
    "3",
    "--repeats",
    "5",
  ])!;
  assert.deepEqual([pingpong.baseline, pingpong.duration, pingpong.repeats], ["d0d2d5b", 3, 5]);
  assert.equal(parseBenchArgs(["group", "--baseline", "v3.0.0"])!.baseline, "v3.0.0");
  const idle = parseBenchArgs(["idle", "--baseline", "main", "--connections", "19000", "--pairs", "50"])!;
  assert.deepEqual([idle.baseline, idle.connections, idle.pairs], ["main", 19_000, 50]);
  assert.equal(parseBenchArgs(["pingpong", "--baseline", "main~2", "--v1"])!.baseline, "main~2");
  const cluster = parseBenchArgs(["pingpong", "--baseline", "d0d2d5b", "--cluster"])!;
  assert.deepEqual([cluster.baseline, cluster.cluster], ["d0d2d5b", true]);
  const tokens = parseBenchArgs(["tokens", "--baseline", "HEAD", "--repeats", "3"])!;
  assert.deepEqual([tokens.baseline, tokens.repeats], ["HEAD", 3]);
  const kick = parseBenchArgs(["kick"])!;
  assert.deepEqual([kick.scenario, kick.members, kick.messages], ["kick", 999, 200]);
  const group = parseBenchArgs(["group"])!;
  assert.deepEqual([group.members, group.messages], [100, 10_000]);
  assert.deepEqual(
    [parseBenchArgs(["kick", "--members", "3", "--messages", "10"])!.members, 3],
    [3, 3],
  );
});

Deno.test("parseBenchArgs() refuses --baseline where it cannot run and a bad kick group, naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["pingpong", "--baseline=-A"], /--baseline wants a commit \(hash or ref\), got "-A"/],
    [["pingpong", "--baseline", "a..b"], /--baseline wants a commit/],
    [["pingpong", "--baseline", "a b"], /--baseline wants a commit/],
    [["pingpong", "--baseline", ""], /--baseline wants a commit/],
    [["sync", "--baseline", "d0d2d5b"], /--baseline is for the pingpong, group, idle and tokens scenarios/],
    [["kick", "--baseline", "d0d2d5b"], /--baseline is for the pingpong, group, idle and tokens scenarios/],
    [["pingpong", "--baseline", "d0d2d5b", "--ceiling"], /--baseline starts both servers itself/],
    [["group", "--baseline", "d0d2d5b", "--endpoints", "127.0.0.1:1"], /--baseline starts both servers/],
    [["group", "--baseline", "d0d2d5b", "--cluster"], /--cluster is for the pingpong and soak scenarios/],
    [["idle", "--baseline", "d0d2d5b", "--endpoints", "127.0.0.1:1"], /--baseline starts both servers/],
    [["kick", "--members", "2"], /--members must be an integer from 3 to 100000, got "2"/],
    [["kick", "--cluster"], /--cluster is for the pingpong and soak scenarios/],
    [["tokens", "--baseline", "HEAD", "--endpoints", "127.0.0.1:1"], /--baseline starts both servers/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseBenchArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match(error.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("parseBenchArgs() reads the restart scenario: devices from --connections, pairs from --storm-pairs", () => {
  const defaults = parseBenchArgs(["restart"])!;
  assert.deepEqual(
    [defaults.scenario, defaults.connections, defaults.stormPairs, defaults.repeats, defaults.rate],
    ["restart", 10_000, 10, 1, undefined],
  );
  const given = parseBenchArgs(["restart", "--connections", "500", "--storm-pairs", "4", "--repeats", "2"])!;
  assert.deepEqual([given.connections, given.stormPairs, given.repeats], [500, 4, 2]);
  assert.throws(
    () => parseBenchArgs(["restart", "--connections", "0"]),
    new UsageError('--connections must be an integer from 1 to 1000000, got "0"'),
  );
  assert.throws(() => parseBenchArgs(["restart", "--cluster"]), UsageError);
});

Deno.test("parseBenchArgs() reads --v8-flags for one node and refuses what is not a V8 flag or a cluster", () => {
  assert.equal(parseBenchArgs(["tokens"])!.v8Flags, undefined);
  assert.equal(
    parseBenchArgs(["pingpong", "--baseline", "HEAD", "--v8-flags=--max-semi-space-size=4"])!.v8Flags,
    "--max-semi-space-size=4",
  );
  assert.equal(
    parseBenchArgs(["tokens", "--v8-flags=--max-semi-space-size=8,--trace-gc"])!.v8Flags,
    "--max-semi-space-size=8,--trace-gc",
  );
  const cases: [string[], RegExp][] = [
    [
      ["tokens", "--v8-flags", "max-semi-space-size=4"],
      /--v8-flags wants V8 flags .*got "max-semi-space-size=4"/,
    ],
    [["tokens", "--v8-flags=--x --allow-all"], /--v8-flags wants V8 flags/],
    [["tokens", "--v8-flags=--x=$(id)"], /--v8-flags wants V8 flags/],
    [["pingpong", "--cluster", "--v8-flags=--max-semi-space-size=4"], /--v8-flags is for one node/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseBenchArgs(args), (error: unknown) => {
      assert.ok(error instanceof UsageError, `${args.join(" ")}: ${error}`);
      assert.match((error as Error).message, message);
      return true;
    });
  }
});
