/** What a node says when it cannot bind a listener. */
import assert from "node:assert/strict";
import { AddressInUseError, ListenDeniedError, listening } from "../lib/server.ts";

const address = { host: "127.0.0.1", port: 80 };

Deno.test("listening() turns a refused bind into ListenDeniedError naming the port and the flag", () => {
  assert.throws(
    () =>
      listening("metrics", "--metrics-port", address, () => {
        throw new Deno.errors.PermissionDenied("Permission denied (os error 13)");
      }),
    (error: unknown) => {
      assert.ok(error instanceof ListenDeniedError);
      assert.ok(!(error instanceof Deno.errors.PermissionDenied), "never taken for the database's problem");
      assert.match(error.message, /the metrics port 127\.0\.0\.1:80 .*choose another --metrics-port/);
      return true;
    },
  );
});

Deno.test("listening() turns an address in use into AddressInUseError, also when listen is async", async () => {
  await assert.rejects(
    listening("chat", "--port", address, () => Promise.reject(new Deno.errors.AddrInUse("in use"))),
    AddressInUseError,
  );
});

Deno.test("listening() lets other errors through unchanged", () => {
  const other = new Error("something else");
  assert.throws(() =>
    listening("chat", "--port", address, () => {
      throw other;
    }), (error: unknown) => error === other);
});
