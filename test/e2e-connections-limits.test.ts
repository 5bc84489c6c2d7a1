// Bounds on connection records at a real collector: a frame with one
// connection record too many, or one ancestry entry too many, is refused
// before it is decoded (4406 naming the field) while an honest batch at the
// bound is stored; connection records are pruned by the time the collector
// received them, with the batch log (--batch-log-days).

import t from "tap";
import { join } from "node:path";
import Database from "better-sqlite3";
import { COUNT_LIMITS } from "@oddwire/shared";
import { oddwire } from "@oddwire/proto";
import { query, SECRET, seqsOf, startCollector, stopGracefully } from "./lib/fleet.js";
import { connectionRecord, enrollRaw, openRawStream, readMetrics, smallBatch } from "./lib/raw-stream.js";

const DAY = 86_400_000;

t.test("a frame over the connections or ancestry bound is refused before decoding", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const e = await enrollRaw(c.port, { hostId: "noisy", enrollSecret: SECRET });

  const cases = [
    {
      what: `${COUNT_LIMITS.connections + 1} connection records`,
      // Empty records: two bytes each on the wire, twenty thousand objects once decoded.
      connections: Array.from({ length: COUNT_LIMITS.connections + 1 }, () => ({})),
      reason: new RegExp(`^Snapshot\\.connections has more than ${COUNT_LIMITS.connections} elements`),
    },
    {
      what: `${COUNT_LIMITS.ancestry + 1} ancestry entries`,
      connections: [connectionRecord({ ancestry: Array.from({ length: COUNT_LIMITS.ancestry + 1 }, (_, i) => `/bin/p${i}`) })],
      reason: new RegExp(`^Connection\\.ancestry has more than ${COUNT_LIMITS.ancestry} elements`),
    },
  ];
  for (const k of cases) {
    await t.test(k.what, async (t) => {
      const s = await openRawStream(c.port, "noisy", e.key);
      t.teardown(() => s.ws.terminate());
      const batch = smallBatch("noisy", 1);
      batch.snapshot!.connections = k.connections;
      s.sendBatch(batch);
      const closed = await s.closed;
      t.equal(closed.code, 4406);
      t.match(closed.reason, k.reason);
    });
  }
  const m = await readMetrics(c.port);
  t.equal(m["frames_over_limit"], 2, "both refused by the frame check");
  t.notOk(m["decode_errors"], "neither was decoded");
  t.same(seqsOf(db, "noisy"), [], "nothing stored");

  await t.test("at the bounds, the batch is stored", async (t) => {
    const s = await openRawStream(c.port, "noisy", e.key);
    t.teardown(() => s.ws.terminate());
    const batch = smallBatch("noisy", 1);
    batch.snapshot!.connections = Array.from({ length: COUNT_LIMITS.connections }, (_, i) =>
      connectionRecord({ remotePort: 1000 + (i % 50), ancestry: i === 0 ? Array.from({ length: COUNT_LIMITS.ancestry }, (_, j) => `/bin/p${j}`) : ["/bin/sh"] }),
    );
    t.ok(oddwire.v1.AgentMessage.encode({ batch }).finish().length < 16 * 1024 * 1024, "the frame fits the default frame size");
    s.sendBatch(batch);
    await s.acked(1);
    t.equal(query<{ n: number }>(db, "SELECT COUNT(*) AS n FROM connections WHERE host_id = 'noisy'")[0]!.n, COUNT_LIMITS.connections);
    t.equal(query<{ n: number }>(db, "SELECT sum(count) AS n FROM observations WHERE host_id = 'noisy' AND binary = '/tmp/.x/dropper'")[0]!.n, COUNT_LIMITS.connections);
  });
});

t.test("connection records are pruned by when the collector received them", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const args = ["--batch-log-days", "30"];
  const c = await startCollector(t, db, { args });
  const e = await enrollRaw(c.port, { hostId: "slow-clock", enrollSecret: SECRET });
  const s = await openRawStream(c.port, "slow-clock", e.key);
  t.teardown(() => s.ws.terminate());
  // The agent's clock is 200 days behind: its records' own times are old, their receipt is not.
  const agentNow = Date.now() - 200 * DAY;
  const b1 = smallBatch("slow-clock", 1, {}, agentNow);
  b1.snapshot!.connections = [connectionRecord({}, agentNow), connectionRecord({ remotePort: 8443 }, agentNow)];
  s.sendBatch(b1);
  await s.acked(1);
  s.ws.close();
  await s.closed;
  t.equal(await stopGracefully(c.child), 0);

  const again = await startCollector(t, db, { args });
  t.equal(query(db, "SELECT 1 FROM connections WHERE host_id = 'slow-clock'").length, 2, "a wrong agent clock does not prune them");
  t.equal(await stopGracefully(again.child), 0);

  // One record received (by the collector's clock) 31 days ago.
  const w = new Database(db);
  w.prepare("UPDATE connections SET received_at = ? WHERE host_id = ? AND remote_port = 8443").run(Date.now() - 31 * DAY, "slow-clock");
  w.close();
  const third = await startCollector(t, db, { args });
  t.same(
    query(db, "SELECT remote_port FROM connections WHERE host_id = 'slow-clock'").map((r) => r["remote_port"]),
    [443],
    "the one received 31 days ago is pruned",
  );
  t.same(
    query(db, "SELECT connection_rows FROM hosts WHERE host_id = 'slow-clock'").map((r) => r["connection_rows"]),
    [1],
    "the host's row count follows",
  );
  t.match(third.log.join("\n"), /"event":"retention\.pruned".*"connections":1/);
});
