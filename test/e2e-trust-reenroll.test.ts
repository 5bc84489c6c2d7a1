// Holding the enrollment secret must not be enough to silence a host: a
// known host id enrolls again only with its current key or an
// administrator's approval (allow-reenroll, once, within a window), and a
// batch whose seq jumps ahead of the host's last one (2^53-1, say) is refused
// unless the agent's dropped-batch count accounts for the gap.

import t from "tap";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { COLLECTOR_BIN, query, SECRET, seqsOf, startCollector } from "./lib/fleet.js";
import { enrollRaw, openRawStream, readMetrics, smallBatch } from "./lib/raw-stream.js";

const delta = (hostId: string, seq: number, droppedBatches = 0) => smallBatch(hostId, seq, { full: false, baseSeq: seq - 1, droppedBatches });

t.test("a known host id cannot be taken over with the secret alone, nor its sequence pushed ahead", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const first = await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET });
  t.equal(first.status, 200);
  const live = await openRawStream(c.port, "victim", first.key);
  t.teardown(() => live.ws.terminate());
  live.sendBatch(smallBatch("victim", 1));
  live.sendBatch(delta("victim", 2));
  await live.acked(2);

  await t.test("the secret alone, or a wrong current key, is refused with 409", async (t) => {
    const bare = await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET });
    t.equal(bare.status, 409);
    t.match(bare.text, /already enrolled/);
    t.match(bare.text, /oddwire-collector allow-reenroll victim/, "the answer says what to do");
    const wrong = await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET, currentKey: "not-its-key" });
    t.equal(wrong.status, 409);
    live.sendBatch(delta("victim", 3));
    await live.acked(3);
    t.pass("the real agent's key and stream still work");
  });

  let key = first.key;
  await t.test("the current key proves continuity: a new key, the old stream closed", async (t) => {
    const again = await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET, currentKey: key });
    t.equal(again.status, 200);
    t.equal((await live.closed).code, 4409);
    t.equal(query(db, "SELECT reenrolled_with FROM hosts WHERE host_id = 'victim'")[0]!["reenrolled_with"], "current-key");
    key = again.key;
  });

  await t.test("a batch seq that jumps ahead closes the stream with 4406 and is not stored", async (t) => {
    const s = await openRawStream(c.port, "victim", key);
    t.teardown(() => s.ws.terminate());
    t.equal(s.lastSeq, 3);
    s.sendBatch(delta("victim", Number.MAX_SAFE_INTEGER));
    const closed = await s.closed;
    t.equal(closed.code, 4406);
    t.match(closed.reason, /sequence jump: expected seq 4, got 9007199254740991/);
    t.same(seqsOf(db, "victim"), [1, 2, 3]);
  });

  await t.test("duplicates are acknowledged; a gap the agent's dropped count accounts for is accepted, any other is not", async (t) => {
    const s = await openRawStream(c.port, "victim", key);
    t.teardown(() => s.ws.terminate());
    t.equal(s.lastSeq, 3, "the jump left the host's sequence where it was");
    s.sendBatch(delta("victim", 4));
    s.sendBatch(delta("victim", 2));
    await s.acked(2);
    await s.acked(4);
    // 5 and 6 were dropped by the agent's spool, and it says so.
    s.sendBatch(delta("victim", 7, 2));
    await s.acked(7);
    // 8 and 9 missing, but the dropped count grew by only 1.
    s.sendBatch(delta("victim", 10, 3));
    const closed = await s.closed;
    t.equal(closed.code, 4406);
    t.match(closed.reason, /sequence jump: expected seq 8, got 10/);
    t.same(seqsOf(db, "victim"), [1, 2, 3, 4, 7]);
    // An agent that lost its spool state counts dropped batches from 0 again.
    const again = await openRawStream(c.port, "victim", key);
    t.teardown(() => again.ws.terminate());
    again.sendBatch(delta("victim", 8, 0));
    again.sendBatch(delta("victim", 10, 1));
    await again.acked(10);
    t.same(seqsOf(db, "victim"), [1, 2, 3, 4, 7, 8, 10], "a reset dropped count is counted from 0");
    again.ws.close();
    await again.closed;
  });

  await t.test("allow-reenroll lets the secret alone enroll once, within the window, and is audited", async (t) => {
    const bad = spawnSync(process.execPath, [COLLECTOR_BIN, "allow-reenroll", "victim", "--db", db, "--within", "soon"], { encoding: "utf8" });
    t.equal(bad.status, 2);
    t.match(bad.stderr, /--within takes a duration such as 30m, 24h or 7d, not "soon"/);
    const unknown = spawnSync(process.execPath, [COLLECTOR_BIN, "allow-reenroll", "nobody", "--db", db], { encoding: "utf8" });
    t.equal(unknown.status, 2);
    t.match(unknown.stderr, /no enrolled host has id "nobody"/);
    const nowhere = spawnSync(process.execPath, [COLLECTOR_BIN, "allow-reenroll", "victim", "--db", join(dir, "typo.db")], { encoding: "utf8" });
    t.not(nowhere.status, 0);
    t.match(nowhere.stderr, /there is no database at .*typo\.db/);
    const r = spawnSync(process.execPath, [COLLECTOR_BIN, "allow-reenroll", "victim", "--db", db, "--within", "1h"], {
      encoding: "utf8",
      env: { ...process.env, USER: "alice", SUDO_USER: "" },
    });
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /^victim may enroll again once until \d{4}-\d\d-\d\dT/);
    const allowed = await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET });
    t.equal(allowed.status, 200, allowed.text);
    t.equal((await enrollRaw(c.port, { hostId: "victim", enrollSecret: SECRET })).status, 409, "the approval is used up");
    const audit = query<{ action: string; by: string }>(db, "SELECT action, by FROM host_audit WHERE host_id = 'victim' ORDER BY id");
    t.same(
      audit.map((a) => a.action),
      ["reenrolled", "reenroll_allowed", "reenrolled"],
    );
    t.equal(audit[1]!.by, "alice");
    const s = await openRawStream(c.port, "victim", allowed.key);
    t.teardown(() => s.ws.terminate());
    t.equal(s.lastSeq, 10, "the re-enrolled agent continues after the host's last batch");
    s.sendBatch(smallBatch("victim", 11));
    await s.acked(11);
  });

  await t.test("a host that has delivered nothing yet may enroll again (its answer may have been lost)", async (t) => {
    t.equal((await enrollRaw(c.port, { hostId: "newcomer", enrollSecret: SECRET })).status, 200);
    t.equal((await enrollRaw(c.port, { hostId: "newcomer", enrollSecret: SECRET })).status, 200);
  });

  await t.test("refusals and jumps are counted and logged", async (t) => {
    const m = await readMetrics(c.port);
    t.equal(m["reenroll_refusals"], 3);
    t.equal(m["sequence_jumps"], 2);
    t.equal(m["reenrollments"], 3);
    const log = c.log.join("\n");
    for (const event of ["enroll.reenroll_refused", "enroll.reenrolled", "stream.sequence_jump"])
      t.match(log, new RegExp(`"event":"${event.replace(".", "\\.")}"`), `logged ${event}`);
  });
});
