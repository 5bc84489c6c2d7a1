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
import { openDb } from "oddwire-collector/store/open-db.js";
import { sensorJoinQueries } from "oddwire-collector/store/sensor-evidence.js";
import { scoreGroup } from "oddwire-collector/score/score-finding.js";

const T0 = 1_764_612_375_000;

function fleet(dir: string) {
  const db = openDb(join(dir, "fleet.db"));
  const host = (id: string) => db.prepare("INSERT INTO hosts (host_id, hostname, key_hash, enrolled_at) VALUES (?, ?, 'x', 0)").run(id, `${id}.lan`);
  const conn = (hostId: string, pid: number, local: [string, number], remote: [string, number], direction = "outbound", at = T0) =>
    db
      .prepare(`INSERT INTO connections (host_id, binary, pid, started_at, name, exe, cmdline, user, sha256, ancestry, transport, direction, family, local_address, local_port,
        remote_address, remote_port, protocol, port, first_seen, last_seen, count, failed, tags, seq, received_at)
        VALUES (?, '/usr/bin/curl', ?, 0, 'curl', '/usr/bin/curl', 'curl', 'u', '', '[]', 'tcp', ?, 4, ?, ?, ?, ?, 'https', ?, ?, ?, 1, 0, '[]', 1, ?)`)
      .run(hostId, pid, direction, local[0], local[1], remote[0], remote[1], direction === "outbound" ? remote[1] : local[1], at, at + 1000, at);
  return { db, host, conn };
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
  const { db, host, conn } = fleet(t.testdir());
  t.teardown(() => db.close());
  host("a");
  host("srv");
  conn("a", 100, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  conn("srv", 200, ["203.0.113.7", 443], ["10.0.0.5", 40112], "inbound");
  const q = sensorJoinQueries(db);
  const cid = communityId({ proto: 6, srcAddress: "203.0.113.7", srcPort: 443, dstAddress: "10.0.0.5", dstPort: 40112 });
  const byId = matchFlow(q, key({ communityId: cid }));
  t.ok(byId.matched);
  if (!byId.matched) return;
  t.same(
    byId.ends.map((e) => [e.row.host_id, e.row.pid, e.side, e.join, e.confidence]),
    [
      ["a", 100, "originator", "community-id", "high"],
      ["srv", 200, "responder", "community-id", "high"],
    ].sort(),
  );
  const byTuple = matchFlow(q, key());
  t.ok(byTuple.matched && byTuple.ends.every((e) => e.join === "5-tuple"), "no Community ID: the 5-tuple");
  const otherSeed = matchFlow(q, key({ communityId: communityId({ proto: 6, srcAddress: "10.0.0.5", srcPort: 40112, dstAddress: "203.0.113.7", dstPort: 443 }, 7) }));
  t.ok(otherSeed.matched && otherSeed.ends.every((e) => e.join === "5-tuple"), "a Community ID with another seed falls back to the 5-tuple");
  const late = matchFlow(q, key({ fromMs: T0 + 1000 + JOIN_SLACK_MS + 60_000, toMs: T0 + 1000 + JOIN_SLACK_MS + 60_000 }));
  t.match(late, { matched: false, reason: "no-agent-flow" }, "outside the time window: no match");
  t.match(matchFlow(q, key({ origAddress: "" })), { matched: false, reason: "no-tuple" });
});

t.test("ambiguous tuples and NAT are said, not guessed", async (t) => {
  const { db, host, conn } = fleet(t.testdir());
  t.teardown(() => db.close());
  host("a");
  host("b");
  // Two sites, same private addressing: both saw "this" tuple.
  conn("a", 100, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  conn("b", 300, ["10.0.0.5", 40112], ["203.0.113.7", 443]);
  const q = sensorJoinQueries(db);
  t.match(matchFlow(q, key()), { matched: false, reason: "ambiguous", detail: /2 hosts saw this tuple at that time as its originator/ });
  // The sensor outside the NAT sees the public source; the agent saw the private one.
  const nat = matchFlow(q, key({ origAddress: "198.51.100.1", origPort: 61000 }));
  t.match(nat, { matched: false, reason: "nat-or-proxy", detail: /a\.lan curl\(100\) from 10\.0\.0\.5:40112/ });
});

t.test("a connection record without its source port: one process is a low-confidence destination match, two are ambiguous", async (t) => {
  const { db, host, conn } = fleet(t.testdir());
  t.teardown(() => db.close());
  host("a");
  host("b");
  // As connection events record an outbound connection: the destination, no local address or port.
  conn("a", 100, ["", 0], ["203.0.113.7", 443]);
  const q = sensorJoinQueries(db);
  const m = matchFlow(q, key());
  t.ok(m.matched);
  if (m.matched) t.match(m.ends, [{ row: { host_id: "a", pid: 100 }, side: "originator", join: "destination", confidence: "low" }]);
  conn("b", 300, ["", 0], ["203.0.113.7", 443]);
  t.match(matchFlow(q, key()), { matched: false, reason: "ambiguous", detail: /2 processes on 2 hosts reached this server at that time, their source ports unrecorded/ });
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
