/**
 * LOGIN while the bus is unreachable (Redis down): errno 11 with a clear message, logged as a warning, and
 * nothing left behind (no claim, no subscription), so the same device logs in once the bus is back.
 */
import assert from "node:assert/strict";
import { LocalBus } from "../lib/bus/local_bus.ts";
import { ChatService } from "../lib/service/chat_service.ts";
import { hashPassword } from "../lib/service/password.ts";
import { SqliteStore } from "../lib/store/sqlite_store.ts";
import { RecordingConnection, RecordingLogger } from "./harness/service_fakes.ts";

const sanitized = { sanitizeOps: true, sanitizeResources: true };

/** A `LocalBus` whose chosen call fails as ioredis does while Redis is down. */
class FlakyBus extends LocalBus {
  down: "claimDevice" | "subscribe" | undefined;

  override claimDevice(userId: number, device: string, maxDevices: number) {
    if (this.down === "claimDevice") return Promise.reject(new Error("Stream isn't writeable"));
    return super.claimDevice(userId, device, maxDevices);
  }

  override subscribe(userId: number) {
    if (this.down === "subscribe") return Promise.reject(new Error("Stream isn't writeable"));
    return super.subscribe(userId);
  }
}

for (const down of ["claimDevice", "subscribe"] as const) {
  Deno.test(
    `LOGIN while the bus's ${down} fails is errno 11; once it is back the device logs in`,
    sanitized,
    async () => {
      await using store = SqliteStore.open(":memory:");
      await store.migrate();
      const id = await store.createUser("bob", await hashPassword("pw"));
      const bus = new FlakyBus("n1");
      const log = new RecordingLogger();
      const service = new ChatService({ store, bus, log });
      const login = async () => {
        const connection = new RecordingConnection();
        service.onOpen(connection);
        await service.onFrame(
          connection,
          JSON.stringify({ msgid: 1, v: 2, id, password: "pw", device: "phone", cid: 1 }),
        );
        return connection;
      };
      bus.down = down;
      const refused = await login();
      assert.deepEqual(refused.frames(), [{
        msgid: 2,
        errno: 11,
        errmsg: "server busy: the message bus is unavailable; try again",
        cid: 1,
      }]);
      assert.deepEqual(log.problems().map((line) => line.split(" {")[0]), [
        "warn login refused: the bus is unreachable",
      ]);
      assert.equal(service.context.sessions.size, 0);
      bus.down = undefined;
      const accepted = await login();
      assert.equal(accepted.frames()[0].errno, 0, JSON.stringify(accepted.frames()));
      await service.endAllLogins();
      await bus.close();
    },
  );
}
