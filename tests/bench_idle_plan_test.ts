import assert from "node:assert/strict";
import {
  HOLDER_FD_MARGIN,
  IdleLimitError,
  planIdle,
  PORT_MARGIN,
  SERVER_FD_MARGIN,
} from "./bench/idle_plan.ts";

const PORTS = 60999 - 32768 + 1;

Deno.test("planIdle() keeps one address and one holder when the connections fit", () => {
  const plan = planIdle({
    connections: 10_000,
    others: 400,
    serverHardLimit: 20_000,
    holderLimit: 20_000,
    ephemeralPorts: PORTS,
  });
  assert.deepEqual(plan, {
    addresses: ["127.0.0.1"],
    serverHost: "127.0.0.1",
    holders: 1,
    perHolder: 20_000 - HOLDER_FD_MARGIN,
  });
});

Deno.test("planIdle() spreads 100,000 connections over addresses and holder processes", () => {
  const plan = planIdle({
    connections: 100_000,
    others: 400,
    serverHardLimit: 1_048_576,
    holderLimit: 40_000,
    ephemeralPorts: PORTS,
  });
  // 100,400 connections over 26,232 usable ports per address: 4 addresses.
  assert.equal(PORTS - PORT_MARGIN, 26_232);
  assert.deepEqual(plan.addresses, ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]);
  assert.equal(plan.serverHost, "0.0.0.0");
  assert.equal(plan.perHolder, 40_000 - HOLDER_FD_MARGIN);
  assert.equal(plan.holders, 3);
});

Deno.test("planIdle() with no hard limit needs one holder", () => {
  const plan = planIdle({
    connections: 100_000,
    others: 400,
    serverHardLimit: Infinity,
    holderLimit: Infinity,
    ephemeralPorts: PORTS,
  });
  assert.equal(plan.holders, 1);
  assert.equal(plan.addresses.length, 4);
});

Deno.test("planIdle() refuses more than the server's hard limit, naming the largest count that fits", () => {
  const fits = 20_000 - 400 - SERVER_FD_MARGIN;
  // The largest that fits is accepted…
  assert.equal(
    planIdle({
      connections: fits,
      others: 400,
      serverHardLimit: 20_000,
      holderLimit: 20_000,
      ephemeralPorts: PORTS,
    }).holders,
    1,
  );
  // …one more is not.
  assert.throws(
    () =>
      planIdle({
        connections: fits + 1,
        others: 400,
        serverHardLimit: 20_000,
        holderLimit: 20_000,
        ephemeralPorts: PORTS,
      }),
    (error: unknown) => {
      assert.ok(error instanceof IdleLimitError);
      assert.match(error.message, /hard limit \(ulimit -Hn\) is 20000/);
      assert.match(error.message, new RegExp(`largest count that fits is --connections ${fits}$`));
      return true;
    },
  );
  assert.throws(
    () =>
      planIdle({
        connections: 1,
        others: 400,
        serverHardLimit: 300,
        holderLimit: 300,
        ephemeralPorts: PORTS,
      }),
    /no idle connection fits/,
  );
});

Deno.test("planIdle() refuses a port range too small for the loopback addresses", () => {
  assert.throws(
    () =>
      planIdle({
        connections: 1000,
        others: 0,
        serverHardLimit: Infinity,
        holderLimit: Infinity,
        ephemeralPorts: PORT_MARGIN,
      }),
    /more than 254 loopback addresses of 0 ports each/,
  );
  assert.throws(
    () =>
      planIdle({
        connections: 10,
        others: 0,
        serverHardLimit: 20_000,
        holderLimit: 50,
        ephemeralPorts: PORTS,
      }),
    /a holder process may open only 50 files/,
  );
});
