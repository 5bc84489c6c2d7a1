// Detection quality, one test per class of miss (issue 12), against a real
// collector: a labelled fleet (test/eval) is replayed with
// `oddwire-agent replay`, which classifies each line as the agent does, and
// the collector's JSON report is read. Also runs the eval itself on a tiny
// fleet, so `npm run eval` is tested.

import t from "tap";
import { EvalHost } from "./eval/eval-host.js";
import { linuxBackground } from "./eval/background.js";
import { meetsTargets, replayAndReport, runEval, type EvalResult } from "./eval/run-eval.js";
import { rng } from "./bench/fleet-gen.js";

interface F {
  rank: number;
  score: number;
  binary: { name: string };
  protocol: string;
  direction: string;
  tags: string[];
  reasons: string[];
  hostCount: number;
  binaryHostCount: number;
  hosts: Array<{ hostId: string; pid: number; cmdline: string }>;
}

let r: EvalResult;
const findings = (): F[] => r.report.findings as F[];
const caseOf = (what: string) => {
  const c = r.cases.find((x) => x.c.what === what);
  if (!c) throw new Error(`no case ${what}`);
  return c;
};
const bestBenign = () => r.bestBenignRank ?? Number.POSITIVE_INFINITY;

t.before(async () => {
  // 12 Linux servers and 24 Windows desktops: enough hosts running Thunderbird for fleet statistics.
  r = await runEval({ linux: 12, windows: 24, age: "week" });
});

t.test("the eval on a tiny fleet meets its targets and measures every source", async (t) => {
  t.same(
    r.bySource.map((s) => s.source),
    ["sigma", "lolbas", "gtfobins", "own"],
  );
  for (const s of r.bySource) t.ok(s.cases > 0 && s.medianRank !== null, `${s.source}: ${s.tagged}/${s.cases} tagged, ${s.aboveBenign}/${s.cases} above benign`);
  t.ok(meetsTargets(r), JSON.stringify(r.bySource));
});

t.test("1: an unknown binary on one host talking to a public address scores, with what is known", async (t) => {
  for (const what of ["an unknown binary calling a malware callback port", "an unknown binary in /opt talking to an unregistered port"]) {
    const c = caseOf(what);
    t.ok(c.tags.includes("unknown-binary-public"), `${what}: ${c.tags}`);
    t.ok((c.score ?? 0) >= 50, `${what} scores ${c.score}`);
    t.ok(c.aboveBenign, `${what} ranks ${c.rank}, above the best benign case at ${bestBenign()}`);
  }
  const f = findings().find((x) => x.binary.name === "syncd")!;
  t.match(f.reasons.join("\n"), /not in oddwire's knowledge base and connects to a public address.*no protocol is registered/);
});

t.test("2: bind shells and listeners are tagged", async (t) => {
  for (const [what, tag] of [
    ["nc bind shell (nc -l -e)", "bind-shell"],
    ["socat bind shell (TCP-LISTEN ... EXEC)", "bind-shell"],
    ["python one-liner bind shell", "bind-shell"],
    ["php -S serving a directory", "tool-listen"],
  ] as const) {
    const c = caseOf(what);
    t.ok(c.tags.includes(tag), `${what}: ${c.tags}`);
    t.ok(c.aboveBenign, `${what} ranks ${c.rank}`);
  }
});

t.test("3: a known-good pairing on a quarter of the fleet stays near zero", async (t) => {
  const f = findings().find((x) => x.binary.name === "thunderbird.exe" && x.protocol === "imaps")!;
  t.ok(f, "Thunderbird on imaps is in the report");
  t.ok(f.hostCount / f.binaryHostCount <= 0.3 && f.binaryHostCount >= 20, `${f.hostCount} of ${f.binaryHostCount}`);
  t.ok(f.score < 10, `scores ${f.score}`);
  t.match(f.reasons.join("\n"), /knowledge says thunderbird\.exe normally does this/);
});

t.test("4: download tools are judged by their command line, not the socket", async (t) => {
  const plain = findings().filter((x) => x.binary.name === "curl" && x.protocol === "https" && x.tags.length === 0);
  t.ok(plain.length > 0, "curl to 443 with an ordinary command line is untagged");
  t.notOk(
    findings().some((x) => x.binary.name === "curl" && x.tags.includes("lolbin-outbound")),
    "no curl finding carries lolbin-outbound for the mere socket",
  );
  for (const what of ["curl piped into sh", "wget from a bare IP into /dev/shm", "curl.exe downloading into %TEMP%", "certutil -urlcache download"]) {
    const c = caseOf(what);
    t.ok(c.tags.includes("suspicious-command"), `${what}: ${c.tags}`);
    t.ok(c.aboveBenign, `${what} ranks ${c.rank}`);
  }
  const benignCurl = r.benign.find((b) => b.c.binary === "curl.exe")!;
  t.ok((benignCurl.score ?? 0) < 10, `curl.exe to a named host into Downloads scores ${benignCurl.score}`);
});

t.test("5: a web server opening an SSH connection is tagged", async (t) => {
  const c = caseOf("nginx opening an SSH connection");
  t.ok(c.tags.includes("unexpected-protocol"), `${c.tags}`);
  t.ok(c.aboveBenign);
  t.notOk(
    findings().some((x) => x.binary.name === "nginx" && x.protocol === "unknown" && x.tags.length > 0),
    "nginx reaching upstreams on unregistered ports is not tagged",
  );
});

t.test("6: script hosts connecting out outweigh rare benign desktop software", async (t) => {
  const c = caseOf("wscript connecting out");
  t.ok(c.tags.includes("lolbin-outbound"), `${c.tags}`);
  t.ok((c.score ?? 0) >= 80, `wscript scores ${c.score}`);
  const photo = r.benign.find((b) => b.c.binary === "PhotoTool.exe")!;
  t.ok(c.rank! < (photo.rank ?? Number.POSITIVE_INFINITY), `wscript ${c.rank} above PhotoTool ${photo.rank}`);
});

t.test("7: writable and unusual locations on each OS", async (t) => {
  for (const what of [
    "a binary in C:\\Users\\Public connecting out",
    "a binary in C:\\Windows\\Fonts connecting out",
    "a binary in a hidden directory under home",
    "a binary in /var/tmp",
  ]) {
    const c = caseOf(what);
    t.ok(c.tags.includes("writable-dir-exe"), `${what}: ${c.tags}`);
    t.ok(c.aboveBenign, `${what} ranks ${c.rank}`);
  }
});

t.test("9: destination names in the command line (paste sites, tunnels) are tagged", async (t) => {
  for (const what of ["curl fetching from a paste site", "ssh reverse tunnel to a tunnelling service"]) {
    const c = caseOf(what);
    t.ok(c.tags.includes("suspicious-destination"), `${what}: ${c.tags}`);
    t.ok(c.aboveBenign, `${what} ranks ${c.rank}`);
  }
  const f = findings().find((x) => x.binary.name === "ssh" && x.tags.includes("suspicious-destination"))!;
  t.match(f.reasons.join("\n"), /serveo\.net, a tunnelling service/);
});

t.test("8: revoked hosts leave the denominators; the report never names a process that was not behind the finding", async (t) => {
  const r8 = rng(8);
  const hosts: EvalHost[] = [];
  for (let i = 0; i < 12; i++) {
    const h = new EvalHost(`rev-${String(i).padStart(2, "0")}`, "linux");
    linuxBackground(h, r8);
    hosts.push(h);
  }
  const now = Date.now();
  const lines = hosts.map((h) => h.line(now - 3_600_000));
  // On rev-00 cron talks IRC in one snapshot; in the next, that process has
  // exited and another cron (a different pid, a different command line) runs.
  const h0 = hosts[0]!;
  const ircCron = h0.proc("cron", "/usr/sbin/cron", "/usr/sbin/cron -f -L 15", h0.pidOf("systemd"));
  h0.connect(ircCron, "192.0.2.66", 6667);
  lines.push(h0.line(now - 120_000));
  h0.processes.splice(
    h0.processes.findIndex((p) => p["pid"] === ircCron),
    1,
  );
  h0.sockets.pop();
  lines.push(h0.line(now - 60_000));
  const revoked = hosts.slice(4).map((h) => h.id);
  const report = await replayAndReport(lines, revoked);
  const f = (report.findings as F[]).find((x) => x.binary.name === "cron" && x.protocol === "irc")!;
  t.ok(f, "cron talking IRC is reported");
  t.equal(f.binaryHostCount, 4, "only the 4 hosts not revoked run cron");
  t.notMatch(f.reasons.join("\n"), /of the 12 hosts/);
  const host = f.hosts.find((h) => h.hostId === "rev-00")!;
  t.equal(host.pid, 0, "the owner exited: no pid");
  t.notMatch(host.cmdline, /cron -f/, "no other cron process is named in its place");
});
