// Benchmark: collector ingest throughput end to end (replay → WebSocket →
// protobuf → SQLite commit → ack) with N concurrent simulated agents, against
// the same batches written by the store alone in-process (the baseline: what
// SQLite costs without the network, decoding and acks). Also the bytes an
// agent puts on the wire for a quiet snapshot.

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { knowledgeBase, portTable } from "@oddwire/shared";
import { oddwire } from "@oddwire/proto";
import { openStore } from "oddwire-collector/store/store.js";
import { parseLine } from "oddwire-agent/replay.js";
import { planBatch } from "oddwire-agent/delta/snapshot-delta.js";
import { takeSnapshot } from "oddwire-agent/snapshot.js";
import { writeFleet, type GenOptions } from "./fleet-gen.js";
import { fmt } from "./measure.js";

const AGENT = fileURLToPath(new URL("../../../agent/bin/oddwire-agent.js", import.meta.url));
const COLLECTOR = fileURLToPath(new URL("../../../collector/bin/oddwire-collector.js", import.meta.url));
const SECRET = "bench-enroll-secret";
const TARGET_PER_SECOND = 10_000 / 60;

export interface IngestBench {
  fleet: GenOptions;
  runs: Array<{
    concurrency: number;
    deltas: boolean;
    seconds: number;
    snapshotsPerSec: number;
    socketsPerSec: number;
    collectorPeakMb: number;
    collectorCpuMsPerSnapshot: number;
  }>;
  baselineSnapshotsPerSec: number;
  quiet: { fullBytes: number; identicalBytes: number; consecutiveBytes: number };
}

interface Stopped {
  peakMb: number;
  cpuSeconds: number;
}

/** user+system CPU seconds of a process so far (clock ticks are 1/100 s on Linux). */
/** User + system CPU seconds a process has used so far (Linux /proc). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) / 100;
}

function startCollector(db: string): Promise<{ port: number; cpuSeconds(): number; stop(): Promise<Stopped> }> {
  const child = spawn(
    process.execPath,
    [COLLECTOR, "serve", "--port", "0", "--db", db, "--enroll-secret", SECRET, "--log-level", "warn", "--connect-rate", "100000", "--connect-burst", "100000"],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let err = "";
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m) {
        resolve({
          port: Number(m[1]),
          cpuSeconds: () => cpuSecondsOf(child.pid!),
          // Peak RSS (VmHWM) read before the collector is stopped.
          stop: () =>
            new Promise((done) => {
              const peakMb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
              const cpuSeconds = cpuSecondsOf(child.pid!);
              child.once("exit", () => done({ peakMb, cpuSeconds }));
              child.kill("SIGTERM");
            }),
        });
      }
    });
    child.once("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
}

/** Replays a fleet file into the collector on `port`; the seconds it took. */
export function runReplay(file: string, port: number, concurrency: number, deltas: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(
      process.execPath,
      [AGENT, "replay", file, "--collector", `ws://127.0.0.1:${port}`, "--enroll-secret", SECRET, "--concurrency", String(concurrency), "--quiet", ...(deltas ? ["--deltas"] : [])],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let err = "";
    child.stderr!.on("data", (d) => (err += d));
    child.on("exit", (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`replay failed (${code}): ${err}`))));
  });
}

export async function benchIngest(opts: { fleet: GenOptions; runs: Array<{ concurrency: number; deltas: boolean }> }): Promise<IngestBench> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-ingest-bench-"));
  try {
    const file = join(dir, "fleet.ndjson");
    await writeFleet(file, opts.fleet);
    const total = opts.fleet.hosts * opts.fleet.snapshotsPerHost;
    const runs: IngestBench["runs"] = [];
    for (const { concurrency, deltas } of opts.runs) {
      const db = join(dir, `fleet-${concurrency}-${deltas}.db`);
      const c = await startCollector(db);
      const cpuAtStart = c.cpuSeconds();
      const seconds = await runReplay(file, c.port, concurrency, deltas);
      const { peakMb, cpuSeconds } = await c.stop();
      const collectorCpuMsPerSnapshot = ((cpuSeconds - cpuAtStart) * 1000) / total;
      runs.push({
        concurrency,
        deltas,
        seconds,
        snapshotsPerSec: total / seconds,
        socketsPerSec: (total * opts.fleet.sockets) / seconds,
        collectorPeakMb: peakMb,
        collectorCpuMsPerSnapshot,
      });
    }

    // Baseline: the same batches through the store alone, same transaction size, synchronous=FULL as served.
    const ports = portTable();
    const kb = knowledgeBase();
    const lines = readFileSync(file, "utf8").trim().split("\n");
    const seqs = new Map<string, number>();
    const items = lines.map((l) => {
      const snap = parseLine(l, ports, kb);
      const seq = (seqs.get(snap.hostId) ?? 0) + 1;
      seqs.set(snap.hostId, seq);
      const batch = oddwire.v1.Batch.decode(oddwire.v1.Batch.encode({ seq, full: true, snapshot: snap }).finish());
      return { hostId: snap.hostId, batch, bytes: 0 };
    });
    const store = await openStore(join(dir, "baseline.db"));
    for (const id of seqs.keys()) await store.hosts.enroll({ hostId: id, hostname: id, os: "linux", agentVersion: "0.1.0" }, Date.now());
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < items.length; i += 64) await store.ingest.apply(items.slice(i, i + 64), Date.now());
    const baselineSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    await store.close();

    // Quiet snapshot on the wire: delta of a snapshot against itself, and against the previous real one.
    const stateDir = join(dir, "agent");
    const a = (await takeSnapshot({ stateDir })).snapshot;
    const b = (await takeSnapshot({ stateDir })).snapshot;
    const size = (batch: oddwire.v1.IBatch) => oddwire.v1.AgentMessage.encode({ batch }).finish().length;
    const full = planBatch(a, 1, null, true);
    const identical = planBatch({ ...a, takenAtMs: a.takenAtMs + 60000 }, 2, full.base, false);
    const consecutive = planBatch(b, 2, full.base, false);
    return {
      fleet: opts.fleet,
      runs,
      baselineSnapshotsPerSec: total / baselineSeconds,
      quiet: { fullBytes: size(full.batch), identicalBytes: size(identical.batch), consecutiveBytes: size(consecutive.batch) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printIngestBench(r: IngestBench): void {
  const f = r.fleet;
  console.log(
    `\n## Collector ingest: ${f.hosts} hosts x ${f.snapshotsPerHost} snapshots (${f.processes} processes, ${f.sockets} sockets each), replay -> WebSocket -> SQLite (synchronous=FULL) -> ack\n`,
  );
  console.log(
    "| concurrent agents | batches | seconds | snapshots/s acked | sockets/s acked (in snapshots) | vs store alone (full) | 10k hosts @ 1/min needs 167/s: headroom | collector CPU ms/snapshot | 10k hosts: share of one core | collector peak MB |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const x of r.runs) {
    console.log(
      `| ${x.concurrency} | ${x.deltas ? "first full, then deltas" : "all full"} | ${fmt(x.seconds, 2)} | ${fmt(x.snapshotsPerSec)} | ${fmt(x.socketsPerSec, 0)} | ${fmt(x.snapshotsPerSec / r.baselineSnapshotsPerSec, 2)} | ${fmt(x.snapshotsPerSec / TARGET_PER_SECOND, 1)}x | ${fmt(x.collectorCpuMsPerSnapshot, 2)} | ${fmt((100 * x.collectorCpuMsPerSnapshot * TARGET_PER_SECOND) / 1000, 0)}% | ${fmt(x.collectorPeakMb)} |`,
    );
  }
  console.log("\n(the replay simulating the agents runs on the same 2 cores; the collector's own CPU per snapshot is the capacity figure)");
  console.log(`baseline (store alone, in-process, same batches, 64 per transaction): ${fmt(r.baselineSnapshotsPerSec)} snapshots/s`);
  console.log(
    `bytes on the wire per snapshot of this machine (AgentMessage, protobuf): full ${r.quiet.fullBytes}, quiet delta (nothing changed) ${r.quiet.identicalBytes} (${fmt((100 * r.quiet.identicalBytes) / r.quiet.fullBytes, 1)}% of full), real consecutive delta ${r.quiet.consecutiveBytes}`,
  );
}
