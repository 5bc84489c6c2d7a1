// `oddwire-agent replay` against a real collector: a lone surrogate in an
// otherwise valid line is replaced with U+FFFD and the line delivered; a line
// whose vocabulary (transport, direction, os) is not the collector's is
// skipped with a per-line error; every other line arrives. Plus the agent's
// wire bounds applied to a replayed line.

import t from "tap";
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { oddwire } from "@oddwire/proto";
import { knowledgeBase, portTable, STRING_LIMITS, COUNT_LIMITS } from "@oddwire/shared";
import { parseLine } from "oddwire-agent/replay.js";
import { AGENT_BIN, query, SECRET, startCollector } from "./lib/fleet.js";
import { kill } from "./lib/child-processes.js";

function line(hostId: string, cmdline: string, socket: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    hostId,
    hostname: hostId,
    os: "linux",
    takenAtMs: "1764300000000",
    processes: [{ pid: 10, ppid: 1, name: "cron", exe: "/usr/sbin/cron", cmdline }],
    sockets: [{ transport: "tcp", family: 4, localAddress: "10.0.0.1", localPort: 40000, remoteAddress: "10.9.9.9", remotePort: 443, state: "ESTABLISHED", pid: 10, ...socket }],
    ...extra,
  });
}

t.test("lone surrogates are replaced, bad vocabulary skipped, the rest delivered", async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const collector = await startCollector(t, db);
  // JSON.stringify keeps a lone surrogate as the escape \udc80.
  const lines = [
    line("ok-1", "cron -f"),
    line("surrogate", "x\udc80y"),
    line("sideways", "cron -f", { direction: "sideways" }),
    line("sctp", "cron -f", { transport: "sctp" }),
    line("plan9", "cron -f", {}, { os: "plan9" }),
    line("ok-2", "cron -f"),
  ];
  t.match(lines[1], /\\udc80/, "the file holds the escaped lone surrogate");
  const file = join(dir, "in.ndjson");
  writeFileSync(file, lines.join("\n") + "\n");
  const child = spawn(process.execPath, [AGENT_BIN, "replay", file, "--collector", collector.url, "--enroll-secret", SECRET, "--quiet", "--idle-timeout-seconds", "20"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.teardown(() => kill(child));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  t.equal(code, 1, "bad lines make the exit code 1");
  t.match(stderr, /3 snapshots from 3 hosts acknowledged, 3 bad lines/);
  t.match(stderr, /line 3: sockets\[0\]\.direction "sideways" must be listen, outbound or inbound/);
  t.match(stderr, /line 4: sockets\[0\]\.transport "sctp" must be tcp, udp, raw, icmp or packet/);
  t.match(stderr, /line 5: os "plan9" must be linux, windows or darwin/);
  const hosts = query<{ host_id: string }>(db, "SELECT host_id FROM hosts ORDER BY host_id").map((h) => h.host_id);
  t.same(hosts, ["ok-1", "ok-2", "surrogate"]);
  const [p] = query<{ cmdline: string }>(db, "SELECT cmdline FROM processes WHERE host_id = 'surrogate'");
  t.equal(p?.cmdline, "x\ufffdy", "the lone surrogate arrived as U+FFFD");
});

t.test("a replayed line is cut to the wire limits, with a warning", async (t) => {
  const tags = Array.from({ length: 100 }, (_, i) => ({ code: `tag-${i}`, reason: "r".repeat(2000) }));
  const big = JSON.parse(line("big", "a".repeat(100 * 1024), { tags })) as { processes: Array<Record<string, unknown>> };
  big.processes[0]!["tags"] = tags;
  const snap = parseLine(JSON.stringify(big), portTable(), knowledgeBase());
  const p = snap.processes[0]!;
  t.ok(Buffer.byteLength(p.cmdline) <= STRING_LIMITS.cmdline, "cmdline within its bound");
  t.match(p.cmdline, /…\[truncated\]$/);
  t.equal(p.tags.length, COUNT_LIMITS.process_tags);
  t.ok(p.tags.every((tag) => Buffer.byteLength(tag.reason) <= STRING_LIMITS.reason));
  t.equal(snap.sockets[0]!.tags.length, COUNT_LIMITS.socket_tags);
  t.ok(snap.partial);
  t.match(snap.warnings.join("\n"), /cmdline of 1 process cut to 32768 bytes/);
  t.match(snap.warnings.join("\n"), /tags: 68 left out of 1 process/);
  // It encodes into a frame well under a collector's default limit.
  const bytes = oddwire.v1.Batch.encode({ seq: 1, full: true, snapshot: snap }).finish();
  t.ok(bytes.length < 1024 * 1024, `batch of ${bytes.length} bytes`);
});
