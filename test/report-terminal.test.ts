// Host-supplied strings in what an operator reads on a terminal: the report
// table and every CSV the collector writes (report --format csv, exports of
// findings, inventory and agents), from a real database that a hostile host
// filled over a real stream. None may carry a raw control character or bidi
// control; each is shown as a visible escape. The CSV keeps its guard against
// spreadsheet formulas.

import t from "tap";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { COLLECTOR_BIN, startCollector } from "./lib/fleet.js";
import { HOSTILE_TEXT as H, plantHost } from "./lib/hostile-host.js";

// Written out here rather than imported, so the test does not trust the code it tests.
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;
const ALL = Object.values(H).join("");

function collector(args: string[]) {
  return spawnSync(process.execPath, [COLLECTOR_BIN, ...args], { encoding: "utf8", maxBuffer: 64 << 20 });
}

function firstRaw(text: string): string {
  const m = RAW_CONTROL.exec(text);
  return m ? `U+${m[0].codePointAt(0)!.toString(16).padStart(4, "0")} at ${m.index}: ${JSON.stringify(text.slice(Math.max(0, m.index - 40), m.index + 10))}` : "none";
}

/** A CSV's text once its CRLF record ends are taken out: nothing raw may remain. */
function csvFields(csv: string): string {
  return csv.split("\r\n").join("");
}

t.test("no raw control or bidi character reaches the table or a CSV", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  // Every hostile sequence in every field the report or an export shows.
  await plantHost(c.url, {
    hostId: "evil-1",
    hostname: `=cmd|' /C calc'!A0${H.title}`,
    os: `linux${H.clear}${H.rlo}`,
    processes: [
      { pid: 1, ppid: 0, name: "init", exe: "/sbin/init", cmdline: "/sbin/init", user: "root" },
      { pid: 40, ppid: 1, name: `sh${H.clear}`, exe: `/tmp/${H.rlo}${H.nul}`, cmdline: `sh -c ${ALL}`, user: `root${H.csi8bit}` },
    ],
    sockets: [
      {
        transport: `tcp${H.clear.slice(0, 4)}`,
        family: 4,
        localAddress: `10.0.0.1${H.marks}`,
        localPort: 40000,
        remoteAddress: "192.0.2.9",
        remotePort: 6667,
        state: `ESTAB${H.cr}`,
        pid: 40,
        protocol: `irc${H.title}${H.isolates}`,
        direction: `out\u202e\x07`,
        tags: [{ code: `t${H.csi8bit}`, reason: `why ${ALL}` }],
      },
    ],
  });
  await plantHost(c.url, {
    hostId: "plain-1",
    hostname: "plain",
    os: "linux",
    processes: [{ pid: 9, ppid: 1, name: "curl", exe: "/usr/bin/curl", cmdline: "curl https://example.org", user: "u" }],
    sockets: [
      {
        transport: "tcp",
        family: 4,
        localAddress: "10.0.0.2",
        localPort: 40001,
        remoteAddress: "192.0.2.10",
        remotePort: 443,
        state: "ESTABLISHED",
        pid: 9,
        protocol: "https",
        direction: "outbound",
      },
    ],
  });

  await t.test("report table", async (t) => {
    const r = collector(["report", "--db", db]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /PROTOCOL/);
    t.match(r.stdout, /\\x1b\[2J/, "the ESC is shown as \\x1b");
    t.match(r.stdout, /\\u202e/, "the override is shown as \\u202e");
    t.equal(firstRaw(r.stdout.split("\n").join("")), "none", "no raw control in the table");
  });

  await t.test("agents table", async (t) => {
    const r = collector(["agents", "--db", db]);
    t.equal(r.status, 0, r.stderr);
    t.equal(firstRaw(r.stdout.split("\n").join("")), "none");
  });

  await t.test("report --format csv", async (t) => {
    const r = collector(["report", "--db", db, "--format", "csv"]);
    t.equal(r.status, 0, r.stderr);
    t.ok(r.stdout.split("\r\n").length >= 3, "a header and rows");
    t.equal(firstRaw(csvFields(r.stdout)), "none", "no raw control in a field");
    t.match(r.stdout, /\\x1b\]0;pwned\\x07/, "the title sequence is visible, escaped");
    t.match(r.stdout, /,'=cmd\|' \/C calc'!A0/, "the formula guard still applies");
  });

  for (const what of ["findings", "inventory", "agents"]) {
    await t.test(`export --what ${what}`, async (t) => {
      const out = join(dir, `out-${what}`);
      mkdirSync(out);
      const r = collector(["export", "--db", db, "--what", what, "--out", out]);
      t.equal(r.status, 0, r.stderr);
      const csv = readFileSync(r.stdout.trim(), "utf8");
      t.ok(csv.split("\r\n").length >= 3, "a header and rows");
      t.equal(firstRaw(csvFields(csv)), "none", "no raw control in a field");
      t.match(csv, /\\u202e/, "the override is visible, escaped");
    });
  }
});
