// The report end to end: a labelled fleet replayed into a real collector,
// then the report as a user gets it (CLI table, JSON, CSV; served JSON and
// page behind the reader token), filters, and triage with suppress /
// unsuppress and their audit trail.

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { labelledFleet } from "./bench/labelled-fleet.js";
import { AGENT_BIN, COLLECTOR_BIN, SECRET, startCollector } from "./lib/fleet.js";
import { kill, track } from "./lib/child-processes.js";

const TOKEN = "reader-token-for-tests-0123456789";

function collector(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

t.test("the report ranks planted anomalies first and is served only with the reader token", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db, { args: ["--reader-token", TOKEN] });
  const fleet = labelledFleet({ linux: 40, windows: 20 });
  writeFileSync(join(dir, "fleet.ndjson"), fleet.lines.join("\n") + "\n");
  const replay = track(
    spawn(process.execPath, [AGENT_BIN, "replay", join(dir, "fleet.ndjson"), "--collector", c.url, "--enroll-secret", SECRET, "--quiet"], { stdio: ["ignore", "ignore", "pipe"] }),
  );
  t.teardown(() => kill(replay));
  let err = "";
  replay.stderr!.on("data", (d) => (err += d));
  t.equal(await new Promise((r) => replay.on("exit", r)), 0, err);

  const json = collector(["report", "--db", db, "--format", "json", "--top", "20"]);
  t.equal(json.status, 0, json.stderr);
  const report = JSON.parse(json.stdout);
  t.match(report, { generatedAt: String, fleet: { hosts: 60, byOs: { linux: 40, windows: 20 }, smallFleet: false }, findings: Array });
  const f0 = report.findings[0];
  for (const key of ["rank", "score", "binary", "protocol", "transport", "port", "direction", "hostCount", "binaryHostCount", "reasons", "hosts"])
    t.ok(key in f0, `finding.${key}`);
  for (const key of ["hostId", "hostname", "pid", "cmdline", "ancestry", "firstSeenMs", "lastSeenMs"]) t.ok(key in f0.hosts[0], `host.${key}`);
  const rankOf = (binary: string, protocol: string) =>
    report.findings.find((f: any) => f.binary.name.toLowerCase() === binary.toLowerCase() && f.protocol === protocol)?.rank ?? Infinity;
  const planted = fleet.planted.map((p) => rankOf(p.binary, p.protocol));
  const decoys = fleet.decoys.map((d) => rankOf(d.binary, d.protocol));
  t.ok(
    planted.every((r) => r <= 12),
    `planted anomalies rank ${planted.join(", ")}`,
  );
  t.ok(Math.max(...planted) < Math.min(...decoys), `every planted anomaly above every decoy (decoys: ${decoys.join(", ")})`);
  const shell = report.findings.find((f: any) => f.binary.name === "bash" && f.protocol === "unknown");
  t.match(shell.hosts[0].ancestry, /nginx\(\d+\) > bash\(\d+\)$/, "ancestry of the reverse shell");
  t.match(shell.hosts[0].cmdline, /\/dev\/tcp\/192\.0\.2\.44\/4444/);
  t.ok(
    shell.reasons.some((r: string) => /on 1 of the \d+ hosts that run bash/.test(r)),
    shell.reasons.join(" | "),
  );

  await t.test("filters", async (t) => {
    const only = JSON.parse(collector(["report", "--db", db, "--format", "json", "--protocol", "irc"]).stdout);
    t.ok(only.findings.length >= 1 && only.findings.every((f: any) => f.protocol === "irc"));
    const tagged = JSON.parse(collector(["report", "--db", db, "--format", "json", "--tag", "lolbin-outbound"]).stdout);
    t.ok(tagged.findings.length >= 1 && tagged.findings.every((f: any) => f.tags.includes("lolbin-outbound")));
    const oneHost = JSON.parse(collector(["report", "--db", db, "--format", "json", "--host", "lnx-0001", "--top", "100"]).stdout);
    t.ok(oneHost.findings.length >= 1, "findings on that host");
    t.ok(
      oneHost.findings.every((f: any) => f.hosts.every((h: any) => h.hostId === "lnx-0001")),
      "and only that host in their host lists",
    );
    const top3 = JSON.parse(collector(["report", "--db", db, "--format", "json", "--top", "3"]).stdout);
    t.same(
      top3.findings.map((f: any) => f.rank),
      [1, 2, 3],
    );
    const bad = collector(["report", "--db", db, "--since", "yesterday-ish"]);
    t.equal(bad.status, 2);
    t.match(bad.stderr, /--since takes a duration \(30m, 24h, 7d, 2w\) or an ISO date/);
  });

  await t.test("table and CSV", async (t) => {
    const table = collector(["report", "--db", db, "--top", "5"]);
    t.match(table.stdout, /^oddwire fleet rarity report, .*: 60 hosts \(40 linux, 20 windows\)/);
    t.match(table.stdout, /\nRANK\s+SCORE\s+BINARY\s+PROTOCOL\s+HOSTS\s+TAGS\s+WHY\n1\s/);
    const csv = collector(["report", "--db", db, "--format", "csv", "--top", "5"]).stdout;
    t.ok(
      csv.startsWith(
        "rank,score,binary_name,binary_path,sha256,protocol,transport,port,port_class,direction,host_count,binary_host_count,tags,reasons,evidence,suppressed,host_id,hostname,pid,user,cmdline,ancestry,host_first_seen,host_last_seen,host_ports,sensor_evidence,wire_protocol,risks,destination_names\r\n",
      ),
    );
    t.ok(csv.split("\r\n").length > 5);
  });

  await t.test("served report: no token, wrong token, token once then cookie", async (t) => {
    const base = `http://127.0.0.1:${c.port}`;
    t.equal((await fetch(`${base}/report.json`)).status, 401);
    t.equal((await fetch(`${base}/report.json`, { headers: { authorization: "Bearer nope-nope-nope-nope" } })).status, 401);
    t.equal((await fetch(`${base}/report?token=wrong`, { redirect: "manual" })).status, 401);
    const ok = await fetch(`${base}/report.json?top=2`, { headers: { authorization: `Bearer ${TOKEN}` } });
    t.equal(ok.status, 200);
    t.equal(((await ok.json()) as { findings: unknown[] }).findings.length, 2);
    const once = await fetch(`${base}/report?token=${TOKEN}&protocol=irc`, { redirect: "manual" });
    t.equal(once.status, 303);
    t.equal(once.headers.get("location"), "/report?protocol=irc", "the token leaves the URL");
    const cookie = once.headers.get("set-cookie")!;
    t.match(cookie, /^oddwire_reader=.+; HttpOnly; SameSite=Strict; Path=\//);
    const page = await fetch(`${base}/report?protocol=irc`, { headers: { cookie: cookie.split(";")[0]! } });
    t.equal(page.status, 200);
    t.match(page.headers.get("content-security-policy"), /default-src 'none'; script-src 'nonce-/);
    t.match(await page.text(), /fleet rarity report/);
    const json = await fetch(`${base}/report.json?top=1`, { headers: { cookie: cookie.split(";")[0]! } });
    t.equal(json.status, 200, "the cookie opens the JSON too");
    const garbage = await fetch(`${base}/report`, { headers: { cookie: "oddwire_reader=%" } });
    t.equal(garbage.status, 401, "a malformed cookie is no token, not a crash");
    t.equal((await fetch(`${base}/healthz`)).status, 200);
    const badFilter = await fetch(`${base}/report.json?min-score=900`, { headers: { authorization: `Bearer ${TOKEN}` } });
    t.equal(badFilter.status, 400);
  });

  await t.test("suppress, show suppressed, unsuppress, audit trail", async (t) => {
    const add = collector(["suppress", "--db", db, "--binary", "cron", "--protocol", "irc", "--reason", "lab IRC bot, approved in CHG-1234", "--by", "alice", "--expires", "30d"]);
    t.equal(add.status, 0, add.stderr);
    const id = Number(/suppression (\d+) added/.exec(add.stdout)![1]);
    const after = JSON.parse(collector(["report", "--db", db, "--format", "json", "--top", "50"]).stdout);
    t.notOk(
      after.findings.some((f: any) => f.binary.name === "cron" && f.protocol === "irc"),
      "suppressed finding stops ranking",
    );
    const shown = JSON.parse(collector(["report", "--db", db, "--format", "json", "--top", "50", "--show-suppressed"]).stdout);
    const cron = shown.findings.find((f: any) => f.binary.name === "cron" && f.protocol === "irc");
    t.match(cron.suppressed, { id, reason: "lab IRC bot, approved in CHG-1234", by: "alice" });
    t.equal(collector(["suppress", "--db", db, "--binary", "cron"]).status, 2, "a reason is required");
    const rm = collector(["unsuppress", String(id), "--db", db, "--by", "bob", "--reason", "bot retired"]);
    t.equal(rm.stdout, `suppression ${id} removed\n`);
    t.equal(collector(["unsuppress", String(id), "--db", db]).status, 2, "removing twice is an error");
    const back = JSON.parse(collector(["report", "--db", db, "--format", "json", "--top", "50"]).stdout);
    t.ok(
      back.findings.some((f: any) => f.binary.name === "cron" && f.protocol === "irc"),
      "ranks again",
    );
    const audit = JSON.parse(collector(["suppressions", "--db", db, "--format", "json"]).stdout).audit;
    t.match(audit, [
      { suppression_id: id, action: "add", by: "alice", reason: "lab IRC bot, approved in CHG-1234" },
      { suppression_id: id, action: "remove", by: "bob", reason: "bot retired" },
    ]);
  });
});

t.test("a small fleet is scored by knowledge alone, and says so", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "small.db");
  const c = await startCollector(t, db);
  const fleet = labelledFleet({ linux: 2, windows: 1 });
  writeFileSync(join(dir, "fleet.ndjson"), fleet.lines.join("\n") + "\n");
  const r = spawnSync(process.execPath, [AGENT_BIN, "replay", join(dir, "fleet.ndjson"), "--collector", c.url, "--enroll-secret", SECRET, "--quiet"], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);
  const report = JSON.parse(collector(["report", "--db", db, "--format", "json"]).stdout);
  t.equal(report.fleet.smallFleet, true);
  const top = report.findings.slice(0, fleet.planted.length);
  t.ok(
    top.every((f: any) => f.evidence.includes("knowledge")),
    "the top findings rest on knowledge",
  );
  t.ok(top.every((f: any) => f.reasons.some((x: string) => /no fleet statistics/.test(x))));
  t.ok(
    fleet.decoys.every((d) => !top.some((f: any) => f.binary.name === d.binary)),
    "no decoy among them",
  );
});
