// Connection events end to end on this machine: a real agent with --events on
// (the compiled sensor, or bpftrace), a real collector, and a bash that opens
// a TCP connection to a loopback listener through /dev/tcp, holds it for
// 50 ms and exits long before any snapshot. The report must name that very
// process: its command line, executable and parent chain. Loopback only.

import t from "tap";
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { loopbackServer } from "./lib/child-processes.js";
import { COLLECTOR_BIN, startAgent, startCollector, waitFor } from "./lib/fleet.js";
import { findSensor } from "oddwire-agent/collect/linux/events/sensor-source.js";
import { skipWithoutTools } from "./lib/system-tools.js";

// An event source: the sensor built by `npm run build` (clang, bpftool, libbpf-dev), or bpftrace.
const skip =
  process.platform !== "linux"
    ? "Linux only"
    : process.getuid?.() !== 0
      ? "needs root to load tracing programs"
      : findSensor() === null
        ? skipWithoutTools(["bpftrace"], "bpftrace, or clang llvm libbpf-dev bpftool to build the sensor")
        : false;

t.test("a 50 ms connection by a process that exits at once is in the report with its command line and parents", { skip }, async (t) => {
  const dir = t.testdir();
  const db = join(dir, "fleet.db");
  const c = await startCollector(t, db);
  const agent = startAgent(t, dir, "live-events", c.url, ["--events", "on", "--schedule", "*/5 * * * * *"]);
  await waitFor(
    "the agent to record events",
    () => {
      if (agent.child.exitCode !== null) throw new Error(`the agent exited: ${agent.log.join("\n")}`);
      return agent.log.some((l) => l.includes('"event":"events.started"'));
    },
    120_000,
  );
  const listener = await loopbackServer(t);
  const marker = `oddwire-e2e-${process.pid}`;
  // A copy of bash in this test's own directory: its finding (binary, protocol,
  // direction, port class) is this test's alone, whatever other bash
  // processes on the machine connect to meanwhile.
  const bash = join(dir, "bin", "bash");
  mkdirSync(join(dir, "bin"));
  copyFileSync(realpathSync("/bin/bash"), bash);
  chmodSync(bash, 0o755);
  // The marker rides in $0 so that it is in the command line.
  const r = spawnSync(bash, ["-c", `exec 3<>/dev/tcp/127.0.0.1/${listener.port}; sleep 0.05; exec 3>&-`, marker], { encoding: "utf8", timeout: 30_000 });
  t.equal(r.status, 0, `bash connected and exited: ${r.stderr}`);
  let last = "";
  const host = await waitFor(
    "the finding with the short-lived bash",
    () => {
      const out = spawnSync(process.execPath, [COLLECTOR_BIN, "report", "--db", db, "--format", "json", "--top", "1000"], { encoding: "utf8", maxBuffer: 64 << 20 });
      last = out.stdout + out.stderr;
      const report = JSON.parse(out.stdout);
      for (const f of report.findings) for (const h of f.hosts) if (h.cmdline.includes(marker)) return { finding: f, host: h };
      return null;
    },
    120_000,
  ).catch((err: Error) => {
    const findings = (() => {
      try {
        return JSON.parse(last).findings.map((f: any) => `${f.binary.path} ${f.direction} ${f.port}: ${f.hosts.map((h: any) => h.cmdline.slice(0, 200)).join(" | ")}`);
      } catch {
        return [last.slice(0, 2000)];
      }
    })();
    throw new Error(`${err.message}\nfindings:\n${findings.join("\n")}\nagent log:\n${agent.log.slice(-20).join("\n")}`);
  });
  t.equal(host.finding.binary.path, bash, "the binary is the short-lived process's executable");
  t.equal(host.finding.direction, "outbound");
  t.match(host.host.cmdline, `${marker}`, "its command line");
  t.match(host.host.ancestry, /node/, `its parent chain reaches this test's node: ${host.host.ancestry}`);
  const tags = (host.finding.tags ?? []).map((x: { code?: string } | string) => (typeof x === "string" ? x : x.code));
  t.ok(tags.includes("shell-outbound"), `tagged as a shell with an outbound connection: ${tags.join(", ")}`);
});
