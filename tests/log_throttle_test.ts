/** `lib/log_throttle.ts`: a repeating event logged at most once per interval, with the count of the rest. */
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import { LogThrottle } from "../lib/log_throttle.ts";
import { RecordingLogger } from "./harness/service_fakes.ts";

const sanitize = { sanitizeOps: true, sanitizeResources: true };

function lines(log: RecordingLogger) {
  return log.entries.map(({ level, event, fields }) => [level, event, fields.remote, fields.count]);
}

Deno.test(
  "LogThrottle.note() logs the first event at once and the rest of the interval as one count",
  sanitize,
  async () => {
    const log = new RecordingLogger();
    const throttle = new LogThrottle(log, { level: "warn", event: "refused", intervalMs: 50 });
    for (let i = 1; i <= 5; i++) throttle.note({ remote: `r${i}` });
    assert.deepEqual(lines(log), [["warn", "refused", "r1", 1]], "one line at once, four counted");
    await delay(80);
    assert.deepEqual(lines(log), [["warn", "refused", "r1", 1], ["warn", "refused", "r5", 4]]);
    assert.equal(log.entries[1].fields.interval_s, 0.05);
    assert.equal(throttle.total, 5);
    throttle.stop();
  },
);

Deno.test("LogThrottle.note() after a quiet interval logs at once again", sanitize, async () => {
  const log = new RecordingLogger();
  const throttle = new LogThrottle(log, { level: "error", event: "accept failed", intervalMs: 30 });
  throttle.note({ remote: "a" });
  // The interval ends with nothing counted (no line), and the next one is quiet too.
  await delay(100);
  throttle.note({ remote: "b" });
  assert.deepEqual(lines(log), [["error", "accept failed", "a", 1], ["error", "accept failed", "b", 1]]);
  throttle.stop();
});

Deno.test(
  "LogThrottle.stop() logs what is still counted, stops its timer and is idempotent",
  sanitize,
  () => {
    const log = new RecordingLogger();
    const throttle = new LogThrottle(log, { level: "info", event: "e", intervalMs: 60_000 });
    throttle.note({ remote: "a" });
    throttle.note({ remote: "b" });
    throttle.note({ remote: "c" });
    throttle.stop();
    throttle.stop();
    assert.deepEqual(lines(log), [["info", "e", "a", 1], ["info", "e", "c", 2]]);
  },
);

Deno.test("LogThrottle refuses an interval that is not positive", () => {
  for (const intervalMs of [0, -1, NaN]) {
    assert.throws(
      () => new LogThrottle(new RecordingLogger(), { level: "warn", event: "e", intervalMs }),
      new RangeError(`LogThrottle: intervalMs must be > 0, got ${intervalMs}`),
    );
  }
});
