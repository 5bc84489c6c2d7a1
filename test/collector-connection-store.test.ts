// The store's bound on recent connection rows per host, against a real
// SQLite file: past the bound (plus a tenth) the oldest rows go, the newest
// stay, and other hosts are untouched.

import t from "tap";
import { join } from "node:path";
import type { oddwire } from "@oddwire/proto";
import { HostStore } from "oddwire-collector/store/hosts.js";
import { Ingester } from "oddwire-collector/store/ingest.js";
import { openDb } from "oddwire-collector/store/open-db.js";
import { connectionRecord } from "./lib/raw-stream.js";

t.test("a host keeps its newest maxConnectionRowsPerHost connection rows", async (t) => {
  const db = openDb(join(t.testdir(), "fleet.db"), { sync: "normal" });
  t.teardown(() => db.close());
  const hosts = new HostStore(db);
  for (const h of ["busy", "quiet"]) hosts.enroll({ hostId: h, hostname: h, os: "linux", agentVersion: "t" }, 1);
  const ingest = new Ingester(db, { maxConnectionRowsPerHost: 100 });
  const batch = (hostId: string, seq: number, n: number): oddwire.v1.IBatch => ({
    seq,
    full: seq === 1,
    baseSeq: seq - 1,
    snapshot: { hostId, os: "linux", takenAtMs: 1000 * seq, connections: Array.from({ length: n }, (_, i) => connectionRecord({ remotePort: seq * 1000 + i }, 1000 * seq)) },
  });
  t.match(ingest.apply([{ hostId: "quiet", batch: batch("quiet", 1, 5), bytes: 1 }], 1), [{ status: "applied" }]);
  for (let seq = 1; seq <= 12; seq++) t.match(ingest.apply([{ hostId: "busy", batch: batch("busy", seq, 20), bytes: 1 }], seq), [{ status: "applied" }]);
  const rows = db.prepare("SELECT remote_port FROM connections WHERE host_id = 'busy' ORDER BY id").pluck().all() as number[];
  // 240 sent; trimmed to 100 when it passed 110 (at 120), then it grew to 100 + 20 * n again.
  t.ok(rows.length >= 100 && rows.length <= 110, `between 100 and 110 rows kept (${rows.length})`);
  t.equal(rows[rows.length - 1], 12_019, "the newest is kept");
  t.ok(rows[0]! > 2000, "the oldest went first");
  t.equal(db.prepare("SELECT connection_rows FROM hosts WHERE host_id = 'busy'").pluck().get(), rows.length, "the row count is exact");
  t.equal(db.prepare("SELECT COUNT(*) FROM connections WHERE host_id = 'quiet'").pluck().get(), 5, "another host is untouched");
});

t.test("a record whose process is unknown is kept but observes nothing", async (t) => {
  const db = openDb(join(t.testdir(), "fleet.db"), { sync: "normal" });
  t.teardown(() => db.close());
  new HostStore(db).enroll({ hostId: "h", hostname: "h", os: "linux", agentVersion: "t" }, 1);
  const ingest = new Ingester(db);
  const batch: oddwire.v1.IBatch = { seq: 1, full: true, snapshot: { hostId: "h", os: "linux", takenAtMs: 1000, connections: [connectionRecord({ process: { pid: 9 } }, 1000)] } };
  t.match(ingest.apply([{ hostId: "h", batch, bytes: 1 }], 1), [{ status: "applied" }]);
  t.equal(db.prepare("SELECT COUNT(*) FROM connections").pluck().get(), 1);
  t.equal(db.prepare("SELECT COUNT(*) FROM observations").pluck().get(), 0);
  t.equal(db.prepare("SELECT COUNT(*) FROM host_binaries").pluck().get(), 0);
});
