// Connection records (events) through a real collector over loopback, sent
// as raw batches: a process that exited before any snapshot appears in the
// report with its own command line, path and ancestry; a beacon is evidence
// with its reason; raw and packet sockets reach the report with the agent's
// reasons; what each host can see (and drops) shows in agents and the report.

import t from "tap";
import { join } from "node:path";
import { query, SECRET, startCollector } from "./lib/fleet.js";
import { collectorCli, connectionRecord, enrollRaw, openRawStream, smallBatch } from "./lib/raw-stream.js";
import type { Report } from "oddwire-collector/report/report-types.js";

const MIN = 60_000;
const HOUR = 60 * MIN;

t.test("connection records, beacons, raw sockets and visibility reach agents and the report", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const now = Date.now();

  // h1 records connections as they are made; its dropper exited long before the snapshot.
  const k1 = await enrollRaw(c.port, { hostId: "h1", enrollSecret: SECRET });
  const s1 = await openRawStream(c.port, "h1", k1.key);
  t.teardown(() => s1.ws.terminate());
  const b1 = smallBatch("h1", 1, {}, now);
  b1.snapshot!.connections = [
    connectionRecord(
      {
        count: 3,
        failed: 1,
        tags: [{ code: "writable-dir-exe", reason: "runs from /tmp/.x, a world-writable directory" }],
        beacon: { intervalMs: 60_000, jitterMs: 2_000, count: 300, spanMs: 5 * HOUR },
      },
      now,
    ),
  ];
  b1.snapshot!.visibility = { mode: "events+snapshots", eventsAccepted: 3, droppedRate: 5, droppedRecords: 0, droppedKernel: 2 };
  s1.sendBatch(b1);
  await s1.acked(1);
  // A delta batch's connections are stored too: they are per batch, not host state.
  s1.sendBatch({
    seq: 2,
    full: false,
    baseSeq: 1,
    snapshot: {
      hostId: "h1",
      os: "linux",
      takenAtMs: now + 1000,
      connections: [
        connectionRecord(
          {
            transport: "udp",
            remotePort: 53,
            protocol: "dns",
            process: { pid: 5000, name: "curl", exe: "/usr/bin/curl", cmdline: "curl http://example.test", user: "bob", startedAtMs: now },
            ancestry: ["/bin/bash"],
          },
          now + 1000,
        ),
      ],
      visibility: { mode: "events+snapshots", eventsAccepted: 1, droppedRate: 6, droppedRecords: 0, droppedKernel: 2 },
    },
  });
  await s1.acked(2);

  // h2 sees snapshots only, and has a packet socket and a raw ICMP socket.
  const k2 = await enrollRaw(c.port, { hostId: "h2", enrollSecret: SECRET });
  const s2 = await openRawStream(c.port, "h2", k2.key);
  t.teardown(() => s2.ws.terminate());
  const b2 = smallBatch("h2", 1, {}, now);
  b2.snapshot!.processes!.push({ pid: 300, ppid: 1, name: "sniffer", exe: "/opt/s/sniffer", cmdline: "sniffer -i any", user: "root", uid: 0, startedAtMs: now - 10_000 });
  b2.snapshot!.sockets!.push(
    {
      transport: "packet",
      family: 4,
      localAddress: "*",
      state: "UNCONN",
      pid: 300,
      protocol: "packet",
      direction: "listen",
      rawProtocol: 768,
      uid: 0,
      inode: 77,
      tags: [{ code: "packet-socket", reason: "sniffer reads every frame on the wire (AF_PACKET, ETH_P_ALL)" }],
    },
    {
      transport: "raw",
      family: 4,
      localAddress: "0.0.0.0",
      state: "UNCONN",
      pid: 300,
      protocol: "icmp",
      direction: "listen",
      rawProtocol: 1,
      uid: 0,
      inode: 78,
      tags: [{ code: "raw-socket", reason: "sniffer holds a raw ICMP socket" }],
    },
  );
  b2.snapshot!.visibility = { mode: "snapshots", reason: "tracefs is not mounted and cannot be" };
  s2.sendBatch(b2);
  await s2.acked(1);

  await t.test("the store holds the records and their observations", async (t) => {
    const rows = query<{ binary: string; pid: number; count: number; seq: number; beacon_interval_ms: number | null }>(
      db,
      "SELECT binary, pid, count, seq, beacon_interval_ms FROM connections WHERE host_id = 'h1' ORDER BY id",
    );
    t.same(
      rows.map((r) => [r.binary, r.pid, r.count, r.seq, r.beacon_interval_ms]),
      [
        ["/tmp/.x/dropper", 4242, 3, 1, 60000],
        ["/usr/bin/curl", 5000, 1, 2, null],
      ],
    );
    const obs = query<{ binary: string; port: number; count: number }>(
      db,
      "SELECT binary, port, count FROM observations WHERE host_id = 'h1' AND binary != '/usr/sbin/sshd' ORDER BY binary",
    );
    t.same(
      obs.map((o) => [o.binary, o.port, o.count]),
      [
        ["/tmp/.x/dropper", 443, 3],
        ["/usr/bin/curl", 53, 1],
      ],
      "connections count like sockets, by their folded count",
    );
    t.equal(query(db, "SELECT 1 FROM host_binaries WHERE host_id = 'h1' AND binary = '/tmp/.x/dropper'").length, 1, "the exited process's binary ran on the host");
    t.same(
      query(db, "SELECT raw_protocol FROM sockets WHERE host_id = 'h2' ORDER BY raw_protocol").map((r) => r["raw_protocol"]),
      [0, 1, 768],
    );
  });

  await t.test("the report shows the exited process as it was, with its beacon", async (t) => {
    const r = await collectorCli(["report", "--db", db, "--format", "json"]);
    t.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const f = report.findings.find((x) => x.binary.name === "dropper");
    if (!f) {
      t.fail(`no dropper finding in ${r.stdout}`);
      return;
    }
    t.equal(f.binary.path, "/tmp/.x/dropper");
    t.match(f.hosts[0], { hostId: "h1", pid: 4242, cmdline: "/tmp/.x/dropper --c2 203.0.113.9", user: "www-data", ancestry: "/usr/sbin/nginx > /bin/sh > dropper(4242)" });
    t.ok(f.evidence.includes("beaconing"), `evidence ${f.evidence.join(",")} includes beaconing`);
    t.ok(
      f.reasons.some((x) => x.includes("every 60 s ± 2 s for 5 h to 203.0.113.9:443")),
      `a reason quotes the beacon: ${f.reasons.join(" | ")}`,
    );
    t.same(f.beacon, { intervalMs: 60000, jitterMs: 2000, count: 300, spanMs: 5 * HOUR, destination: "203.0.113.9:443" });
    t.ok(f.tags.includes("writable-dir-exe"), "the record's tags count as agent tags");
    t.ok(
      f.reasons.some((x) => x.includes("runs from /tmp/.x, a world-writable directory")),
      "with the agent's reason",
    );
    const curl = report.findings.find((x) => x.binary.name === "curl");
    t.match(curl?.hosts[0], { pid: 5000, cmdline: "curl http://example.test", ancestry: "/bin/bash > curl(5000)" }, "a delta batch's record is reported too");
    t.equal(curl?.beacon, null);

    for (const [tag, protocol, transport] of [
      ["packet-socket", "packet", "packet"],
      ["raw-socket", "icmp", "raw"],
    ] as const) {
      const raw = report.findings.find((x) => x.tags.includes(tag));
      t.match(
        raw,
        { protocol, transport, binary: { path: "/opt/s/sniffer" }, hosts: [{ hostId: "h2", pid: 300, cmdline: "sniffer -i any" }] },
        `the ${transport} socket is a finding`,
      );
      t.ok(
        raw?.reasons.some((x) => x.includes(`agent (${tag})`)),
        `with the agent's reason for ${tag}`,
      );
    }

    t.match(report.visibility, {
      hostsWithEvents: 1,
      hostsSnapshotsOnly: 1,
      hostsUnknown: 0,
      dropped: { rate: 6, records: 0, kernel: 2 },
      snapshotsOnly: [{ hostId: "h2", reason: "tracefs is not mounted and cannot be" }],
      dropping: [{ hostId: "h1", droppedRate: 6, droppedKernel: 2 }],
    });
  });

  await t.test("agents shows what each host can see", async (t) => {
    const json = await collectorCli(["agents", "--db", db, "--format", "json"]);
    t.equal(json.status, 0, json.stderr);
    const hosts = (JSON.parse(json.stdout) as { hosts: Array<{ hostId: string; visibility: unknown }> }).hosts;
    t.match(hosts.find((h) => h.hostId === "h1")?.visibility, { mode: "events+snapshots", eventsAccepted: 4, droppedRate: 6, droppedRecords: 0, droppedKernel: 2 });
    t.match(hosts.find((h) => h.hostId === "h2")?.visibility, { mode: "snapshots", reason: "tracefs is not mounted and cannot be", eventsAccepted: 0 });
    const table = await collectorCli(["agents", "--db", db]);
    t.match(table.stdout, /EVENTS\s+EVENTS DROPPED/);
    t.match(table.stdout, /^h1\s.*\son\s+8\s/m);
    t.match(table.stdout, /^h2\s.*\soff: tracefs is not mounted and cannot be\s+0\s/m);
  });

  await t.test("the page and the table say where the fleet is blind", async (t) => {
    const html = await collectorCli(["report", "--db", db, "--format", "html"]);
    t.match(html.stdout, /1 of 2 hosts is blind to short connections \(snapshots only\): tracefs is not mounted and cannot be \(1\)/);
    const table = await collectorCli(["report", "--db", db]);
    t.match(table.stdout, /1 of 2 hosts is blind to short connections/);
    t.match(table.stdout, /8 connection events dropped on 1 host/);
  });
});
