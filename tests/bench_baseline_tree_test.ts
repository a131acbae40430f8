import assert from "node:assert/strict";
import { extractBaseline } from "./bench/baseline_tree.ts";
import { seedUsers } from "./bench/users.ts";
import { makeTempDir, removeTempDir } from "./harness/temp_dir.ts";

/** The release before issue 13, which the README's side-by-side figures use. */
const RELEASE = "d0d2d5b";

Deno.test("extractBaseline() extracts a commit's tree, whose own store seeds users; close() removes it", async () => {
  const tree = await extractBaseline(RELEASE);
  const dir = await makeTempDir("chat-baseline-test-");
  try {
    assert.match(tree.hash, /^d0d2d5b[0-9a-f]{33}$/);
    assert.equal(tree.commit, RELEASE);
    for (const file of ["main.ts", "deno.json", "lib/store/sqlite_store.ts", "sql/sqlite/001_initial.sql"]) {
      assert.ok((await Deno.stat(`${tree.dir}/${file}`)).isFile, file);
    }
    // The release has no 003 migration: the seeding ran its migrations, not this checkout's.
    await assert.rejects(Deno.stat(`${tree.dir}/sql/sqlite/003_social.sql`), Deno.errors.NotFound);
    const users = await seedUsers(`${dir}/chat.db`, 3, { cost: "cheap", tree: tree.dir });
    assert.deepEqual(users.map((user) => user.id), [1, 2, 3]);
  } finally {
    await tree.close();
    await removeTempDir(dir);
  }
  await assert.rejects(Deno.stat(tree.dir), Deno.errors.NotFound);
});

Deno.test("extractBaseline() names a commit this repository does not have", async () => {
  await assert.rejects(
    extractBaseline("0000000000000000000000000000000000000000"),
    /--baseline 0000000000000000000000000000000000000000: not a commit of this repository/,
  );
  await assert.rejects(extractBaseline("no-such-ref"), /--baseline no-such-ref: not a commit/);
});
