// One suite, every store: the same ingest, hosts, report, export, retention
// and concurrency tests run against SQLite (a real file) and PostgreSQL (a
// throwaway cluster of Debian's postgresql-15, started here; skipped locally
// without it, a failure under CI).

import t from "tap";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { oddwire } from "@oddwire/proto";
import { runExport } from "oddwire-collector/export/export-run.js";
import { buildReport } from "oddwire-collector/report/build-report.js";
import { slotOf } from "oddwire-collector/export/export-scheduler.js";
import { parsePersonaInput } from "oddwire-collector/persona/persona-input.js";
import { knowledgeBase } from "@oddwire/shared";
import { matchFlow } from "oddwire-collector/sensor/sensor-join.js";
import { flowsByCommunityId, listDestinationNames } from "oddwire-collector/store/flows.js";
import { rejudgeStored } from "oddwire-collector/store/rejudge-store.js";
import { tokenHash } from "oddwire-collector/store/personas.js";
import { openStore, type Store } from "oddwire-collector/store/store.js";
import { connectionRecord, smallBatch } from "./lib/raw-stream.js";
import { skipWithoutPostgres, startPostgres, type Postgres } from "./lib/postgres.js";

type Open = (name: string) => Promise<string>;

interface TestLike {
  testdir(): string;
  teardown(fn: () => unknown): void;
}

const pgSkip = skipWithoutPostgres();
let pgCluster: Promise<Postgres> | null = null;

const backends: Array<{ name: string; skip: string | false; location: (t: TestLike, name: string) => Promise<string> }> = [
  { name: "sqlite", skip: false, location: async (t, name) => join(t.testdir(), `${name}.db`) },
  {
    name: "postgres",
    skip: pgSkip,
    location: async (_t, name) => {
      pgCluster ??= startPostgres(t);
      return (await pgCluster).database(name.toLowerCase().replace(/[^a-z0-9]/g, "_"));
    },
  },
];

let dbCount = 0;

function batch(hostId: string, seq: number, over: Partial<oddwire.v1.IBatch> = {}, takenAtMs = 1_764_000_000_000 + seq * 60_000): oddwire.v1.IBatch {
  return smallBatch(hostId, seq, over, takenAtMs);
}

async function enrolled(store: Store, ...ids: string[]): Promise<void> {
  for (const id of ids) await store.hosts.enroll({ hostId: id, hostname: `${id}.lan`, os: "linux", agentVersion: "t" }, 1);
}

for (const backend of backends) {
  t.test(backend.name, { skip: backend.skip }, async (t) => {
    const open = async (t: TestLike, opts = {}): Promise<{ store: Store; where: string; reopen: Open }> => {
      const where = await backend.location(t, `store_${process.pid}_${++dbCount}`);
      const store = await openStore(where, { sync: "normal", ...opts });
      t.teardown(() => store.close());
      return { store, where, reopen: async () => where };
    };

    t.test("enrollment, keys, re-enrollment and revocation", async (t) => {
      const { store } = await open(t);
      const first = await store.hosts.enroll({ hostId: "h1", hostname: "one", os: "linux", agentVersion: "1" }, 10);
      t.equal(first.proof, null, "a new host");
      t.match(await store.hosts.authenticate("h1", first.agentKey), { ok: true, lastSeq: 0 });
      t.match(await store.hosts.authenticate("h1", "wrong"), { ok: false, reason: "bad-key" });
      t.match(await store.hosts.authenticate("nobody", "x"), { ok: false, reason: "unknown-host" });
      const again = await store.hosts.enroll({ hostId: "h1", hostname: "one", os: "linux", agentVersion: "1", currentKey: first.agentKey }, 20);
      t.equal(again.proof, "current-key");
      t.match(await store.hosts.authenticate("h1", first.agentKey), { ok: false, reason: "bad-key" }, "the old key stops working");
      await store.ingest.apply([{ hostId: "h1", batch: batch("h1", 1), bytes: 10 }], 30);
      await t.rejects(store.hosts.enroll({ hostId: "h1", hostname: "one", os: "linux", agentVersion: "1" }, 40), { code: "ODW_ERR_REENROLL" });
      t.equal(await store.hosts.allowReenroll("h1", 100, "admin", 50), true);
      t.equal((await store.hosts.enroll({ hostId: "h1", hostname: "one", os: "linux", agentVersion: "1" }, 60)).proof, "approval");
      t.equal(await store.hosts.revoke("h1", "stolen", 70), true);
      t.equal(await store.hosts.revoke("h1", "stolen", 71), false, "once");
      t.same(await store.hosts.revokedSince(70), ["h1"]);
      t.same(await store.hosts.revokedSince(71), []);
      await t.rejects(store.hosts.enroll({ hostId: "h1", hostname: "one", os: "linux", agentVersion: "1" }, 80), { code: "ODW_ERR_REVOKED" });
      const [row] = await store.hosts.list(80, 1000);
      t.match(row, { hostId: "h1", revokedAt: 70, revokedReason: "stolen", lastSeq: 1 });
    });

    t.test("batches apply exactly once, in sequence", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "a", "b");
      const r1 = await store.ingest.apply(
        [
          { hostId: "b", batch: batch("b", 1), bytes: 10 },
          { hostId: "a", batch: batch("a", 1), bytes: 10 },
          { hostId: "a", batch: batch("a", 2), bytes: 10 },
          { hostId: "a", batch: batch("a", 2), bytes: 10 },
        ],
        1000,
      );
      t.same(
        r1.map((r) => r.status),
        ["applied", "applied", "applied", "duplicate"],
        "results come back in the order given (hosts are visited in id order)",
      );
      const r2 = await store.ingest.apply(
        [
          { hostId: "a", batch: batch("a", 5), bytes: 10 },
          { hostId: "a", batch: batch("a", 3, { full: false, baseSeq: 1 }), bytes: 10 },
          { hostId: "nobody", batch: batch("nobody", 1), bytes: 10 },
        ],
        2000,
      );
      t.match(r2, [{ status: "jump", expected: 3 }, { status: "applied", resync: true }, { status: "rejected" }]);
      const [a] = (await store.hosts.list(3000, 60_000)).filter((h) => h.hostId === "a");
      t.equal(a!.lastSeq, 3);
    });

    // Two collectors on one SQLite file would be two processes; in one process (one thread) the second writer's wait would block the first.
    t.test("two stores on one database apply a host's batch once", { skip: backend.name === "sqlite" && "one collector per SQLite file" }, async (t) => {
      const { store, where } = await open(t);
      const other = await openStore(where, { sync: "normal" });
      t.teardown(() => other.close());
      const hosts = Array.from({ length: 20 }, (_, i) => `c${String(i).padStart(2, "0")}`);
      await enrolled(store, ...hosts);
      // Both collectors receive every host's seqs 1-3, in order (an agent that reconnected elsewhere resends what was not acked),
      // the hosts in opposite orders (collectors lock hosts in one order whatever the arrival: no deadlock).
      const items = hosts.flatMap((h) => [1, 2, 3].map((seq) => ({ hostId: h, batch: batch(h, seq), bytes: 10 })));
      const [x, y] = await Promise.all([
        store.ingest.apply(items, 1000),
        other.ingest.apply(
          [...items].sort((p, q) => (p.hostId < q.hostId ? 1 : p.hostId > q.hostId ? -1 : 0)),
          1000,
        ),
      ]);
      const applied = [...x!, ...y!].filter((r) => r.status === "applied").length;
      t.equal(applied, hosts.length * 3, "each batch applied by exactly one of them");
      t.ok(
        [...x!, ...y!].every((r) => r.status === "applied" || r.status === "duplicate"),
        "the rest are duplicates",
      );
      for (const h of (await store.hosts.list(2000, 60_000)).filter((r) => r.hostId.startsWith("c"))) t.equal(h.lastSeq, 3, h.hostId);
    });

    t.test("a host keeps its newest connection rows; an ownerless record observes nothing", async (t) => {
      const where = await backend.location(t, `conn_${process.pid}_${++dbCount}`);
      const store = await openStore(where, { sync: "normal", ingest: { maxConnectionRowsPerHost: 100 } });
      t.teardown(() => store.close());
      await enrolled(store, "busy", "quiet", "ghost");
      const cb = (hostId: string, seq: number, n: number): oddwire.v1.IBatch => ({
        seq,
        full: seq === 1,
        baseSeq: seq - 1,
        snapshot: {
          hostId,
          os: "linux",
          takenAtMs: 1000 * seq,
          connections: Array.from({ length: n }, (_, i) => connectionRecord({ remotePort: seq * 1000 + i }, 1000 * seq)),
        },
      });
      t.match(await store.ingest.apply([{ hostId: "quiet", batch: cb("quiet", 1, 5), bytes: 1 }], 1), [{ status: "applied" }]);
      for (let seq = 1; seq <= 12; seq++) t.match(await store.ingest.apply([{ hostId: "busy", batch: cb("busy", seq, 20), bytes: 1 }], seq), [{ status: "applied" }]);
      const rows = (await store.sql.all<{ remote_port: number }>("SELECT remote_port FROM connections WHERE host_id = 'busy' ORDER BY id")).map((r) => r.remote_port);
      t.ok(rows.length >= 100 && rows.length <= 110, `between 100 and 110 rows kept (${rows.length})`);
      t.equal(rows[rows.length - 1], 12_019, "the newest is kept");
      t.ok(rows[0]! > 2000, "the oldest went first");
      t.equal((await store.sql.get<{ connection_rows: number }>("SELECT connection_rows FROM hosts WHERE host_id = 'busy'"))!.connection_rows, rows.length);
      t.equal((await store.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM connections WHERE host_id = 'quiet'"))!.n, 5, "another host is untouched");
      const ghost: oddwire.v1.IBatch = {
        seq: 1,
        full: true,
        snapshot: { hostId: "ghost", os: "linux", takenAtMs: 1000, connections: [connectionRecord({ process: { pid: 9 } }, 1000)] },
      };
      t.match(await store.ingest.apply([{ hostId: "ghost", batch: ghost, bytes: 1 }], 1), [{ status: "applied" }]);
      t.equal((await store.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM observations WHERE host_id = 'ghost'"))!.n, 0);
    });

    t.test("deltas patch the state; new sockets count once", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "d");
      await store.ingest.apply([{ hostId: "d", batch: batch("d", 1), bytes: 1 }], 1);
      const sock = batch("d", 1).snapshot!.sockets![0]!;
      // A delta: the same socket again (not new), a new one of the same process (a new observation), one removed.
      const delta: oddwire.v1.IBatch = {
        seq: 2,
        full: false,
        baseSeq: 1,
        snapshot: { hostId: "d", os: "linux", takenAtMs: 2000, processes: [], sockets: [sock, { ...sock, localPort: 50000, remotePort: 8443 }] },
      };
      t.match(await store.ingest.apply([{ hostId: "d", batch: delta, bytes: 1 }], 2), [{ status: "applied", resync: false }]);
      const obs = await store.sql.all<{ port: number; count: number }>("SELECT port, count FROM observations WHERE host_id = 'd' ORDER BY port");
      t.same(
        obs.map((o) => [o.port, o.count]),
        [
          [443, 1],
          [8443, 1],
        ],
      );
      const removal: oddwire.v1.IBatch = {
        seq: 3,
        full: false,
        baseSeq: 2,
        socketsRemoved: [sock],
        processesRemoved: [{ pid: 100, startedAtMs: 1000 }],
        snapshot: { hostId: "d" },
      };
      await store.ingest.apply([{ hostId: "d", batch: removal, bytes: 1 }], 3);
      t.equal((await store.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM sockets WHERE host_id = 'd'"))!.n, 1);
      t.equal((await store.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM processes WHERE host_id = 'd'"))!.n, 0);
    });

    t.test("personas: reports merge, triage, tokens, and command lines that name their domains", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "p1");
      const now = Date.now();
      const snap = batch("p1", 1, {}, now).snapshot!;
      const proc = { ...snap.processes![0]!, pid: 777, name: "curl", exe: "/usr/bin/curl", cmdline: "curl https://Careers-Portal.example/apply" };
      await store.ingest.apply([{ hostId: "p1", bytes: 1, batch: { ...batch("p1", 1, {}, now), snapshot: { ...snap, processes: [...snap.processes!, proc] } } }], now);
      const input = parsePersonaInput({ platform: "linkedin", handle: "@Recruiter", displayName: "R", domains: ["careers-portal.example"] }, now);
      const first = await store.personas.add(input, { source: "cli", nowMs: now });
      const again = await store.personas.add({ ...input, displayName: "R2" }, { source: "cli", nowMs: now + 1 });
      t.same([first.merged, again.merged, again.id], [false, true, first.id], "the same platform and handle merge");
      t.match(await store.personas.setState(first.id, "investigating", "looks fake", "t", now + 2), { from: "new", to: "investigating" });
      t.equal(await store.personas.setState(999, "investigating", "x", "t", now), null);
      const [listed] = await store.personas.list();
      t.match(listed, { id: first.id, displayName: "R2", previousName: "R", state: "investigating", reports: [{}, {}] });
      t.equal(await store.personas.addToken("hr", "secret-token", "t", now), true);
      t.equal(await store.personas.addToken("hr", "other", "t", now), false);
      t.equal(await store.personas.tokenName(tokenHash("secret-token")), "hr");
      t.equal(await store.personas.revokeToken("hr", "t", now), true);
      t.equal(await store.personas.tokenName(tokenHash("secret-token")), null);
      const seen = await store.personas.commandLineObservations(["careers-portal.example"]);
      t.match(seen, [{ hostId: "p1", pid: 777, source: "command-line" }], "the command line naming the domain, in any case");
      t.same(await store.personas.commandLineObservations(["portal.example.org"]), []);
    });

    t.test("sensor evidence: lines with their file's progress, tokens, and the join to an agent's connection", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "s1");
      const now = Date.now();
      const conn = connectionRecord({ localAddress: "10.0.0.5", localPort: 40112, remoteAddress: "203.0.113.7", remotePort: 443 }, now);
      await store.ingest.apply([{ hostId: "s1", bytes: 1, batch: { seq: 1, full: true, snapshot: { hostId: "s1", os: "linux", takenAtMs: now, connections: [conn] } } }], now);
      const id = await store.sensors.addFile(1, 2, "/var/log/zeek/weird.log", 10, "h", "zeek-tsv", now);
      t.match(await store.sensors.fileByInode(1, 2), { id, path: "/var/log/zeek/weird.log", offset: 0, done: 0 });
      const line = {
        source: "zeek",
        log: "weird",
        kind: "anomaly",
        tsMs: now - 1000,
        durationMs: 0,
        flowKey: "C1",
        communityId: "",
        transport: "tcp",
        origAddress: "10.0.0.5",
        origPort: 40112,
        respAddress: "203.0.113.7",
        respPort: 443,
        text: "weird: bad_HTTP_request",
        weight: 0.5,
        name: "",
      } as const;
      const progress = { offset: 120, skipping: false, headLen: 10, headHash: "h", lines: 1, stored: 1, errors: 0, tooLong: 0, done: false };
      await store.sensors.commit([line], "file:/var/log/zeek/weird.log", now, { id, dev: 1, ino: 2, path: "/var/log/zeek/weird.log", format: "zeek-tsv", progress });
      t.match(await store.sensors.fileByInode(1, 2), { offset: 120, lines: 1, stored: 1 }, "the progress is stored with the lines");
      const recent = await store.sensors.recentEvents(now - 60_000, 10);
      t.match(recent, { total: 1, rows: [{ text: "weird: bad_HTTP_request", weight: 0.5 }] });
      const m = await matchFlow(store.sensors.joinQueries(), { ...line, fromMs: line.tsMs, toMs: line.tsMs });
      t.match(m, { matched: true, ends: [{ row: { host_id: "s1", pid: 4242 }, side: "originator" }] }, "joined to the agent's connection record");
      const token = await store.sensors.addToken("zeek-dmz", "t", now);
      t.ok(token);
      t.equal(await store.sensors.addToken("zeek-dmz", "t", now), null, "a name once");
      t.match(await store.sensors.checkToken(token!, now), { ok: true, name: "zeek-dmz" });
      t.equal(await store.sensors.revokeToken("zeek-dmz", now), true);
      t.match(await store.sensors.checkToken(token!, now), { ok: false, reason: "revoked" });
      t.equal(await store.sensors.prune(now + 1), 1);
    });

    t.test("stored tags judged by other knowledge are judged again", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "k1");
      const now = Date.now();
      const b = batch("k1", 1, {}, now);
      await store.ingest.apply([{ hostId: "k1", bytes: 1, batch: { ...b, snapshot: { ...b.snapshot, knowledgeVersion: "older-knowledge" } } }], now);
      const kb = knowledgeBase();
      const r = await rejudgeStored(store.sql, kb);
      t.equal(r.hosts, 1, "the host whose tags reflect other knowledge");
      t.equal((await store.sql.get<{ judged_version: string }>("SELECT judged_version FROM hosts WHERE host_id = 'k1'"))!.judged_version, kb.version);
      t.equal((await rejudgeStored(store.sql, kb)).hosts, 0, "once");
    });

    t.test("classified flows and destination names (agent --dpi)", async (t) => {
      const { store } = await open(t);
      await enrolled(store, "f1");
      const now = Date.now();
      const flow = {
        transport: "tcp",
        family: 4,
        clientAddress: "10.0.0.5",
        clientPort: 40112,
        serverAddress: "203.0.113.7",
        serverPort: 8443,
        communityId: "1:abc",
        wire: { portProtocol: "https-alt", wireProtocol: "HTTP", confidence: "DPI", risks: ["Known Protocol on Non Standard Port"], bytes: 900, packets: 9 },
        destinationNames: ["a.example.test"],
        firstSeenMs: now - 1000,
        lastSeenMs: now,
        process: { pid: 4242, name: "curl", exe: "/usr/bin/curl", cmdline: "curl http://a.example.test:8443/" },
        direction: "outbound",
        tags: [],
      };
      const b = batch("f1", 1, {}, now);
      await store.ingest.apply([{ hostId: "f1", bytes: 1, batch: { ...b, snapshot: { ...b.snapshot, flows: [flow, flow], dpi: { mode: "on" } } } }], now);
      const names = await listDestinationNames(store.sql, { name: ".example.test" });
      t.match(names, [{ hostId: "f1", name: "a.example.test", kind: "http-host", pid: 4242 }], "one row per host, name, kind and process");
      t.equal((await flowsByCommunityId(store.sql, "1:abc")).length, 2);
      t.ok(
        (await store.sql.all<{ binary: string; port: number }>("SELECT binary, port FROM observations WHERE host_id = 'f1'")).some(
          (o) => o.binary === "/usr/bin/curl" && o.port === 8443,
        ),
        "a flow observes as a socket does",
      );
      t.match((await store.reports.visibility(10)).dpiCounts, { hostsOn: 1 });
      const report = await buildReport(store, { nowMs: now, top: 20 });
      t.ok(report.findings.some((f) => f.binary.name === "curl"));
    });

    t.test("report, suppressions, exports and retention", async (t) => {
      const { store } = await open(t);
      const now = Date.now();
      const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
      await enrolled(store, ...ids);
      // Every host runs sshd; one also runs a dropper that beacons out.
      await store.ingest.apply(
        ids.map((h, i) => ({
          hostId: h,
          bytes: 1,
          batch: batch(
            h,
            1,
            i === 0
              ? {
                  snapshot: {
                    ...batch(h, 1, {}, now).snapshot,
                    connections: [connectionRecord({ beacon: { intervalMs: 60_000, jitterMs: 10, count: 30, spanMs: 1_800_000 } }, now)],
                  },
                }
              : {},
            now,
          ),
        })),
        now,
      );
      const report = await buildReport(store, { nowMs: now, top: 10 });
      t.equal(report.fleet.hosts, 12);
      const dropper = report.findings.find((f) => f.binary.name === "dropper");
      t.ok(dropper, "the dropper is a finding");
      t.match(dropper, { hostCount: 1, hosts: [{ hostId: "r0", hostname: "r0", cmdline: "/tmp/.x/dropper --c2 203.0.113.9" }], beacon: { intervalMs: 60_000 } });
      t.ok(report.findings[0]!.score >= report.findings[report.findings.length - 1]!.score, "ranked");
      t.same(
        (await buildReport(store, { nowMs: now, top: 10, host: "r3" })).findings.map((f) => f.binary.name),
        ["sshd"],
        "a host filter",
      );

      const id = await store.suppressions.add({ binary: "dropper", reason: "lab tool", by: "t" }, now);
      t.notOk(
        (await buildReport(store, { nowMs: now, top: 10 })).findings.some((f) => f.binary.name === "dropper"),
        "suppressed",
      );
      t.equal(await store.suppressions.remove(id, "t", "done", now), true);
      t.equal((await store.suppressions.list()).audit.length, 2);

      // Not t.testdir(): a second call empties the directory the SQLite file is in.
      const dir = mkdtempSync(join(tmpdir(), "oddwire-store-export-"));
      t.teardown(() => rmSync(dir, { recursive: true, force: true }));
      const schedule = { name: "t", cron: "* * * * *", dir, minScore: 0, onlyNew: false, timezone: "UTC", keep: 30 } as const;
      const inventory = await runExport(store, { ...schedule, what: "inventory" }, now);
      t.match(inventory, { status: "ok", rows: 12 }, inventory.error);
      const lines = readFileSync(inventory.file, "utf8").trim().split("\n");
      t.equal(lines.length, 13, "a header and a row per socket");
      t.match(lines[1], /^r0,r0,linux,100,sshd,/);
      t.match(await runExport(store, { ...schedule, what: "agents" }, now + 1), { status: "ok", rows: 12 });
      t.match(await runExport(store, { ...schedule, what: "findings" }, now + 2), { status: "ok" });
      t.match(await store.exports.lastExports(), [{ schedule: "t", status: "ok", what: "findings" }]);

      const slot = slotOf("* * * * *", now);
      t.equal(await store.exports.claimSlot("t", slot, "one", now), true, "the first collector claims the tick");
      t.equal(await store.exports.claimSlot("t", slot, "two", now), false, "the second does not run it");

      // Past its first hours the batch log is one row per host and day.
      const later = await store.prune(now + 7 * 3_600_000, { batchLogDays: 30, observationDays: 90 });
      t.match(later, { batches: 12, observations: 0 });
      const days = await store.sql.all<{ host_id: string; batches: number; fulls: number; first_seq: number; last_seq: number }>("SELECT * FROM batch_days ORDER BY host_id");
      t.equal(days.length, 12);
      t.match(days[0], { host_id: "r0", batches: 1, fulls: 1, first_seq: 1, last_seq: 1 });
      const pruned = await store.prune(now + 400 * 86_400_000, { batchLogDays: 30, observationDays: 90 });
      t.match(pruned, { batches: 0, connections: 1 });
      t.equal((await store.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM batch_days"))!.n, 0, "the daily rows go after --batch-log-days");
      t.ok(pruned.observations >= 12);
    });
  });
}
