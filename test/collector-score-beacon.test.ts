// Beaconing as evidence in the score (collector/src/score/score-finding.ts):
// a beacon adds weight and a reason quoting its rhythm, unless most hosts
// running the binary do the same, which is this fleet's normal.

import t from "tap";
import { duration, scoreGroup, type GroupFacts } from "oddwire-collector/score/score-finding.js";

const base: GroupFacts = {
  binaryName: "dropper",
  protocol: "https",
  direction: "outbound",
  hostCount: 1,
  binaryHostCount: 1,
  fleetHosts: 3,
  tags: [],
  parentShare: null,
  parentName: "",
  firstSeenMs: 0,
  nowMs: 10 * 86_400_000,
};
const beacon = { intervalMs: 60_000, jitterMs: 2_000, count: 300, spanMs: 5 * 3_600_000, destination: "203.0.113.9:443" };

t.test("durations read as people say them", async (t) => {
  t.same([500, 2_000, 60_000, 119_000, 900_000, 5 * 3_600_000, 3 * 86_400_000].map(duration), ["500 ms", "2 s", "60 s", "119 s", "15 min", "5 h", "3 d"]);
});

t.test("a beacon is evidence with weight and a reason quoting interval and jitter", async (t) => {
  const without = scoreGroup(base);
  const withBeacon = scoreGroup({ ...base, beacon });
  t.ok(withBeacon.score > without.score, `${withBeacon.score} > ${without.score}`);
  t.ok(withBeacon.evidence.includes("beaconing"));
  t.ok(withBeacon.reasons.includes("beacons every 60 s ± 2 s for 5 h to 203.0.113.9:443 (300 connections)"), withBeacon.reasons.join(" | "));
  t.notOk(without.evidence.includes("beaconing"));
});

t.test("a beacon every host running the binary shows is the fleet's normal", async (t) => {
  const common = scoreGroup({ ...base, hostCount: 40, binaryHostCount: 40, fleetHosts: 40, beacon });
  t.notOk(common.evidence.includes("beaconing"));
  t.ok(
    common.reasons.some((r) => r.includes("this fleet's normal") && r.startsWith("beacons every 60 s")),
    common.reasons.join(" | "),
  );
  t.equal(common.score, scoreGroup({ ...base, hostCount: 40, binaryHostCount: 40, fleetHosts: 40 }).score, "and adds nothing to the score");
});
