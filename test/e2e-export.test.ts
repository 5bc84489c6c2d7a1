// Scheduled CSV exports for real: a collector whose config runs exports every
// second, a hostile fleet replayed into it, and the files read back with an
// independent RFC 4180 parser (csv-parse). Failures (missing directory, full
// disk) are logged, counted, retried, and the collector keeps serving.

import t from "tap";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { STRING_LIMITS, terminalSafe, truncateUtf8 } from "@oddwire/shared";
import { AGENT_BIN, COLLECTOR_BIN, SECRET, startCollector, stopGracefully, waitFor } from "./lib/fleet.js";
import { http } from "./lib/http.js";

// Spreadsheet formula triggers; tab, CR, LF and NUL at the start are triggers
// too, but a CSV field never starts with them raw: controls are escaped.
const TRIGGERS = ["=", "+", "-", "@"];
const HOSTILE = [
  'cmd "with quotes", and commas',
  "line one\nline two\r\nline three",
  ...[...TRIGGERS, "\t", "\r", "\n", "\0"].map((c) => `${c}HYPERLINK("http://192.0.2.1/x","click")`),
  `unicode: 東京 café сервер \u202eexe.txt 🙂`,
  `long ${"A".repeat(100_000)} end`,
];

function fleetLines(): string[] {
  // One host per hostile command line, each running a shell with an outbound connection (a finding).
  return HOSTILE.map((cmd, i) =>
    JSON.stringify({
      hostId: `hostile-${i}`,
      hostname: i % 2 ? `=cmd|' /C calc'!A0` : `host,"${i}"`,
      os: "linux",
      takenAtMs: String(Date.now()),
      processes: [
        { pid: 1, ppid: 0, name: "systemd", exe: "/usr/lib/systemd/systemd", cmdline: "/sbin/init" },
        { pid: 50, ppid: 1, name: "bash", exe: "/usr/bin/bash", cmdline: cmd },
      ],
      sockets: [{ transport: "tcp", family: 4, localAddress: "10.0.0.5", localPort: 40000 + i, remoteAddress: "192.0.2.99", remotePort: 4444, state: "ESTABLISHED", pid: 50 }],
    }),
  );
}

function csvFiles(dir: string, prefix: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".csv"))
    .sort();
}

/** Reverses the formula-injection guard, as the README says to. */
function original(cell: string): string {
  return cell.startsWith("'") && TRIGGERS.includes(cell[1] ?? "") ? cell.slice(1) : cell;
}

t.test("exports run on schedule, survive a hostile corpus, and failures leave the collector serving", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const out = join(dir, "out");
  mkdirSync(out);
  const missing = join(dir, "not-yet");
  const config = {
    exports: [
      { name: "findings-every-second", cron: "* * * * * *", what: "findings", dir: out, keep: 2 },
      { name: "inventory-every-second", cron: "* * * * * *", what: "inventory", dir: out, keep: 2 },
      { name: "agents-every-second", cron: "* * * * * *", what: "agents", dir: out, keep: 2, timezone: "Europe/Paris" },
      { name: "broken", cron: "* * * * * *", what: "agents", dir: missing, keep: 2 },
    ],
  };
  writeFileSync(join(dir, "collector.json"), JSON.stringify(config));
  const c = await startCollector(t, db, { args: ["--config", join(dir, "collector.json")] });
  writeFileSync(join(dir, "fleet.ndjson"), fleetLines().join("\n") + "\n");
  const r = spawnSync(process.execPath, [AGENT_BIN, "replay", join(dir, "fleet.ndjson"), "--collector", c.url, "--enroll-secret", SECRET, "--quiet"], { encoding: "utf8" });
  t.equal(r.status, 0, r.stderr);

  // Wait until a findings export holds every host.
  let rows: string[][] = [];
  await waitFor("a complete findings export", () => {
    const files = csvFiles(out, "findings-every-second-findings-");
    if (files.length === 0) return false;
    rows = parse(readFileSync(join(out, files[files.length - 1]!)), { relaxColumnCount: false }) as string[][];
    return rows.length - 1 >= HOSTILE.length;
  });

  await t.test("RFC 4180 and every report row, hostile strings intact", async (t) => {
    const file = join(out, csvFiles(out, "findings-every-second-findings-").pop()!);
    const raw = readFileSync(file, "utf8");
    t.ok(raw.includes("\r\n") && !/[^\r]\n(?=[^"]*$)/.test(raw.slice(0, 2000).split("\r\n")[0]!), "records end with CRLF");
    const [header, ...body] = rows;
    t.same(header!.slice(0, 5), ["rank", "score", "binary_name", "binary_path", "sha256"]);
    const col = (name: string) => header!.indexOf(name);
    const report = JSON.parse(
      spawnSync(process.execPath, [COLLECTOR_BIN, "report", "--db", db, "--format", "json", "--top", "1000"], { encoding: "utf8", maxBuffer: 64 << 20 }).stdout,
    );
    // CSV carries each string terminal-safe (controls and bidi marks as visible escapes).
    const expected = report.findings.flatMap((f: any) => f.hosts.map((h: any) => `${f.rank}|${terminalSafe(h.hostId)}|${terminalSafe(h.cmdline)}`)).sort();
    const got = body.map((r) => `${r[col("rank")]}|${original(r[col("host_id")]!)}|${original(r[col("cmdline")]!)}`).sort();
    t.same(got, expected, "every finding x host row of the report, command lines as terminalSafe prints them after removing the guard");
    // The agent cuts a command line to its wire bound (the 100,000-byte one) before sending.
    const sent = (cmd: string) => terminalSafe(truncateUtf8(cmd, STRING_LIMITS.cmdline));
    for (const cmd of HOSTILE)
      t.ok(
        body.some((r) => original(r[col("cmdline")]!) === sent(cmd)),
        `round trip: ${JSON.stringify(cmd.slice(0, 30))}`,
      );
    t.notOk(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/.test(raw), "no raw control or bidi character in the file");
    for (const r of body) {
      for (const cell of r) t.notOk(TRIGGERS.includes(cell[0] ?? ""), "no cell starts with a formula trigger");
    }
    t.ok(
      body.some((r) => r[col("hostname")] === `'=cmd|' /C calc'!A0`),
      "a hostile hostname is neutralised",
    );
  });

  await t.test("inventory and agents exports; retention", async (t) => {
    // Retention prunes after each write: at the moment a new file lands there
    // may be keep+1, so wait for a moment with exactly keep.
    await waitFor("retention to prune", () => csvFiles(out, "inventory-every-second-inventory-").length === 2 && csvFiles(out, "agents-every-second-agents-").length === 2);
    const inv = parse(readFileSync(join(out, csvFiles(out, "inventory-every-second-inventory-").pop()!))) as string[][];
    t.same(inv[0]!.slice(0, 4), ["host_id", "hostname", "os", "pid"]);
    t.equal(inv.length - 1, HOSTILE.length, "one socket per host");
    const agents = parse(readFileSync(join(out, csvFiles(out, "agents-every-second-agents-").pop()!))) as string[][];
    t.equal(agents.length - 1, HOSTILE.length);
  });

  await t.test("a missing directory: logged, counted, shown, retried; the collector keeps serving", async (t) => {
    await waitFor("a failed run", () => c.log.some((l) => l.includes('"event":"export.failed"') && l.includes('"schedule":"broken"')));
    const line = c.log.find((l) => l.includes('"schedule":"broken"') && l.includes("export.failed"))!;
    t.match(line, /ENOENT/);
    t.match(line, /"retry":"at the next tick"/);
    const metrics = await (await http(`http://127.0.0.1:${c.port}/metrics`)).text();
    t.match(metrics, /oddwire_exports_failed_total [1-9]/);
    t.match(metrics, /oddwire_exports_ok_total [1-9]/);
    const agents = JSON.parse(spawnSync(process.execPath, [COLLECTOR_BIN, "agents", "--db", db, "--format", "json"], { encoding: "utf8" }).stdout);
    t.match(
      agents.exports.find((e: any) => e.schedule === "broken"),
      { status: "failed", error: /ENOENT/ },
    );
    t.equal(await (await http(`http://127.0.0.1:${c.port}/healthz`)).text(), "ok\n");
    mkdirSync(missing);
    await waitFor("the next tick to succeed", () => csvFiles(missing, "broken-agents-").length > 0);
    t.pass("retried and written once the directory exists");
  });

  await t.test("a stopped collector leaves no temp file behind", async (t) => {
    // Checked once the schedules have stopped: while one writes, its temp file
    // legitimately exists.
    t.equal(await stopGracefully(c.child), 0, "the collector stops on SIGTERM");
    t.same(
      readdirSync(out).filter((f) => f.endsWith(".tmp") || f.includes(".tmp")),
      [],
      "no temp file left behind",
    );
  });

  await t.test("a full disk: the run fails cleanly and nothing half-written is left", { skip: process.getuid?.() !== 0 && "needs root to mount a tiny tmpfs" }, async (t) => {
    const tiny = join(dir, "tiny");
    mkdirSync(tiny);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8k", "tmpfs", tiny]);
    t.teardown(() => {
      spawnSync("umount", [tiny]);
    });
    const res = spawnSync(process.execPath, [COLLECTOR_BIN, "export", "--what", "findings", "--out", tiny, "--db", db], { encoding: "utf8" });
    t.equal(res.status, 1);
    t.match(res.stderr, /ODW_ERR_EXPORT: the export failed: ENOSPC/);
    t.same(readdirSync(tiny), [], "no partial or temp file");
  });
});

t.test("export schedules are validated before the collector starts", async (t) => {
  const dir = t.testdir();
  const bad = (exports: unknown) => {
    writeFileSync(join(dir, "c.json"), JSON.stringify({ exports }));
    return spawnSync(process.execPath, [COLLECTOR_BIN, "serve", "--port", "0", "--db", join(dir, "x.db"), "--enroll-secret", SECRET, "--config", join(dir, "c.json")], {
      encoding: "utf8",
      timeout: 60000,
    });
  };
  let r = bad([{ name: "a", cron: "every minute", what: "findings", dir }]);
  t.equal(r.status, 1);
  t.match(r.stderr, /exports\[0\]\.cron must be a node-cron expression/);
  r = bad([{ name: "a", cron: "* * * * *", what: "everything", dir }]);
  t.match(r.stderr, /exports\[0\]\.what must be one of findings, inventory, agents/);
  r = bad([{ name: "a", cron: "* * * * *", what: "agents", dir, timezone: "Mars/Olympus" }]);
  t.match(r.stderr, /timezone "Mars\/Olympus" is not a time zone/);
  r = bad([{ name: "a", cron: "* * * * *", what: "agents", dir, kep: 3 }]);
  t.match(r.stderr, /unknown setting "kep"; did you mean "keep"\?/);
  r = bad([
    { name: "a", cron: "* * * * *", what: "agents", dir },
    { name: "a", cron: "* * * * *", what: "agents", dir },
  ]);
  t.match(r.stderr, /name "a" is used twice/);
});
