// The persona-to-fleet link through what the wire carried: a persona links a
// domain; a real process (a copy of curl under a name of its own) sends a
// plain HTTP request over loopback whose Host header names a subdomain of it,
// the header coming from a file, so its command line does not name the
// domain; a real agent with --dpi on streams to a real collector.
// The persona's `matches` then hold a "destination-name" match on that host
// (and no command-line one), with the sentence in words, and the process's
// finding carries the persona link. Loopback only.

import t from "tap";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { kill, track } from "./lib/child-processes.js";
import { COLLECTOR_BIN, query, startCollector, waitFor } from "./lib/fleet.js";
import { curlCopy, holdingHttpServer, ownLoopbackAddress, startDpiAgent } from "./lib/dpi.js";
import { skipWithoutTools } from "./lib/system-tools.js";

const skip =
  process.platform !== "linux"
    ? "Linux only"
    : process.getuid?.() !== 0
      ? "needs root to capture packets"
      : skipWithoutTools(["tcpdump", "ndpiReader", "curl"], "tcpdump libndpi-bin curl");

function collector(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
}

t.test("a process whose HTTP Host header names a persona's domain is matched by the destination name", { skip }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const tag = randomBytes(4).toString("hex");
  const domain = `careers-wire-${tag}.test`;
  const name = `apply.${domain}`;
  const hostId = `persona-dpi-${tag}`;

  const add = collector([
    "persona",
    "add",
    "--db",
    db,
    "--platform",
    "linkedin",
    "--handle",
    `wire-recruiter-${tag}`,
    "--domain",
    domain,
    "--requested",
    "Pat Operator",
    "--contacted",
    new Date(Date.now() - 40 * 60_000).toISOString(),
  ]);
  t.equal(add.status, 0, add.stderr);
  writeFileSync(join(dir, "staff.csv"), `name,login\nPat Operator,${userInfo().username}\n`);
  t.equal(collector(["persona", "roster", join(dir, "staff.csv"), "--db", db]).status, 0);

  const c = await startCollector(t, db);
  const agent = await startDpiAgent(t, dir, hostId, c.url);
  const addr = ownLoopbackAddress();
  // The server holds every request open, so the process stays until the test has seen what it needs.
  const { port, held } = await holdingHttpServer(t, addr);

  // A copy of curl under a name of its own; the Host header comes from a file (-H @FILE), so the command line names neither it nor the domain.
  const binary = curlCopy(dir, `curl-wire-${tag}`);
  const headers = join(dir, "request-headers");
  writeFileSync(headers, `Host: ${name}\n`);
  const client = track(spawn(binary, ["--silent", "--max-time", "300", "-H", `@${headers}`, `http://${addr}:${port}/jobs/apply`], { stdio: "ignore" }));
  t.teardown(() => kill(client));
  await waitFor("the request to reach the server", () => held.length > 0, 30_000);
  const cmdline = readFileSync(`/proc/${client.pid}/cmdline`, "utf8");
  t.notOk(cmdline.toLowerCase().includes(domain), "the command line does not name the domain");

  const found = await waitFor(
    "the persona to match the host by the destination name",
    () => {
      const r = collector(["report", "--db", db, "--format", "json", "--binary", binary]);
      if (r.status !== 0) return null;
      const report = JSON.parse(r.stdout);
      const p = report.personas?.find((x: any) => x.handle === `wire-recruiter-${tag}`);
      const m = p?.matches.find((m: any) => m.hostId === hostId && m.source === "destination-name");
      const f = (report.findings as any[]).find((f) => f.hosts.some((h: any) => h.hostId === hostId && h.pid === client.pid));
      return m && f ? { p, m, f } : null;
    },
    120_000,
    500,
  ).catch((err: Error) => {
    const names = query(db, "SELECT name, kind, pid, exe FROM destination_names WHERE host_id = ? AND name <> '127.0.0.1'", hostId);
    const flows = query(db, "SELECT pid, exe, direction, client_port, wire_protocol, names FROM flows WHERE server_address = ?", addr);
    throw new Error(`${err.message}\ndestination names: ${JSON.stringify(names)}\nflows: ${JSON.stringify(flows)}\nagent log:\n${agent.log.slice(-10).join("\n")}`);
  });
  const { p, m, f } = found;
  t.match(m, { source: "destination-name", domain, observed: name, pid: client.pid, exe: binary, user: userInfo().username });
  t.notOk(
    p.matches.some((x: any) => x.hostId === hostId && x.source === "command-line"),
    "no command-line match: only the wire named the domain",
  );
  const sentence = new RegExp(
    `^host .+ reached ${name.replace(/\./g, "\\.")} as ${userInfo().username} \\(Pat Operator, whom the persona contacted\\) 4\\d minutes after the persona's latest message to staff$`,
  );
  t.ok(
    p.reasons.some((r: string) => sentence.test(r)),
    p.reasons.join(" | "),
  );
  t.ok(f.evidence.includes("persona"), f.evidence.join(" "));
  t.ok(
    f.reasons.some((r: string) => r.startsWith(`linked by persona #${p.id} (linkedin wire-recruiter-${tag}, triage new): host ${m.hostname} reached ${name} as `)),
    f.reasons.join(" | "),
  );
});
