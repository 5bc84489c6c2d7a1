// Connection events on Windows, tested on Linux: a stand-in `wevtutil` on
// PATH answers the agent's queries from the recorded Sysmon fixtures
// (test/fixtures/sysmon), filtering by event ID and record ID as the real
// query does. This is the one stand-in the tests allow: this machine cannot
// run Windows. The agent reads events 1 and 3 incrementally, keeps its
// bookmark in the state directory, and sends the same Connection records as
// on Linux; without Sysmon it says why and stays on snapshots.

import t from "tap";
import { readFileSync, statSync, writeFileSync, chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createLogger, isOddwireError } from "@oddwire/shared";
import { startConnectionEvents } from "oddwire-agent/events/connection-events.js";
import { SYSMON_BOOKMARK_FILE } from "oddwire-agent/collect/windows/sysmon-reader.js";

const FIXTURE = readFileSync(new URL("../fixtures/sysmon/events.xml", import.meta.url), "utf8");

// Prints, from $ODW_SYSMON_LOG, what `wevtutil qe` would: the newest event for /rd:true /c:1,
// else events 1 and 3 with a record id above the query's, oldest first, at most /c:N.
const STAND_IN = `#!${process.execPath}
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.ODW_SYSMON_CALLS, JSON.stringify(args) + "\\n");
const log = process.env.ODW_SYSMON_LOG;
if (args[0] !== "qe" || args[1] !== "Microsoft-Windows-Sysmon/Operational" || !fs.existsSync(log)) {
  process.stderr.write("Failed to read events. The specified channel could not be found.\\n");
  process.exit(15007);
}
const events = fs.readFileSync(log, "utf8").match(/<Event[ >][\\s\\S]*?<\\/Event>/g) || [];
const id = (e) => Number(/<EventRecordID>(\\d+)</.exec(e)[1]);
const count = Number((args.find((a) => a.startsWith("/c:")) || "/c:1000000").slice(3));
if (args.includes("/rd:true")) { process.stdout.write(events.slice(-1).join("")); process.exit(0); }
const q = args.find((a) => a.startsWith("/q:"));
const after = Number(/EventRecordID>(\\d+)/.exec(q)[1]);
const picked = events.filter((e) => /<EventID>(1|3)<\\/EventID>/.test(e) && id(e) > after).slice(0, count);
process.stdout.write(picked.join(""));
`;

function setup(t: { teardown(fn: () => void): void }, dir: string) {
  const standIn = join(dir, "bin", "wevtutil");
  writeFileSync(standIn, STAND_IN);
  chmodSync(standIn, 0o755);
  chmodSync(join(dir, "state"), 0o700);
  const saved = { PATH: process.env["PATH"], calls: process.env["ODW_SYSMON_CALLS"], log: process.env["ODW_SYSMON_LOG"] };
  process.env["PATH"] = `${join(dir, "bin")}:${saved.PATH}`;
  process.env["ODW_SYSMON_CALLS"] = join(dir, "calls");
  process.env["ODW_SYSMON_LOG"] = join(dir, "sysmon.xml");
  t.teardown(() => {
    process.env["PATH"] = saved.PATH;
    for (const [k, v] of [
      ["ODW_SYSMON_CALLS", saved.calls],
      ["ODW_SYSMON_LOG", saved.log],
    ] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const lines: string[] = [];
  const log = createLogger({ name: "agent", level: "debug", write: (l) => lines.push(l) });
  const events = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const calls = () =>
    existsSync(join(dir, "calls"))
      ? readFileSync(join(dir, "calls"), "utf8")
          .trim()
          .split("\n")
          .map((l) => JSON.parse(l) as string[])
      : [];
  return { dir, state: join(dir, "state"), sysmonLog: join(dir, "sysmon.xml"), log, events, calls };
}

t.test("without Sysmon: snapshots only, with the reason; --events on refuses to start", async (t) => {
  const s = setup(t, t.testdir({ bin: {}, state: {} }));
  const ev = await startConnectionEvents({ mode: "auto", os: "windows", stateDir: s.state, log: s.log });
  t.teardown(() => ev.stop());
  t.equal(ev.mode, "snapshots");
  const { connections, visibility } = await ev.collect(Date.now());
  t.same(connections, []);
  t.match(visibility, { mode: "snapshots", reason: /Sysmon's log Microsoft-Windows-Sysmon\/Operational cannot be read \(Failed to read events.*install Sysmon/ });
  t.match(
    s.events().find((e) => e["event"] === "events.unavailable"),
    { level: "warn", reason: /install Sysmon/ },
  );

  const err = await startConnectionEvents({ mode: "on", os: "windows", stateDir: s.state, log: s.log }).then(
    () => null,
    (e: unknown) => e,
  );
  t.ok(isOddwireError(err, "ODW_ERR_EVENTS"), String(err));
  t.match((err as Error).message, /^--events on, but connection events cannot be recorded on this host: Sysmon's log .* cannot be read .*Fix that, or run with --events auto/);
});

t.test("with Sysmon: events 1 and 3 read incrementally into connection records, the bookmark kept", async (t) => {
  const s = setup(t, t.testdir({ bin: {}, state: {} }));
  writeFileSync(s.sysmonLog, ""); // Sysmon installed, nothing logged yet
  const ev = await startConnectionEvents({ mode: "on", os: "windows", stateDir: s.state, log: s.log });
  t.teardown(() => ev.stop());
  t.equal(ev.mode, "events+snapshots");
  t.match(
    s.events().find((e) => e["event"] === "events.started"),
    { source: "sysmon" },
  );

  writeFileSync(s.sysmonLog, FIXTURE);
  const { connections, visibility } = await ev.collect(Date.now());
  t.equal(connections.length, 2, "two well-formed network events; the malformed one is not a connection");
  const ps = connections.find((c) => c.transport === "tcp")!;
  t.match(ps, { direction: "outbound", family: 4, remoteAddress: "203.0.113.9", remotePort: 80, protocol: "http", count: 1 });
  t.match(ps.process, { pid: 6120, ppid: 5880, exe: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", user: "CORP\\alice", uid: -1 });
  t.match(ps.process.cmdline, /^powershell\.exe -NoP -W Hidden -c "IEX/, "the command line from event 1, entities decoded");
  t.ok(ps.tags.length > 0, `tagged: ${ps.tags.map((x) => x.code).join(", ")}`);
  const mdns = connections.find((c) => c.transport === "udp")!;
  t.match(mdns, { direction: "inbound", family: 6, localPort: 5353, remoteAddress: "ff02::fb", remotePort: 0, protocol: "mdns" });
  t.match(mdns.process, { pid: 2412, exe: "C:\\Windows\\System32\\svchost.exe", user: "NT AUTHORITY\\NETWORK SERVICE", cmdline: "" });
  t.match(visibility, { mode: "events+snapshots", reason: "", eventsAccepted: 2, droppedRate: 0 });

  const bookmark = join(s.state, SYSMON_BOOKMARK_FILE);
  t.equal(readFileSync(bookmark, "utf8"), "10238\n", "the last record read, malformed ones included: they are not read again");
  t.equal(statSync(bookmark).mode & 0o777, 0o600, "written owner-only, as the agent's other state files");

  const again = await ev.collect(Date.now());
  t.same(again.connections, [], "nothing new: nothing read twice");
  const last = s.calls().at(-1)!;
  t.match(last, ["qe", "Microsoft-Windows-Sysmon/Operational", `/q:*[System[(EventID=1 or EventID=3) and EventRecordID>${readFileSync(bookmark, "utf8").trim()}]]`, "/f:xml"]);
});

t.test("a restart continues after the bookmark; a cleared log starts over and says so", async (t) => {
  const s = setup(t, t.testdir({ bin: {}, state: {} }));
  writeFileSync(join(s.state, SYSMON_BOOKMARK_FILE), "10233\n", { mode: 0o600 });
  writeFileSync(s.sysmonLog, FIXTURE);
  const ev = await startConnectionEvents({ mode: "on", os: "windows", stateDir: s.state, log: s.log });
  t.teardown(() => ev.stop());
  const { connections } = await ev.collect(Date.now());
  t.same(connections, [], "events up to 10233 were sent before the restart; after it, no well-formed event 3");
  t.ok(
    s.calls().some((c) => c.some((a) => a.includes("EventRecordID>10233"))),
    "queried after the bookmark",
  );

  const cleared = setup(t, join(t.testdir({ a: { bin: {}, state: {} } }), "a"));
  writeFileSync(join(cleared.state, SYSMON_BOOKMARK_FILE), "99999\n", { mode: 0o600 });
  writeFileSync(cleared.sysmonLog, FIXTURE);
  const ev2 = await startConnectionEvents({ mode: "on", os: "windows", stateDir: cleared.state, log: cleared.log });
  t.teardown(() => ev2.stop());
  t.match(
    cleared.events().find((e) => e["event"] === "events.sysmon_notice"),
    { message: /below the bookmark 99999: the log was cleared/ },
  );
  t.equal((await ev2.collect(Date.now())).connections.length, 2, "read from the start of the new log");
});
