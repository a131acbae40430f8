/** The protocol suite against the embedded default (SQLite in memory, in-process bus). */
import { startTestNode } from "./harness/chat_node.ts";
import { devicesSuite } from "./devices_suite.ts";
import { protocolSuite } from "./protocol_suite.ts";

protocolSuite("embedded", () => startTestNode());

devicesSuite("embedded", (overrides) => startTestNode(overrides));
