/** The client's login tokens: where they are kept (`state_dir.ts`), how (`token_store.ts`), and `LoginTokens`. */
import assert from "node:assert/strict";
import { TokenStoreError } from "../lib/client/errors.ts";
import { LoginTokens } from "../lib/client/login_tokens.ts";
import { resolveStateDir } from "../lib/client/state_dir.ts";
import { privateDirProblem, type TokenKey, TokenStore } from "../lib/client/token_store.ts";

const KEY: TokenKey = { server: "127.0.0.1:6000", userId: 1, device: "default" };

/** A fresh directory under /tmp, removed after `fn`. */
async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "chat-client-state-" });
  try {
    await fn(dir);
  } finally {
    await Deno.chmod(dir, 0o700).catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
}

async function listNames(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

const modeOf = async (path: string) => ((await Deno.stat(path)).mode ?? 0) & 0o777;

Deno.test("TokenStore.save() creates the directory 0700 and a 0600 file that load() reads back", async () => {
  await withTempDir(async (root) => {
    const dir = `${root}/state/chat-client`;
    const store = new TokenStore({ dir });
    assert.equal(await store.load(KEY), undefined, "nothing saved yet");
    await store.save(KEY, "token-one");
    assert.equal(await modeOf(dir), 0o700);
    assert.equal(await modeOf(`${root}/state`), 0o700, "directories it creates on the way are private too");
    const [name] = await listNames(dir);
    assert.match(name, /^token-[0-9a-f]{32}\.json$/);
    assert.equal(await modeOf(`${dir}/${name}`), 0o600);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/${name}`)), {
      server: KEY.server,
      id: 1,
      device: "default",
      token: "token-one",
    });
    assert.equal(await store.load(KEY), "token-one");
  });
});

Deno.test("TokenStore keeps one file per server, user and device", async () => {
  await withTempDir(async (dir) => {
    const store = new TokenStore({ dir });
    const keys: TokenKey[] = [
      KEY,
      { ...KEY, userId: 2 },
      { ...KEY, device: "phone/../../x ~" },
      { ...KEY, server: "example.org:6000" },
    ];
    for (const [i, key] of keys.entries()) await store.save(key, `t${i}`);
    assert.equal((await listNames(dir)).length, 4);
    for (const [i, key] of keys.entries()) assert.equal(await store.load(key), `t${i}`);
    await store.remove(keys[1]);
    assert.equal(await store.load(keys[1]), undefined);
    assert.equal(await store.load(keys[0]), "t0", "removing one leaves the others");
    await store.remove(keys[1]);
  });
});

Deno.test("TokenStore.save() replaces the file by renaming a new one over it, leaving no temporary file", async () => {
  await withTempDir(async (dir) => {
    const store = new TokenStore({ dir });
    await store.save(KEY, "old");
    const [name] = await listNames(dir);
    const before = await Deno.stat(`${dir}/${name}`);
    await store.save(KEY, "new");
    const after = await Deno.stat(`${dir}/${name}`);
    assert.notEqual(
      after.ino,
      before.ino,
      "a new file took the name: the old one was never written in place",
    );
    assert.deepEqual(await listNames(dir), [name]);
    assert.equal(await store.load(KEY), "new");
    assert.equal(await modeOf(`${dir}/${name}`), 0o600);
  });
});

Deno.test("TokenStore.save() refuses a directory open to other users and leaves the old token as it was", async () => {
  await withTempDir(async (dir) => {
    const store = new TokenStore({ dir });
    await store.save(KEY, "old");
    await Deno.chmod(dir, 0o755);
    await assert.rejects(
      () => store.save(KEY, "new"),
      (error: Error) => {
        assert.ok(error instanceof TokenStoreError);
        assert.match(error.message, new RegExp(`${dir} is open to other users \\(mode 755\\)`));
        return true;
      },
    );
    assert.equal(await store.load(KEY), "old");
    assert.equal((await listNames(dir)).length, 1, "the temporary file is removed");
  });
});

Deno.test("TokenStore.save() reports a path it cannot write with the path and the reason", async () => {
  await withTempDir(async (root) => {
    await Deno.writeTextFile(`${root}/file`, "");
    const store = new TokenStore({ dir: `${root}/file` });
    await assert.rejects(() => store.save(KEY, "t"), (error: Error) => {
      assert.ok(error instanceof TokenStoreError);
      assert.match(error.message, new RegExp(`cannot save the login token to ${root}/file/token-`));
      return true;
    });
  });
});

Deno.test("TokenStore.load() ignores a file that is not JSON or belongs to another key", async () => {
  await withTempDir(async (dir) => {
    const store = new TokenStore({ dir });
    await store.save(KEY, "mine");
    const [name] = await listNames(dir);
    await Deno.writeTextFile(`${dir}/${name}`, "not json");
    assert.equal(await store.load(KEY), undefined);
    // Another key's content under this key's name (copied by hand): not used for the wrong login.
    await Deno.writeTextFile(`${dir}/${name}`, JSON.stringify({ ...KEY, id: 2, token: "theirs" }));
    assert.equal(await store.load(KEY), undefined);
    await Deno.writeTextFile(
      `${dir}/${name}`,
      JSON.stringify({ server: KEY.server, id: 1, device: "default" }),
    );
    assert.equal(await store.load(KEY), undefined);
  });
});

Deno.test("TokenStore without a directory does nothing and says why", async () => {
  const store = new TokenStore({ unavailable: "no permission" });
  assert.equal(store.unavailable, "no permission");
  assert.equal(store.dir, undefined);
  await store.save(KEY, "t");
  assert.equal(await store.load(KEY), undefined);
  await store.remove(KEY);
});

Deno.test("privateDirProblem() accepts only a directory of the same owner with no group or other bits", () => {
  assert.equal(privateDirProblem("/s", { uid: 1000, mode: 0o40700 }, 1000), undefined);
  assert.equal(privateDirProblem("/s", { uid: null, mode: 0o700 }, null), undefined);
  assert.equal(
    privateDirProblem("/s", { uid: 0, mode: 0o40700 }, 1000),
    "/s belongs to another user (uid 0)",
  );
  assert.equal(
    privateDirProblem("/s", { uid: 1000, mode: 0o40750 }, 1000),
    "/s is open to other users (mode 750); make it private with chmod 700 /s",
  );
  assert.match(privateDirProblem("/s", { uid: 1000, mode: 0o41777 }, 1000)!, /mode 777/);
});

Deno.test("resolveStateDir() takes --state-dir, then CHAT_CLIENT_STATE, XDG_STATE_HOME, HOME", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const all = { CHAT_CLIENT_STATE: "/c", XDG_STATE_HOME: "/x", HOME: "/h" };
  const yes = () => true;
  assert.deepEqual(resolveStateDir("/flag", env(all), yes), { dir: "/flag" });
  assert.deepEqual(resolveStateDir(undefined, env(all), yes), { dir: "/c" });
  assert.deepEqual(resolveStateDir(undefined, env({ XDG_STATE_HOME: "/x", HOME: "/h" }), yes), {
    dir: "/x/chat-client",
  });
  assert.deepEqual(resolveStateDir(undefined, env({ HOME: "/h" }), yes), {
    dir: "/h/.local/state/chat-client",
  });
  assert.deepEqual(
    resolveStateDir(undefined, env({ XDG_STATE_HOME: "relative", HOME: "/h" }), yes),
    { dir: "/h/.local/state/chat-client" },
    "a relative XDG_STATE_HOME is ignored, as the XDG spec says",
  );
  assert.deepEqual(resolveStateDir(undefined, env({ CHAT_CLIENT_STATE: "", HOME: "/h" }), yes), {
    dir: "/h/.local/state/chat-client",
  });
  assert.deepEqual(resolveStateDir(undefined, env({}), yes), {
    unavailable: "neither --state-dir nor $CHAT_CLIENT_STATE nor $HOME is set",
  });
});

Deno.test("resolveStateDir() stops at a variable it may not read and at a directory it may not use", () => {
  const denied = (name: string) => name === "CHAT_CLIENT_STATE" ? null : "/h";
  assert.deepEqual(resolveStateDir(undefined, denied, () => true), {
    unavailable:
      "cannot tell whether $CHAT_CLIENT_STATE is set (run with --allow-env=CHAT_CLIENT_STATE,XDG_STATE_HOME,HOME)",
  });
  assert.deepEqual(resolveStateDir("/flag", denied, () => false), {
    unavailable: "no permission for /flag (run with --allow-read=/flag --allow-write=/flag)",
  });
});

Deno.test("resolveStateDir() asks Deno's permissions, never prompting: /tmp is granted to the tests, /etc is not", () => {
  assert.deepEqual(resolveStateDir("/tmp/chat-client-x"), { dir: "/tmp/chat-client-x" });
  assert.match(
    (resolveStateDir("/etc/chat-client") as { unavailable: string }).unavailable,
    /no permission for \/etc\/chat-client/,
  );
});

Deno.test("LoginTokens keeps a token in memory and on disk, writing only changes, forgetting both", async () => {
  await withTempDir(async (dir) => {
    const notices: string[] = [];
    const store = new TokenStore({ dir });
    const options = { store, server: "h:1", device: undefined, notice: (text: string) => notices.push(text) };
    const tokens = new LoginTokens(options);
    assert.equal(await tokens.find(1), undefined);
    await tokens.keep(1, "a");
    const key = { server: "h:1", userId: 1, device: "default" };
    assert.equal(await store.load(key), "a");
    const [name] = await listNames(dir);
    const written = (await Deno.stat(`${dir}/${name}`)).ino;
    await tokens.keep(1, "a");
    assert.equal((await Deno.stat(`${dir}/${name}`)).ino, written, "the same token is not written again");

    // A restarted client finds it on disk.
    const restarted = new LoginTokens(options);
    assert.equal(await restarted.find(1), "a");
    await restarted.forget(1);
    assert.equal(await restarted.find(1), undefined);
    assert.equal(await store.load(key), undefined);
    assert.deepEqual(notices, []);

    const phone = new LoginTokens({ ...options, device: "phone" });
    await phone.keep(1, "p");
    assert.equal(await store.load({ ...key, device: "phone" }), "p", "the device is part of the key");
  });
});

Deno.test("LoginTokens says once that tokens cannot be kept, and still keeps them in memory", async () => {
  const notices: string[] = [];
  const tokens = new LoginTokens({
    store: new TokenStore({ unavailable: "no permission for /x" }),
    server: "h:1",
    device: "d",
    notice: (text) => notices.push(text),
  });
  await tokens.keep(1, "a");
  await tokens.keep(2, "b");
  assert.equal(await tokens.find(1), "a");
  assert.equal(tokens.unavailable, "no permission for /x");
  assert.deepEqual(notices, ["login tokens are not kept after the client exits: no permission for /x"]);

  await withTempDir(async (dir) => {
    await Deno.chmod(dir, 0o755);
    const failing = new LoginTokens({
      store: new TokenStore({ dir }),
      server: "h:1",
      device: "d",
      notice: (text) => notices.push(text),
    });
    await failing.keep(1, "a");
    await failing.keep(1, "b");
    assert.equal(notices.length, 2);
    assert.match(notices[1], /cannot keep the login token in .* is open to other users/);
  });
});
