// Retention follows the collector's clock: a host whose clock is 200 days
// behind keeps its observations across a collector restart (retention runs
// at start), while an observation the collector itself received long ago is
// still pruned.

import t from "tap";
import { join } from "node:path";
import Database from "better-sqlite3";
import { query, SECRET, startCollector, stopGracefully } from "./lib/fleet.js";
import { enrollRaw, openRawStream, smallBatch } from "./lib/raw-stream.js";

const DAY = 86_400_000;

t.test("observations of a host with a clock 200 days behind survive retention", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const args = ["--observation-days", "180", "--batch-log-days", "30"];
  const c = await startCollector(t, db, { args });
  const e = await enrollRaw(c.port, { hostId: "slow-clock", enrollSecret: SECRET });
  const s = await openRawStream(c.port, "slow-clock", e.key);
  t.teardown(() => s.ws.terminate());
  s.sendBatch(smallBatch("slow-clock", 1, {}, Date.now() - 200 * DAY));
  await s.acked(1);
  s.ws.close();
  await s.closed;
  const before = query<{ last_seen: number }>(db, "SELECT last_seen FROM observations WHERE host_id = 'slow-clock'");
  t.equal(before.length, 1, "one observation stored");
  t.ok(before[0]!.last_seen < Date.now() - 199 * DAY, "its last_seen is the agent's (200 days ago)");

  t.equal(await stopGracefully(c.child), 0);
  const again = await startCollector(t, db, { args });
  t.equal(query(db, "SELECT 1 FROM observations WHERE host_id = 'slow-clock'").length, 1, "still there after the restart's pruning");
  t.equal(await stopGracefully(again.child), 0);

  // The same observation received (by the collector's clock) 181 days ago is pruned.
  const w = new Database(db);
  w.prepare("UPDATE observations SET received_at = ? WHERE host_id = ?").run(Date.now() - 181 * DAY, "slow-clock");
  w.close();
  const third = await startCollector(t, db, { args });
  t.equal(query(db, "SELECT 1 FROM observations WHERE host_id = 'slow-clock'").length, 0, "pruned by the time the collector received it");
  t.match(third.log.join("\n"), /"event":"retention\.pruned"/);
});
