// The score on literal facts: what drives it up, what keeps it down.

import t from "tap";
import { confidence, scoreGroup, type GroupFacts } from "oddwire-collector/score/score-finding.js";

const DAY = 86_400_000;
const now = 1_800_000_000_000;
const base: GroupFacts = {
  binaryName: "cron",
  protocol: "irc",
  direction: "outbound",
  hostCount: 1,
  binaryHostCount: 250,
  fleetHosts: 300,
  tags: [],
  parentShare: null,
  parentName: "",
  firstSeenMs: now - 30 * DAY,
  nowMs: now,
};

t.test("conditional rarity: cron on 1 of 250 hosts is the finding; a rare binary that behaves the same everywhere is not", async (t) => {
  const rare = scoreGroup(base);
  t.ok(rare.score > 80, `score ${rare.score}`);
  t.same(rare.evidence, ["rarity"]);
  t.match(rare.reasons[0], /cron speaking irc on 1 of the 250 hosts that run cron \(0\.4%\)/);
  const consistent = scoreGroup({ ...base, binaryName: "backupd", hostCount: 3, binaryHostCount: 3 });
  t.equal(consistent.score, 0);
  t.match(consistent.reasons[0], /runs on only 3 hosts: too few/);
  t.equal(confidence(5), 0);
  t.equal(confidence(30), 1);
});

t.test("knowledge carries small fleets, and is damped where the fleet does it everywhere", async (t) => {
  const small = scoreGroup({ ...base, hostCount: 1, binaryHostCount: 1, fleetHosts: 3, tags: ["silent-binary-socket"] });
  t.equal(small.score, 80);
  t.same(small.evidence, ["knowledge"]);
  t.match(small.reasons[0], /^agent tags: silent-binary-socket$/, "the strongest evidence first");
  t.match(small.reasons[1], /fleet of 3 hosts: no fleet statistics/);
  const everywhere = scoreGroup({ ...base, binaryName: "python3.11", hostCount: 200, binaryHostCount: 200, tags: ["interpreter-outbound"] });
  t.equal(everywhere.score, 0);
  t.match(everywhere.reasons.join(" "), /100% of the hosts running python3\.11 do this: this fleet's normal/);
});

t.test("lineage and novelty add to rarity", async (t) => {
  const plain = scoreGroup({ ...base, hostCount: 5, binaryHostCount: 20 });
  const lineage = scoreGroup({ ...base, hostCount: 5, binaryHostCount: 20, parentShare: 0.02, parentName: "WINWORD.EXE" });
  const novel = scoreGroup({ ...base, hostCount: 2, binaryHostCount: 20, firstSeenMs: now - 60_000 });
  t.ok(lineage.score > plain.score, `${lineage.score} > ${plain.score}`);
  t.ok(lineage.evidence.includes("lineage"));
  t.match(lineage.reasons.join(" "), /runs under WINWORD\.EXE, the parent of only 2% of cron processes/);
  t.ok(novel.evidence.includes("novelty"));
  t.match(novel.reasons.join(" "), /first seen 1 minute ago, on 2 hosts/);
});

t.test("the knowledge reason quotes the agent's own words for the strongest tag", async (t) => {
  const r = scoreGroup({
    ...base,
    hostCount: 1,
    binaryHostCount: 1,
    tags: ["writable-dir-exe", "name-imitation"],
    tagReasons: { "writable-dir-exe": "runs from /tmp", "name-imitation": 'calls itself "kworker/0:1"' },
  });
  t.equal(r.reasons[0], 'agent (name-imitation): calls itself "kworker/0:1"; also tagged writable-dir-exe');
});

t.test("a site's 'never' is not damped by how common it is; a new unpackaged executable adds its weight", async (t) => {
  // AnyDesk on every desktop: the fleet's normal by rarity, still a finding because the site said never.
  const everywhere = { ...base, binaryName: "anydesk", protocol: "https", hostCount: 200, binaryHostCount: 200 };
  t.equal(scoreGroup({ ...everywhere, tags: ["unexpected-protocol"] }).score, 0, "an ordinary tag on every host is this fleet's normal");
  const never = scoreGroup({
    ...everywhere,
    tags: ["site-never"],
    tagReasons: { "site-never": 'anydesk matches a "never" entry of site knowledge "acme" (binary anydesk): no remote-access tools here' },
  });
  t.equal(never.score, 90);
  t.match(never.reasons[0], /site knowledge "acme"/);
  const both = scoreGroup({ ...everywhere, tags: ["site-never", "unexpected-protocol"] });
  t.equal(both.score, 90, "the damped tag adds nothing where the fleet does it everywhere");
  const fresh = scoreGroup({
    ...base,
    binaryName: "fetchd",
    protocol: "https",
    hostCount: 1,
    binaryHostCount: 1,
    fleetHosts: 3,
    tags: ["unknown-binary-public", "new-unpackaged-exe"],
  });
  t.equal(fresh.score, 64.3);
});

t.test("rarity is over what the wire showed where it is known, not what the port implies", async (t) => {
  // curl on 443 on 200 of 250 hosts: common by the port. By its traffic, plain HTTP on 443 happened on 1 of them.
  const common = { ...base, binaryName: "curl", protocol: "https", hostCount: 200, binaryHostCount: 250 };
  const byPort = scoreGroup(common);
  t.ok(byPort.score < 20 && !byPort.evidence.includes("rarity"), `by the port alone it is ordinary: ${byPort.score}`);
  const byWire = scoreGroup({ ...common, wire: { protocol: "HTTP", hostCount: 1 } });
  t.ok(byWire.score > 80, `score ${byWire.score}`);
  t.same(byWire.evidence, ["rarity"]);
  t.match(byWire.reasons[0], /^curl speaking HTTP by its traffic \(port says https\) on 1 of the 250 hosts that run curl \(0\.4%\)$/);
  // And the other way: a port protocol that is rare while what the traffic was is ordinary for the binary.
  const ordinaryWire = scoreGroup({ ...base, binaryName: "curl", protocol: "http-alt", hostCount: 1, binaryHostCount: 250, wire: { protocol: "HTTP", hostCount: 240 } });
  t.ok(ordinaryWire.score < 5, `HTTP is what curl speaks on 240 of 250 hosts: ${ordinaryWire.score}`);
  t.ok(scoreGroup({ ...common, protocol: "http-alt", hostCount: 1 }).score > 80, "where by the port alone it would rank high");
  t.equal(scoreGroup({ ...common, wire: { protocol: "", hostCount: 0 } }).score, byPort.score, "an unidentified wire leaves the port's rarity");
});
