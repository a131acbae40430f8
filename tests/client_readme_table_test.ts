/** README.md "The client" documents every command of the client's table, as `help` spells its usage. */
import assert from "node:assert/strict";
import { COMMANDS, usage } from "../lib/client/commands.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The first cell of each row of the command table in README.md's "The client" section. */
function documentedCommands(readme: string): string[] {
  const section = readme.slice(readme.indexOf("## The client"), readme.indexOf("## Configuration"));
  return section.split("\n").flatMap((line) => {
    const cell = /^\| `([^`]+)`/.exec(line);
    return cell ? [cell[1].replaceAll("\\|", "|")] : [];
  });
}

Deno.test("README.md: the client's command table has a row for every command, in help's order", () => {
  assert.deepEqual(documentedCommands(README), COMMANDS.map(usage));
});
