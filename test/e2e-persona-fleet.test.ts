// The persona-to-fleet link with the real thing: a persona links a domain; a
// real process whose command line names that domain connects (over loopback
// only: curl --resolve pins the name to 127.0.0.1) to a server this test
// runs; a real agent streams to a real collector; the persona's `matches`
// then name the host, with a reason in words, and the process's finding
// carries the link as evidence. The process is a copy of curl under a name
// of its own, so nothing else on the machine can stand in for it.

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, chmodSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { createServer, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { COLLECTOR_BIN, startAgent, startCollector, waitFor } from "./lib/fleet.js";
import { kill, track } from "./lib/child-processes.js";
import { skipWithoutTools } from "./lib/system-tools.js";

function collector(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

t.test("a real process that names and reaches a persona's domain is matched to its host", { skip: skipWithoutTools(["curl"], "curl") }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const tag = randomBytes(4).toString("hex");
  const domain = `careers-example-${tag}.test`;
  const hostId = `persona-host-${tag}`;

  // The server holds every request open until the test has seen what it needs.
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => {
    held.push(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  t.teardown(() => {
    for (const res of held) res.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const add = collector([
    "persona",
    "add",
    "--db",
    db,
    "--platform",
    "linkedin",
    "--handle",
    `recruiter-${tag}`,
    "--display-name",
    "Talent Team",
    "--claimed-employer",
    "Example Corp",
    "--url",
    `https://${domain}/jobs/apply`,
    "--requested",
    "Pat Operator",
    "--contacted",
    new Date(Date.now() - 40 * 60_000).toISOString(),
  ]);
  t.equal(add.status, 0, add.stderr);
  // The staff member the persona contacted is the user this test's processes run as.
  writeFileSync(join(dir, "staff.csv"), `name,login\nPat Operator,${userInfo().username}\nSam Else,nobody\n`);
  t.equal(collector(["persona", "roster", join(dir, "staff.csv"), "--db", db]).status, 0);

  const c = await startCollector(t, db);
  startAgent(t, dir, hostId, c.url, ["--schedule", "* * * * * *"]);

  const binary = join(dir, `curl-persona-${tag}`);
  copyFileSync(spawnSync("sh", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim(), binary);
  chmodSync(binary, 0o755);
  const curl = track(spawn(binary, ["--silent", "--max-time", "300", "--resolve", `${domain}:${port}:127.0.0.1`, `http://${domain}:${port}/welcome`], { stdio: "ignore" }));
  t.teardown(() => kill(curl));
  await waitFor("curl to reach the server", () => held.length > 0, 30_000);

  const persona = await waitFor(
    "the persona to match the host",
    () => {
      const r = collector(["report", "--db", db, "--format", "json", "--binary", `curl-persona-${tag}`]);
      if (r.status !== 0) return null;
      const report = JSON.parse(r.stdout);
      const p = report.personas?.find((x: any) => x.handle === `recruiter-${tag}`);
      return p?.matches.some((m: any) => m.hostId === hostId) ? { p, report } : null;
    },
    90_000,
    500,
  );
  const match = persona.p.matches.find((m: any) => m.hostId === hostId);
  t.match(match, { hostname: String, source: "command-line", domain, observed: domain, pid: curl.pid, exe: binary });
  t.match(match.cmdline, `http://${domain}:${port}/welcome`);
  t.ok(
    persona.p.reasons.some((r: string) =>
      new RegExp(
        `^host .+ named ${domain.replace(/\./g, "\\.")} on a command line \\(curl-persona-${tag}, pid ${curl.pid}\\) as ${userInfo().username} \\(Pat Operator, whom the persona contacted\\) 4\\d minutes after the persona's latest message to staff$`,
      ).test(r),
    ),
    persona.p.reasons.join(" | "),
  );
  t.ok(persona.p.score >= 40, `score ${persona.p.score}`);

  // The other half of the link: the process's own finding names the persona.
  const finding = persona.report.findings.find((f: any) => f.hosts.some((h: any) => h.hostId === hostId && h.pid === curl.pid));
  t.ok(finding, "the curl copy's connection is a finding on that host");
  t.ok(finding.evidence.includes("persona"), finding.evidence.join(" "));
  t.ok(
    finding.reasons.some((r: string) =>
      r.startsWith(
        `linked by persona #${persona.p.id} (linkedin recruiter-${tag}, triage new): host ${match.hostname} named ${domain} on a command line (curl-persona-${tag}, pid ${curl.pid}) as `,
      ),
    ),
    finding.reasons.join(" | "),
  );

  const list = collector(["persona", "list", "--db", db]).stdout;
  const row = list.split("\n").find((l) => l.includes(`recruiter-${tag}`)) ?? "";
  t.ok(row.includes(match.hostname.slice(0, 20)), `the table lists the matched host: ${row}`);
});
