// The join of a sensor's flow to the agents' records (collector/src/sensor/
// sensor-join.ts) on a real SQLite database: Community ID first, then the
// 5-tuple, in either orientation; a connection record is high confidence;
// several hosts are ambiguous; an agent reaching the same server from
// another address is a suspected NAT or proxy; nothing is guessed. And the
// weight sensor evidence has in a finding's score.

import t from "tap";
import { join } from "node:path";
import { communityId } from "@oddwire/shared";
import { JOIN_SLACK_MS, matchFlow } from "oddwire-collector/sensor/sensor-join.js";
import type { SqliteSql } from "oddwire-collector/store/sqlite-sql.js";
import { openStore } from "oddwire-collector/store/store.js";
import { scoreGroup } from "oddwire-collector/score/score-finding.js";

const T0 = 1_764_612_375_000;

async function fleet(dir: string) {
  const db = await openStore(join(dir, "fleet.db"));
  // Fixture rows are written as they would be stored, on the store's own SQLite connection.
  const raw = (db.sql as SqliteSql).db;
  const host = (id: string) => db.sql.run("INSERT INTO hosts (host_id, hostname, key_hash, enrolled_at) VALUES (?, ?, 'x', 0)", [id, `${id}.lan`]);
  const conn = (hostId: string, pid: number, local: [string, number], remote: [string, number], direction = "outbound", at = T0) =>
    db.sql.run(
      `INSERT INTO connections (host_id, binary, pid, started_at, name, exe, cmdline, user, sha256, ancestry, transport, direction, family, local_address, local_port,
        remote_address, remote_port, protocol, port, first_seen, last_seen, count, failed, tags, seq, received_at)
        VALUES (?, '/usr/bin/curl', ?, 0, 'curl', '/usr/bin/curl', 'curl', 'u', '', '[]', 'tcp', ?, 4, ?, ?, ?, ?, 'https', ?, ?, ?, 1, 0, '[]', 1, ?)`,
      [hostId, pid, direction, local[0], local[1], remote[0], remote[1], direction === "outbound" ? remote[1] : local[1], at, at + 1000, at],
    );
  return { db, raw, host, conn };
}

const key = (o: Partial<Parameters<typeof matchFlow>[1]> = {}) => ({
  communityId: "",
  transport: "tcp",
  origAddress: "10.0.0.5",
  origPort: 40112,
  respAddress: "203.0.113.7",
  respPort: 443,
  fromMs: T0 + 2000,
  toMs: T0 + 2000,
  ...o,
});

t.test("Community ID, then 5-tuple, either orientation, with time", async (t) => {
  const { db, host, conn } = await fleet(t.testdir());
  t.teardown(() => db.close());
  await host("a");
  await host("srv");
  await conn("a", 100, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  await conn("srv", 200, ["203.0.113.7", 443], ["10.0.0.5", 40112], "inbound");
  const q = db.sensors.joinQueries();
  const cid = communityId({ proto: 6, srcAddress: "203.0.113.7", srcPort: 443, dstAddress: "10.0.0.5", dstPort: 40112 });
  const byId = await matchFlow(q, key({ communityId: cid }));
  t.ok(byId.matched);
  if (!byId.matched) return;
  t.same(
    byId.ends.map((e) => [e.row.host_id, e.row.pid, e.side, e.join, e.confidence]),
    [
      ["a", 100, "originator", "community-id", "high"],
      ["srv", 200, "responder", "community-id", "high"],
    ].sort(),
  );
  const byTuple = await matchFlow(q, key());
  t.ok(byTuple.matched && byTuple.ends.every((e) => e.join === "5-tuple"), "no Community ID: the 5-tuple");
  const otherSeed = await matchFlow(q, key({ communityId: communityId({ proto: 6, srcAddress: "10.0.0.5", srcPort: 40112, dstAddress: "203.0.113.7", dstPort: 443 }, 7) }));
  t.ok(otherSeed.matched && otherSeed.ends.every((e) => e.join === "5-tuple"), "a Community ID with another seed falls back to the 5-tuple");
  const late = await matchFlow(q, key({ fromMs: T0 + 1000 + JOIN_SLACK_MS + 60_000, toMs: T0 + 1000 + JOIN_SLACK_MS + 60_000 }));
  t.match(late, { matched: false, reason: "no-agent-flow" }, "outside the time window: no match");
  t.match(await matchFlow(q, key({ origAddress: "" })), { matched: false, reason: "no-tuple" });
});

t.test("ambiguous tuples and NAT are said, not guessed", async (t) => {
  const { db, host, conn } = await fleet(t.testdir());
  t.teardown(() => db.close());
  await host("a");
  await host("b");
  // Two sites, same private addressing: both saw "this" tuple.
  await conn("a", 100, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  await conn("b", 300, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  const q = db.sensors.joinQueries();
  t.match(await matchFlow(q, key()), { matched: false, reason: "ambiguous", detail: /2 hosts saw this tuple at that time as its originator/ });
  // The sensor outside the NAT sees the public source; the agent saw the private one.
  const nat = await matchFlow(q, key({ origAddress: "198.51.100.1", origPort: 61000 }));
  t.match(nat, { matched: false, reason: "nat-or-proxy", detail: /a\.lan curl\(100\) from 10\.0\.0\.5:40112/ });
});

t.test("a connection record without its source port: one process is a low-confidence destination match, two are ambiguous", async (t) => {
  const { db, host, conn } = await fleet(t.testdir());
  t.teardown(() => db.close());
  await host("a");
  await host("b");
  // As connection events record an outbound connection: the destination, no local address or port.
  await conn("a", 100, ["", 0], ["203.0.113.7", 443]);
  const q = db.sensors.joinQueries();
  const m = await matchFlow(q, key());
  t.ok(m.matched);
  if (m.matched) t.match(m.ends, [{ row: { host_id: "a", pid: 100 }, side: "originator", join: "destination", confidence: "low" }]);
  await conn("b", 300, ["", 0], ["203.0.113.7", 443]);
  t.match(await matchFlow(q, key()), { matched: false, reason: "ambiguous", detail: /2 processes on 2 hosts reached this server at that time, their source ports unrecorded/ });
});

t.test("sensor evidence weighs in the score, damped when the behaviour is common", async (t) => {
  const base = {
    binaryName: "curl",
    protocol: "https",
    direction: "outbound",
    hostCount: 1,
    binaryHostCount: 40,
    fleetHosts: 40,
    tags: [],
    parentShare: null,
    parentName: "",
    firstSeenMs: 0,
    nowMs: 10 * 86_400_000,
  };
  const without = scoreGroup(base);
  const withAlert = scoreGroup({ ...base, sensor: { weight: 0.85, text: "Suricata: alert: x" } });
  t.ok(withAlert.score > without.score, `${withAlert.score} > ${without.score}`);
  t.ok(withAlert.evidence.includes("sensor"));
  t.ok(withAlert.reasons.includes("Suricata: alert: x"), "the sensor says why");
  const common = scoreGroup({ ...base, hostCount: 40, sensor: { weight: 0.85, text: "Suricata: alert: x" } });
  t.notOk(common.evidence.includes("sensor"));
  t.ok(common.reasons.some((r) => /this fleet's normal/.test(r)));
});

t.test("the Community ID the agents stored joins first: connection records, classified flows and sockets", async (t) => {
  const { db, raw, host, conn } = await fleet(t.testdir());
  t.teardown(() => db.close());
  await host("a");
  await host("srv");
  await host("c");
  const cid = communityId({ proto: 6, srcAddress: "10.0.0.5", srcPort: 40112, dstAddress: "203.0.113.7", dstPort: 443 });
  // An outbound connection record without its source port, the flow's ID stored with it (agent --dpi joined the flow to it).
  await conn("a", 100, ["", 0], ["203.0.113.7", 443]);
  raw.prepare("UPDATE connections SET community_id = ? WHERE host_id = 'a'").run(cid);
  const flow = (hostId: string, pid: number, binary: string, direction: string, id: string, at = T0) =>
    raw
      .prepare(`INSERT INTO flows (host_id, binary, pid, name, exe, cmdline, transport, direction, family, client_address, client_port, server_address, server_port,
        community_id, port_protocol, wire_protocol, confidence, risks, names, bytes, packets, first_seen, last_seen, tags, seq, received_at)
        VALUES (?, ?, ?, 'nginx', ?, 'nginx', 'tcp', ?, 4, '10.0.0.5', 40112, '203.0.113.7', 443, ?, 'https', 'TLS', 'dpi', '[]', '[]', 1, 1, ?, ?, '[]', 1, ?)`)
      .run(hostId, binary, pid, binary, direction, id, at, at + 1000, at);
  // The server's side, as its agent classified the flow; and a flow its agent could not join to a process (left out).
  flow("srv", 200, "/usr/sbin/nginx", "inbound", cid);
  flow("c", 0, "", "inbound", cid);
  const q = db.sensors.joinQueries();
  const m = await matchFlow(q, key({ communityId: cid }));
  t.ok(m.matched, JSON.stringify(m));
  if (!m.matched) return;
  t.same(
    m.ends.map((e) => [e.row.what, e.row.host_id, e.row.pid, e.side, e.join, e.confidence]),
    [
      ["connection", "a", 100, "originator", "community-id", "high"],
      ["flow", "srv", 200, "responder", "community-id", "high"],
    ],
  );
  t.match(m.ends[1]?.row, { local_address: "203.0.113.7", local_port: 443, remote_address: "10.0.0.5", remote_port: 40112, binary: "/usr/sbin/nginx" });
  // Without the sensor's Community ID, or outside the time, the stored IDs are not used: the connection record joins by destination only.
  const noId = await matchFlow(q, key());
  t.ok(noId.matched && noId.ends.length === 1 && noId.ends[0]?.join === "destination" && noId.ends[0].confidence === "low", JSON.stringify(noId));
  const late = T0 + 1000 + JOIN_SLACK_MS + 60_000;
  t.match(await matchFlow(q, key({ communityId: cid, fromMs: late, toMs: late })), { matched: false, reason: "no-agent-flow" });
  // Another ID is not this flow.
  const other = communityId({ proto: 6, srcAddress: "10.0.0.6", srcPort: 40112, dstAddress: "203.0.113.7", dstPort: 443 });
  t.ok((await matchFlow(q, key({ communityId: other }))).matched === true, "the tuple still joins by destination");
  t.notOk((await q.byCommunityId.all(other, 0, Number.MAX_SAFE_INTEGER, other, 0, Number.MAX_SAFE_INTEGER, other, Number.MAX_SAFE_INTEGER)).length, "no stored row has another ID");

  // A socket with the stored ID (open now): medium; two hosts with the ID at one end: ambiguous.
  raw
    .prepare(`INSERT INTO processes (host_id, pid, started_at, ppid, name, exe, binary, cmdline, user, uid, sha256, exe_deleted, tags)
    VALUES ('c', 300, ?, 1, 'curl', '/usr/bin/curl', '/usr/bin/curl', 'curl', 'u', 0, '', 0, '[]')`)
    .run(T0 - 1000);
  raw
    .prepare(`INSERT INTO sockets (host_id, skey, transport, family, local_address, local_port, remote_address, remote_port, state, pid, uid, inode, netns, protocol, direction, tags, community_id)
    VALUES ('c', 'k1', 'tcp', 4, '10.0.0.5', 40112, '203.0.113.7', 443, 'established', 300, 0, 1, 1, 'https', 'outbound', '[]', ?)`)
    .run(cid);
  t.match(await matchFlow(q, key({ communityId: cid })), { matched: false, reason: "ambiguous", detail: /2 hosts saw this tuple at that time as its originator/ });
  raw.prepare("DELETE FROM connections WHERE host_id = 'a'").run();
  const bySocket = await matchFlow(q, key({ communityId: cid }));
  t.ok(bySocket.matched);
  if (bySocket.matched)
    t.same(
      bySocket.ends.map((e) => [e.row.what, e.row.host_id, e.side, e.join, e.confidence]),
      [
        ["flow", "srv", "responder", "community-id", "high"],
        ["socket", "c", "originator", "community-id", "medium"],
      ],
    );

  // Each stored-ID lookup is an index search, not a scan.
  const plan = (raw.prepare(`EXPLAIN QUERY PLAN ${q.byCommunityId.source}`).all(cid, 0, 1, cid, 0, 1, cid, 1) as Array<{ detail: string }>).map((r) => r.detail);
  for (const index of ["connections_by_community_id", "flows_by_community_id", "sockets_by_community_id"])
    t.ok(
      plan.some((d) => d.includes(index)),
      `${index} is used: ${plan.join(" | ")}`,
    );
});
