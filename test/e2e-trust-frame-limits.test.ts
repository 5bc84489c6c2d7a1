// One enrolled agent must not be able to freeze the collector for the
// others: frames with a field over its bound (a million tags on a process, a
// 15 MB command line, too many processes) are refused before they are
// decoded, closing only that stream with 4406, while a neighbouring host's
// ordinary batches keep being acknowledged.

import t from "tap";
import { join } from "node:path";
import { COUNT_LIMITS, STRING_LIMITS } from "@oddwire/shared";
import { oddwire } from "@oddwire/proto";
import { checkAgentFrame, MAX_FRAME_ELEMENTS } from "oddwire-collector/ingest/frame-check.js";
import { SECRET, seqsOf, startCollector } from "./lib/fleet.js";
import { enrollRaw, lenField, openRawStream, readMetrics, smallBatch } from "./lib/raw-stream.js";

/** An AgentMessage frame whose batch (seq 1, full) carries `snapshot`, built byte by byte. */
function frameWithSnapshot(snapshot: Buffer): Buffer {
  const batch = Buffer.concat([Buffer.from([0x08, 0x01, 0x10, 0x01]), lenField(3, snapshot)]);
  return lenField(2, batch);
}

t.test("the frame walker passes honest frames and unknown fields, and finds the first fault", async (t) => {
  const honest = Buffer.from(
    oddwire.v1.AgentMessage.encode({ batch: smallBatch("h", 7, { processesRemoved: [{ pid: 1, startedAtMs: 2 }], socketsRemoved: [{ transport: "tcp", inode: 9 }] }) }).finish(),
  );
  t.equal(checkAgentFrame(honest), null, "an honest batch passes");
  t.equal(checkAgentFrame(oddwire.v1.AgentMessage.encode({ heartbeat: { sentAtMs: Date.now() } }).finish()), null, "a heartbeat passes");
  // Field 99 of the batch, unknown to this collector: a newer agent's addition.
  const unknown = lenField(2, Buffer.concat([Buffer.from([0x08, 0x01]), lenField(99, Buffer.from("later")), Buffer.from([0x98, 0x06, 0x05])]));
  t.equal(checkAgentFrame(unknown), null, "unknown fields are skipped");
  t.match(checkAgentFrame(honest.subarray(0, honest.length - 3)), { kind: "malformed" }, "a truncated frame is malformed");
  t.match(checkAgentFrame(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01])), { kind: "malformed" }, "a length past the end is malformed");
  const tooLong = oddwire.v1.AgentMessage.encode({ batch: smallBatch("h", 1, { socketsRemoved: [{ transport: "t".repeat(STRING_LIMITS.transport + 1) }] }) }).finish();
  t.same(checkAgentFrame(tooLong), { kind: "string", field: "SocketKey.transport", limit: STRING_LIMITS.transport, bytes: STRING_LIMITS.transport + 1 });
});

t.test("frames over a field's bound close only their stream, before decoding; a neighbour is still served", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const hostile = await enrollRaw(c.port, { hostId: "hostile", enrollSecret: SECRET });
  const neighbour = await enrollRaw(c.port, { hostId: "neighbour", enrollSecret: SECRET });
  t.equal(hostile.status, 200);
  t.equal(neighbour.status, 200);

  const n = await openRawStream(c.port, "neighbour", neighbour.key);
  t.teardown(() => n.ws.terminate());
  n.sendBatch(smallBatch("neighbour", 1));
  await n.acked(1);

  const cases: Array<{ what: string; frame: Buffer; reason: RegExp }> = [
    {
      what: "a million empty tags on one process",
      // Each tag is field 11, length 0: the bytes 0x5a 0x00.
      frame: frameWithSnapshot(lenField(7, Buffer.alloc(2_000_000).fill(Buffer.from([0x5a, 0x00])))),
      reason: new RegExp(`Process\\.tags has more than ${COUNT_LIMITS.process_tags} elements`),
    },
    {
      what: "a 15 MB command line",
      frame: frameWithSnapshot(lenField(7, lenField(5, Buffer.alloc(15 * 1024 * 1024, 0x41)))),
      reason: new RegExp(`Process\\.cmdline is ${15 * 1024 * 1024} bytes, over its bound of ${STRING_LIMITS.cmdline}`),
    },
    {
      what: "one process too many",
      frame: frameWithSnapshot(Buffer.alloc(4 * (COUNT_LIMITS.processes + 1)).fill(Buffer.from([0x3a, 0x02, 0x08, 0x01]))),
      reason: new RegExp(`Snapshot\\.processes has more than ${COUNT_LIMITS.processes} elements`),
    },
    {
      what: "more repeated elements in all than a frame may hold, each field within its own bound",
      // 40,000 processes of 26 empty tags each: 1,080,000 elements.
      frame: frameWithSnapshot(Buffer.concat(Array.from({ length: 40_000 }, () => lenField(7, Buffer.alloc(52).fill(Buffer.from([0x5a, 0x00])))))),
      reason: new RegExp(`repeated fields of the frame in all has more than ${MAX_FRAME_ELEMENTS} elements`),
    },
    {
      what: "a host id over 128 bytes",
      frame: frameWithSnapshot(lenField(1, Buffer.alloc(STRING_LIMITS.host_id + 1, 0x61))),
      reason: /Snapshot\.host_id is 129 bytes, over its bound of 128/,
    },
  ];
  let seq = 1;
  for (const k of cases) {
    await t.test(k.what, async (t) => {
      const h = await openRawStream(c.port, "hostile", hostile.key);
      t.teardown(() => h.ws.terminate());
      h.ws.send(k.frame);
      // The neighbour's next delta, sent while the hostile frame is being dealt with.
      seq++;
      n.sendBatch(smallBatch("neighbour", seq, { full: false, baseSeq: seq - 1 }));
      const closed = await h.closed;
      t.equal(closed.code, 4406, "closed with CLOSE.PROTOCOL");
      t.match(closed.reason, k.reason, "the reason names the field and its bound");
      await n.acked(seq);
      t.pass("the neighbour's batch was acknowledged");
    });
  }

  await t.test("an enrollment body with a field over its bound is refused with 400 before decoding", async (t) => {
    const e = await enrollRaw(c.port, { hostId: "hostile", enrollSecret: SECRET, currentKey: "k".repeat(STRING_LIMITS.current_key + 1) });
    t.equal(e.status, 400);
    t.match(e.text, new RegExp(`EnrollRequest\\.current_key is ${STRING_LIMITS.current_key + 1} bytes, over its bound of ${STRING_LIMITS.current_key}`));
  });

  t.same(seqsOf(db, "hostile"), [], "nothing of the hostile frames was stored");
  t.same(
    seqsOf(db, "neighbour"),
    Array.from({ length: seq }, (_, i) => i + 1),
    "every neighbour batch was stored once",
  );
  const m = await readMetrics(c.port);
  t.equal(m["frames_over_limit"], cases.length + 1, "each refusal counted");
  t.match(c.log.join("\n"), /"event":"stream\.over_limit"/, "and logged");
});
