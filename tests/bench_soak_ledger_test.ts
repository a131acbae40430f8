import assert from "node:assert/strict";
import { deviceNames, SoakLedger, type SoakTally, verdict } from "./bench/soak_ledger.ts";

const DEVICES = ["d0", "d1"];

/** A ledger of two devices per user and one acknowledged 1:1 message from user 1 (device 0) to user 2. */
function oneMessage(seq = 1) {
  const ledger = new SoakLedger(40, DEVICES);
  const { key, text } = ledger.newMessage(1, 0);
  ledger.acknowledged(key, [2], { conv: "u:1:2", seq, mid: `m${seq}`, dup: false });
  const frame = { msg: text, mid: `m${seq}`, conv: "u:1:2", seq };
  return { ledger, key, text, frame };
}

Deno.test("SoakLedger.newMessage() makes keys in send order that lead the text and fit a cmid", () => {
  const ledger = new SoakLedger(80, DEVICES);
  const first = ledger.newMessage(12, 3);
  const second = ledger.newMessage(12, 3);
  assert.match(first.key, /^[0-9a-f]{8}:12:3:0$/);
  assert.match(second.key, /^[0-9a-f]{8}:12:3:1$/);
  assert.ok(first.text.startsWith(`${first.key} `));
  assert.equal(first.text.length, 80);
  assert.ok(first.key.length <= 64 && /^[\x21-\x7e]+$/.test(first.key), "a valid cmid");
});

Deno.test("SoakLedger counts every device of every recipient: one missing device is one lost receipt", () => {
  const { ledger, frame, key } = oneMessage();
  ledger.received(2, "d0", frame, "live");
  assert.equal(ledger.outstanding(), 1);
  const tally = ledger.tally();
  assert.deepEqual([tally.expected, tally.delivered, tally.lost], [2, 1, 1]);
  assert.deepEqual(tally.lostSamples, [`${key} → 2/d1`]);
  ledger.received(2, "d1", frame, "offline");
  assert.equal(ledger.outstanding(), 0);
  const after = ledger.tally();
  assert.deepEqual([after.lost, after.deliveredLive, after.deliveredOffline], [0, 1, 1]);
  assert.equal(verdict(after, false), undefined);
});

Deno.test("SoakLedger counts a receipt that came before the ACK", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const { key, text } = ledger.newMessage(1, 0);
  ledger.received(2, "default", { msg: text, mid: "m", conv: "u:1:2", seq: 1 }, "live");
  ledger.acknowledged(key, [2], { conv: "u:1:2", seq: 1, mid: "m", dup: false });
  assert.deepEqual([ledger.tally().lost, ledger.tally().delivered], [0, 1]);
});

Deno.test("SoakLedger tells a redelivery with the same mid and seq (allowed) from a duplicate", () => {
  const { ledger, frame } = oneMessage(5);
  ledger.received(2, "d0", frame, "live");
  ledger.received(2, "d0", frame, "offline");
  ledger.received(2, "d1", frame, "live");
  let tally = ledger.tally();
  assert.deepEqual([tally.redelivered, tally.duplicated], [1, 0]);
  assert.equal(verdict(tally, false), undefined);
  // Stored twice: another mid and seq for the same message.
  ledger.received(2, "d1", { ...frame, mid: "m9", seq: 9 }, "live");
  // No seq to tell by.
  ledger.received(2, "d0", { msg: frame.msg, mid: "m5" }, "offline");
  tally = ledger.tally();
  assert.deepEqual([tally.redelivered, tally.duplicated], [1, 2]);
  assert.equal(tally.wrongSamples.length, 2);
  assert.match(verdict(tally, false)!, /^2 duplicated$/);
});

Deno.test("SoakLedger reports a message that came after a later one of its sender device as late, not out of order", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const first = ledger.newMessage(1, 0);
  const second = ledger.newMessage(1, 0);
  const other = ledger.newMessage(3, 0);
  ledger.acknowledged(first.key, [2], { conv: "u:1:2", seq: 1, mid: "a", dup: false });
  ledger.acknowledged(second.key, [2], { conv: "u:1:2", seq: 2, mid: "b", dup: false });
  ledger.acknowledged(other.key, [2], { conv: "u:2:3", seq: 1, mid: "c", dup: false });
  ledger.received(2, "default", { msg: other.text, mid: "c", conv: "u:2:3", seq: 1 }, "live");
  ledger.received(2, "default", { msg: second.text, mid: "b", conv: "u:1:2", seq: 2 }, "live");
  ledger.received(2, "default", { msg: first.text, mid: "a", conv: "u:1:2", seq: 1 }, "offline");
  const tally = ledger.tally();
  assert.deepEqual([tally.late, tally.reordered, tally.lost], [1, 0, 0]);
  assert.match(
    tally.lateSamples[0],
    /:1:0:0 \(seq 1, offline\) on 2\/default after message 1 .*\(seq 2, live\)/,
  );
  assert.equal(verdict(tally, false), undefined);
});

Deno.test("SoakLedger flags one sender device's messages whose seqs on a device disagree with the send order", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const first = ledger.newMessage(1, 0);
  const second = ledger.newMessage(1, 0);
  ledger.acknowledged(first.key, [2], { conv: "u:1:2", seq: 1, mid: "a", dup: false });
  ledger.acknowledged(second.key, [2], { conv: "u:1:2", seq: 2, mid: "b", dup: false });
  // What the device read disagrees with the ACKs: the send order is no longer the seq order.
  ledger.received(2, "default", { msg: first.text, mid: "a", conv: "u:1:2", seq: 5 }, "live");
  ledger.received(2, "default", { msg: second.text, mid: "b", conv: "u:1:2", seq: 4 }, "sync");
  const tally = ledger.tally();
  assert.deepEqual([tally.reordered, tally.late], [1, 0]);
  assert.match(
    tally.wrongSamples.at(-1)!,
    /^2\/default>u:1:2>1:0: message 1 has seq 4, after message 0 with seq 5$/,
  );
  assert.equal(verdict(tally, false), "1 out of order");
});

Deno.test("SoakLedger: different senders, and different devices of one sender, are not ordered", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const fromPhone = ledger.newMessage(1, 0);
  const fromLaptop = ledger.newMessage(1, 1);
  ledger.acknowledged(fromPhone.key, [2], { conv: "u:1:2", seq: 2, mid: "a", dup: false });
  ledger.acknowledged(fromLaptop.key, [2], { conv: "u:1:2", seq: 1, mid: "b", dup: false });
  ledger.received(2, "default", { msg: fromLaptop.text, mid: "b", conv: "u:1:2", seq: 1 }, "live");
  ledger.received(2, "default", { msg: fromPhone.text, mid: "a", conv: "u:1:2", seq: 2 }, "live");
  assert.deepEqual([ledger.tally().reordered, ledger.tally().seqConflicts], [0, 0]);
});

Deno.test("SoakLedger flags two messages acknowledged with one seq, and a later send with a lower seq", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const a = ledger.newMessage(1, 0);
  const b = ledger.newMessage(1, 0);
  const c = ledger.newMessage(3, 0);
  ledger.acknowledged(a.key, [2], { conv: "u:1:2", seq: 4, mid: "a", dup: false });
  ledger.acknowledged(b.key, [2], { conv: "u:1:2", seq: 3, mid: "b", dup: false });
  ledger.acknowledged(c.key, [2], { conv: "u:1:2", seq: 4, mid: "c", dup: false });
  const tally = ledger.tally();
  assert.equal(tally.seqConflicts, 2);
  assert.match(verdict(tally, false)!, /2 seq conflicts/);
});

Deno.test("SoakLedger: a second ACK of a resent message (dup) counts once and is reported", () => {
  const { ledger, key, frame } = oneMessage(7);
  ledger.acknowledged(key, [2], { conv: "u:1:2", seq: 7, mid: "m7", dup: true });
  const other = ledger.newMessage(1, 0);
  ledger.unanswered(other.key);
  ledger.acknowledged(other.key, [2], { conv: "u:1:2", seq: 8, mid: "m8", dup: true });
  for (const device of DEVICES) {
    ledger.received(2, device, frame, "live");
    ledger.received(2, device, { msg: other.text, mid: "m8", conv: "u:1:2", seq: 8 }, "live");
  }
  const tally = ledger.tally();
  assert.deepEqual([tally.acknowledged, tally.acknowledgedAsDup, tally.seqConflicts, tally.unknown], [
    2,
    1,
    0,
    0,
  ]);
  assert.equal(verdict(tally, false), undefined);
});

Deno.test("SoakLedger: an unanswered send may arrive or not; a refused one must not arrive anywhere", () => {
  const ledger = new SoakLedger(40, ["default"]);
  const unknown = ledger.newMessage(1, 0);
  const refused = ledger.newMessage(1, 0);
  ledger.unanswered(unknown.key);
  ledger.unanswered(refused.key);
  ledger.refused(refused.key);
  ledger.received(2, "default", { msg: unknown.text, mid: "u", conv: "u:1:2", seq: 1 }, "live");
  let tally = ledger.tally();
  assert.deepEqual([tally.unknown, tally.refused, tally.unexpected, tally.expected], [1, 1, 0, 0]);
  ledger.received(2, "default", { msg: refused.text, mid: "r", conv: "u:1:2", seq: 2 }, "live");
  tally = ledger.tally();
  assert.equal(tally.unexpected, 1);
  assert.match(verdict(tally, false)!, /1 received by a device whose user was not a recipient/);
});

Deno.test("SoakLedger: a device of a user who is not a recipient receiving a message is unexpected", () => {
  const { ledger, frame } = oneMessage();
  for (const device of DEVICES) ledger.received(2, device, frame, "live");
  ledger.received(3, "d0", frame, "live");
  assert.equal(ledger.tally().unexpected, 1);
});

Deno.test("verdict() allows receipts that only the final SYNC brought after a fault, not otherwise", () => {
  const { ledger, frame } = oneMessage();
  ledger.received(2, "d0", frame, "live");
  ledger.received(2, "d1", frame, "final-sync");
  const tally: SoakTally = ledger.tally();
  assert.equal(tally.deliveredByFinalSync, 1);
  assert.equal(verdict(tally, true), undefined);
  assert.equal(verdict(tally, false), "1 reached a device only through the final SYNC");
});

Deno.test("verdict() lists every kind of failure", () => {
  const clean = new SoakLedger(10, ["default"]).tally();
  assert.equal(verdict(clean, false), undefined);
  const bad = { ...clean, lost: 1, duplicated: 2, unexpected: 3, reordered: 4, seqConflicts: 5 };
  assert.equal(
    verdict(bad, true),
    "1 lost, 2 duplicated, 3 received by a device whose user was not a recipient, 4 out of order, " +
      "5 seq conflicts",
  );
});

Deno.test("deviceNames() sends no device for one device per user, d0… otherwise", () => {
  assert.deepEqual(deviceNames(1), [undefined]);
  assert.deepEqual(deviceNames(3), ["d0", "d1", "d2"]);
});
