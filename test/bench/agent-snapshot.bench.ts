// Benchmark: one agent snapshot against `ss -tunap` plus
// `ps -eo pid,ppid,user,args` (the baseline: what the same facts cost with
// the standard tools), measured in the same run, on this machine as it is
// and again with thousands of extra processes and sockets. Also the agent's
// steady memory over back-to-back snapshots in one process.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SERVICE_NODE_FLAGS } from "oddwire-agent/service-node-flags.js";
import { startLoad } from "./load.js";
import { fmt, measure, median } from "./measure.js";

const AGENT = fileURLToPath(new URL("../../../agent/bin/oddwire-agent.js", import.meta.url));
const LOOP = fileURLToPath(new URL("./snapshot-loop.js", import.meta.url));

export interface SnapshotBenchResult {
  scenario: string;
  processes: number;
  sockets: number;
  baselineMs: number;
  baselinePeakKb: number;
  agentWallMs: number;
  agentInProcessMs: number;
  agentPeakKb: number;
  wallRatio: number;
  inProcessRatio: number;
  phases: Record<string, number>;
}

function runScenario(scenario: string, stateDir: string, rounds: number): SnapshotBenchResult {
  // Warm the hash cache once: steady state is what a scheduled agent pays.
  measure(process.execPath, [AGENT, "snapshot", "--json", "--state-dir", stateDir]);
  const base: number[] = [];
  const basePeak: number[] = [];
  const wall: number[] = [];
  const inProc: number[] = [];
  const peak: number[] = [];
  let phases: Record<string, number> = {};
  let processes = 0;
  let sockets = 0;
  for (let i = 0; i < rounds; i++) {
    const ss = measure("ss", ["-tunap"]);
    const ps = measure("ps", ["-eo", "pid,ppid,user,args"]);
    base.push(ss.wallMs + ps.wallMs);
    basePeak.push(Math.max(ss.peakRssKb, ps.peakRssKb));
    const a = measure(process.execPath, [AGENT, "snapshot", "--json", "--timing", "--state-dir", stateDir]);
    const timing = JSON.parse(a.stderr.trim().split("\n").pop()!) as { phases: Record<string, number>; totalMs: number };
    wall.push(a.wallMs);
    inProc.push(timing.totalMs);
    peak.push(a.peakRssKb);
    phases = timing.phases;
    const snap = JSON.parse(a.stdout) as { processes: unknown[]; sockets: unknown[] };
    processes = snap.processes.length;
    sockets = snap.sockets.length;
  }
  const baselineMs = median(base);
  return {
    scenario,
    processes,
    sockets,
    baselineMs,
    baselinePeakKb: median(basePeak),
    agentWallMs: median(wall),
    agentInProcessMs: median(inProc),
    agentPeakKb: median(peak),
    wallRatio: median(wall) / baselineMs,
    inProcessRatio: median(inProc) / baselineMs,
    phases,
  };
}

export async function benchSnapshot(opts: {
  rounds: number;
  extraProcesses: number;
  extraConnections: number;
}): Promise<{ scenarios: SnapshotBenchResult[]; steadyRssMb: number; serviceSteadyRssMb: number; wireBytes: number }> {
  const stateDir = mkdtempSync(join(tmpdir(), "oddwire-bench-state-"));
  try {
    const scenarios = [runScenario("this machine", stateDir, opts.rounds)];
    const load = await startLoad(opts.extraProcesses, opts.extraConnections);
    try {
      scenarios.push(runScenario(`+${load.processes} processes, +${load.sockets} sockets`, stateDir, opts.rounds));
    } finally {
      await load.stop();
    }
    const steady = (flags: readonly string[]) => {
      const loop = measure(process.execPath, [...flags, LOOP, stateDir, "15"]);
      return JSON.parse(loop.stdout) as { rssBytes: number[]; wireBytes: number };
    };
    const plain = steady([]);
    const service = steady(SERVICE_NODE_FLAGS);
    return {
      scenarios,
      steadyRssMb: median(plain.rssBytes.slice(-5)) / 1024 / 1024,
      serviceSteadyRssMb: median(service.rssBytes.slice(-5)) / 1024 / 1024,
      wireBytes: service.wireBytes,
    };
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
}

export function printSnapshotBench(r: Awaited<ReturnType<typeof benchSnapshot>>): void {
  console.log("\n## Agent snapshot vs `ss -tunap` + `ps -eo pid,ppid,user,args` (medians; target: ratio <= 2, steady RSS < 60 MB)\n");
  console.log("| scenario | processes | sockets | baseline ms | agent wall ms | agent in-process ms | wall ratio | in-process ratio | baseline peak MB | agent peak MB |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const s of r.scenarios) {
    console.log(
      `| ${s.scenario} | ${s.processes} | ${s.sockets} | ${fmt(s.baselineMs)} | ${fmt(s.agentWallMs)} | ${fmt(s.agentInProcessMs)} | ${fmt(s.wallRatio, 2)} | ${fmt(s.inProcessRatio, 2)} | ${fmt(s.baselinePeakKb / 1024)} | ${fmt(s.agentPeakKb / 1024)} |`,
    );
  }
  for (const s of r.scenarios) console.log(`\nphases (${s.scenario}): ${JSON.stringify(s.phases)}`);
  console.log(
    `\nsteady RSS (median of the last 5 of 15 back-to-back snapshots in one process, this machine): ${fmt(r.serviceSteadyRssMb)} MB with the service's node flags (${SERVICE_NODE_FLAGS.join(" ")}), ${fmt(r.steadyRssMb)} MB with node's defaults`,
  );
  console.log(`one full snapshot of this machine on the wire: ${r.wireBytes} bytes protobuf`);
}
