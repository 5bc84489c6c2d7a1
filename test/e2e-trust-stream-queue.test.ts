// One host cannot fill the queue of batches waiting for the group commit: a
// stream with too many bytes waiting stops being read (TCP holds its agent
// back) instead of pushing the shared queue over its bound, where every
// stream would be closed with 1013. Its batches are all committed in the
// end, and a neighbour is served meanwhile.

import t from "tap";
import { join } from "node:path";
import { STRING_LIMITS } from "@oddwire/shared";
import { seqsOf, SECRET, startCollector } from "./lib/fleet.js";
import { enrollRaw, openRawStream, readMetrics, smallBatch } from "./lib/raw-stream.js";

const BATCHES = 48;

/** A batch of about 0.9 MiB: 28 processes with command lines at their bound. */
function bigBatch(hostId: string, seq: number) {
  const b = smallBatch(hostId, seq, seq === 1 ? {} : { full: false, baseSeq: seq - 1 });
  b.snapshot!.processes = Array.from({ length: 28 }, (_, i) => ({
    pid: 1000 + i,
    ppid: 1,
    name: "worker",
    exe: "/usr/bin/worker",
    cmdline: "x".repeat(STRING_LIMITS.cmdline - 16),
    startedAtMs: seq,
  }));
  return b;
}

t.test("a stream sending faster than the commits is paused, not allowed to fill the shared queue", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db, { args: ["--max-frame-bytes", "1MiB", "--max-queue-bytes", "4MiB"] });
  const hot = await enrollRaw(c.port, { hostId: "hot", enrollSecret: SECRET });
  const calm = await enrollRaw(c.port, { hostId: "calm", enrollSecret: SECRET });
  const h = await openRawStream(c.port, "hot", hot.key);
  const n = await openRawStream(c.port, "calm", calm.key);
  t.teardown(() => {
    h.ws.terminate();
    n.ws.terminate();
  });
  // About 43 MiB at once: ten times the whole queue.
  for (let seq = 1; seq <= BATCHES; seq++) h.sendBatch(bigBatch("hot", seq));
  n.sendBatch(smallBatch("calm", 1));
  await n.acked(1);
  t.pass("the neighbour was acknowledged");
  await h.acked(BATCHES);
  t.pass("every batch of the busy stream was acknowledged");
  t.same(seqsOf(db, "hot").length, BATCHES, "and stored once");
  const m = await readMetrics(c.port);
  t.equal(m["overload_closes"], 0, "no stream was closed for a full queue");
  t.comment(`streams_paused: ${m["streams_paused"]}`);
});
