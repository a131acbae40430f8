import assert from "node:assert/strict";
import { INVALID_URL, redactUrl } from "../lib/redact_url.ts";

Deno.test("redactUrl() masks the password and keeps the user, host, port and path", () => {
  assert.equal(redactUrl("mysql://chat:s3cret@db:3306/chat"), "mysql://chat:***@db:3306/chat");
  assert.equal(redactUrl("redis://alice:s3cr3t-pw@127.0.0.1:6380/0"), "redis://alice:***@127.0.0.1:6380/0");
  assert.equal(redactUrl("mysql://chat:p%40ss@db:3306/chat"), "mysql://chat:***@db:3306/chat");
});

Deno.test("redactUrl() masks a password given without a user name", () => {
  assert.equal(redactUrl("redis://:s3cret@h:6380"), "redis://:***@h:6380");
  assert.equal(redactUrl("redis://:s3cret@h"), "redis://:***@h");
});

Deno.test("redactUrl() drops the query string and fragment, which may hold secrets too", () => {
  assert.equal(redactUrl("mysql://chat@db/chat?password=s3cret&ssl=1"), "mysql://chat@db/chat");
  assert.equal(redactUrl("redis://h:6380/0?password=s3cret#s3cret"), "redis://h:6380/0");
});

Deno.test("redactUrl() keeps a URL without secrets as it is", () => {
  assert.equal(redactUrl("mysql://root@127.0.0.1:1/chat"), "mysql://root@127.0.0.1:1/chat");
  assert.equal(redactUrl("redis://127.0.0.1:6380"), "redis://127.0.0.1:6380");
});

Deno.test("redactUrl() never echoes input that is not a URL with a host", () => {
  for (const input of ["s3cret", "pass:s3cret", "s3cret@host", "redis:s3cret", "", "  ", "http://"]) {
    const redacted = redactUrl(input);
    assert.equal(redacted, INVALID_URL, JSON.stringify(input));
  }
});
