// Benchmark: how many hosts one collector carries, on each store, and two
// collectors on one PostgreSQL. For each store, in one run on this machine:
// collector CPU per full batch and per delta batch (replay → WebSocket →
// store → ack, the collector's own CPU from /proc), acks per second
// sustained, the ack gap a probe agent sees while the served report and a
// scheduled inventory export run (against the same probe without them: the
// baseline), report latency and the WAL's size. From those: the hosts at one
// batch a minute (one full per 60) one collector's ingest thread carries.

import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { enrollRaw, openRawStream } from "../lib/raw-stream.js";
import { skipWithoutPostgres, startPostgres } from "../lib/postgres.js";
import { writeFleet, type GenOptions } from "./fleet-gen.js";
import { cpuSecondsOf, runReplay } from "./ingest.bench.js";
import { fmt, median } from "./measure.js";

const COLLECTOR = fileURLToPath(new URL("../../../collector/bin/oddwire-collector.js", import.meta.url));
const SECRET = "bench-enroll-secret";
const TOKEN = "bench-reader-token-0123456789";

export interface ScaleRow {
  store: string;
  collectors: number;
  hosts: number;
  fullCpuMs: number;
  deltaCpuMs: number;
  fullAcksPerSec: number;
  deltaAcksPerSec: number;
  /** Probe ack round trip, ms: [median, max] without, then with report + export running. */
  probeIdle: [number, number];
  probeBusy: [number, number];
  reportMs: number;
  exportRows: number;
  walMb: number | null;
  collectorPeakMb: number;
}

interface Collector {
  child: ChildProcess;
  port: number;
  cpu(): number;
  peakMb(): number;
  stop(): Promise<void>;
}

function startCollector(db: string, config: string): Promise<Collector> {
  const child = spawn(
    process.execPath,
    [COLLECTOR, "serve", "--port", "0", "--db", db, "--config", config, "--enroll-secret", SECRET, "--log-level", "warn", "--connect-rate", "100000", "--connect-burst", "100000"],
    { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ODDWIRE_READER_TOKEN: TOKEN } },
  );
  let err = "";
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      err += d;
      const m = /listening on ws:\/\/127\.0\.0\.1:(\d+)/.exec(err);
      if (m)
        resolve({
          child,
          port: Number(m[1]),
          cpu: () => cpuSecondsOf(child.pid!),
          peakMb: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))?.[1] ?? 0) / 1024,
          stop: () =>
            new Promise<void>((done) => {
              child.once("exit", () => done());
              child.kill("SIGTERM");
            }),
        });
    });
    child.once("exit", (code) => reject(new Error(`collector exited ${code}: ${err}`)));
  });
}

/** A probe agent: small deltas one after another for `ms`, each waiting for its ack; the round trips. */
async function probe(port: number, hostId: string, key: string, ms: number, firstSeq: number): Promise<{ rtts: number[]; nextSeq: number }> {
  const s = await openRawStream(port, hostId, key);
  const rtts: number[] = [];
  let seq = Math.max(firstSeq, s.lastSeq + 1);
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t0 = performance.now();
    s.sendBatch({ seq, full: seq === 1, baseSeq: seq - 1, snapshot: { hostId, os: "linux", takenAtMs: Date.now() } });
    await s.acked(seq);
    rtts.push(performance.now() - t0);
    seq++;
    await new Promise((r) => setTimeout(r, 10));
  }
  s.ws.close();
  return { rtts, nextSeq: seq };
}

const stat = (xs: number[]): [number, number] => [median(xs), Math.max(...xs)];

interface Teardowns {
  teardown(fn: () => void | Promise<void>): void;
  run(): Promise<void>;
}

function teardowns(): Teardowns {
  const fns: Array<() => void | Promise<void>> = [];
  return {
    teardown: (fn) => void fns.push(fn),
    run: async () => {
      for (const fn of fns.reverse()) await fn();
    },
  };
}

async function oneStore(
  dir: string,
  store: "sqlite" | "postgres",
  fleet: GenOptions,
  newDb: (name: string) => Promise<string>,
  files: { full: string; deltas: string },
): Promise<ScaleRow> {
  const exportsDir = join(dir, `exports-${store}`);
  mkdirSync(exportsDir, { recursive: true });
  const config = join(dir, `serve-${store}.json`);
  writeFileSync(config, JSON.stringify({ exports: [{ name: "inventory", cron: "*/5 * * * * *", what: "inventory", dir: exportsDir, keep: 2 }] }));
  const noExports = join(dir, "serve-plain.json");
  writeFileSync(noExports, "{}");

  // Full batches only: CPU per full batch.
  const dbFull = await newDb(`${store}_full`);
  let c = await startCollector(dbFull, noExports);
  let cpu0 = c.cpu();
  const fullSeconds = await runReplay(files.full, c.port, 100, false);
  const fullCpuMs = ((c.cpu() - cpu0) * 1000) / fleet.hosts;
  await c.stop();

  // First full, then deltas: CPU per delta batch once the full batches' share is taken out.
  const db = await newDb(`${store}_deltas`);
  c = await startCollector(db, noExports);
  cpu0 = c.cpu();
  const deltaSeconds = await runReplay(files.deltas, c.port, 100, true);
  const cpu = (c.cpu() - cpu0) * 1000;
  const deltas = fleet.hosts * (fleet.snapshotsPerHost - 1);
  const deltaCpuMs = Math.max(0, (cpu - fullCpuMs * fleet.hosts) / deltas);
  const deltaAcksPerSec = deltas / Math.max(0.001, deltaSeconds - (fullCpuMs * fleet.hosts) / 1000);
  await c.stop();

  // The ack gap: a probe alone, then with the served report and the scheduled inventory export (every 5 s) running.
  c = await startCollector(db, noExports);
  const key = (await enrollRaw(c.port, { hostId: "probe-host", enrollSecret: SECRET })).key;
  const idle = await probe(c.port, "probe-host", key, 8000, 1);
  await c.stop();
  c = await startCollector(db, config);
  const reportTimes: number[] = [];
  let stopReports = false;
  const reporter = (async () => {
    while (!stopReports) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${c.port}/report.json?top=50`, { headers: { authorization: `Bearer ${TOKEN}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`report.json: HTTP ${res.status}`);
      reportTimes.push(performance.now() - t0);
    }
  })();
  const busy = await probe(c.port, "probe-host", key, 12000, idle.nextSeq);
  stopReports = true;
  await reporter;
  const peakMb = c.peakMb();
  await c.stop();
  const newest = readdirSync(exportsDir).sort().pop();
  const exported = newest ? readFileSync(join(exportsDir, newest), "utf8").split("\n").length - 2 : 0;
  const wal = store === "sqlite" && existsSync(`${db}-wal`) ? statSync(`${db}-wal`).size / 1e6 : null;
  return {
    store,
    collectors: 1,
    hosts: fleet.hosts,
    fullCpuMs,
    deltaCpuMs,
    fullAcksPerSec: fleet.hosts / fullSeconds,
    deltaAcksPerSec,
    probeIdle: stat(idle.rtts),
    probeBusy: stat(busy.rtts),
    reportMs: median(reportTimes),
    exportRows: exported,
    walMb: wal,
    collectorPeakMb: peakMb,
  };
}

/** Two collectors on one PostgreSQL, each fed half the fleet at once: their CPU per batch and the acks per second together. */
async function twoOnPostgres(dir: string, fleet: GenOptions, url: string): Promise<{ fullCpuMs: number; deltaCpuMs: number; acksPerSec: number }> {
  const halves = [0, 1].map((i) => join(dir, `half-${i}.ndjson`));
  const lines = readFileSync(join(dir, "deltas.ndjson"), "utf8").trim().split("\n");
  halves.forEach((f, i) => writeFileSync(f, `${lines.filter((l) => Number(/bench-host-(\d+)/.exec(l)![1]) % 2 === i).join("\n")}\n`));
  const plain = join(dir, "serve-plain.json");
  const cs = await Promise.all([startCollector(url, plain), startCollector(url, plain)]);
  const cpu0 = cs.map((c) => c.cpu());
  const t0 = process.hrtime.bigint();
  await Promise.all(cs.map((c, i) => runReplay(halves[i]!, c.port, 50, true)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpuMs = cs.reduce((s, c, i) => s + (c.cpu() - cpu0[i]!) * 1000, 0);
  for (const c of cs) await c.stop();
  const batches = fleet.hosts * fleet.snapshotsPerHost;
  return { fullCpuMs: NaN, deltaCpuMs: cpuMs / batches, acksPerSec: batches / seconds };
}

export async function benchScale(opts: {
  hosts: number;
}): Promise<{ rows: ScaleRow[]; two: Awaited<ReturnType<typeof twoOnPostgres>> | null; fleet: GenOptions; pgSkipped: string | false }> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-scale-bench-"));
  const td = teardowns();
  try {
    const fleet: GenOptions = { hosts: opts.hosts, snapshotsPerHost: 3, processes: 150, sockets: 60 };
    const files = { full: join(dir, "full.ndjson"), deltas: join(dir, "deltas.ndjson") };
    await writeFleet(files.full, { ...fleet, snapshotsPerHost: 1 });
    await writeFleet(files.deltas, fleet);
    const rows: ScaleRow[] = [];
    rows.push(await oneStore(dir, "sqlite", fleet, async (name) => join(dir, `${name}.db`), files));
    let pgSkipped: string | false;
    try {
      pgSkipped = skipWithoutPostgres();
    } catch (err) {
      pgSkipped = (err as Error).message;
    }
    let two = null;
    if (!pgSkipped) {
      // Durable commits, as SQLite's synchronous=FULL: fsync on.
      const pg = await startPostgres(td, { fsync: true });
      rows.push(await oneStore(dir, "postgres", fleet, (name) => pg.database(name), files));
      two = await twoOnPostgres(dir, fleet, await pg.database("two_collectors"));
    }
    return { rows, two, fleet, pgSkipped };
  } finally {
    await td.run();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Hosts at one batch a minute, one full in 60, that one collector thread carries: a minute of its CPU over a host's average batch. */
export function hostsPerCollector(fullCpuMs: number, deltaCpuMs: number): number {
  return 60_000 / ((fullCpuMs + 59 * deltaCpuMs) / 60);
}

export function printScaleBench(r: Awaited<ReturnType<typeof benchScale>>): void {
  const f = r.fleet;
  console.log(`\n## Scale: ${f.hosts} hosts x ${f.snapshotsPerHost} snapshots (${f.processes} processes, ${f.sockets} sockets each) per store\n`);
  console.log(
    "| store | collector CPU ms per full batch | per delta batch | full acks/s | delta acks/s | probe ack ms idle (median / max) | with report + export running (median / max) | report.json top 50 ms | inventory rows exported | WAL MB after | collector peak MB | hosts at 1 batch/min (1 full in 60) per collector thread | vs target 250,000 |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const x of r.rows) {
    const hosts = hostsPerCollector(x.fullCpuMs, x.deltaCpuMs);
    console.log(
      `| ${x.store} | ${fmt(x.fullCpuMs, 2)} | ${fmt(x.deltaCpuMs, 2)} | ${fmt(x.fullAcksPerSec)} | ${fmt(x.deltaAcksPerSec)} | ${fmt(x.probeIdle[0], 1)} / ${fmt(x.probeIdle[1], 1)} | ${fmt(x.probeBusy[0], 1)} / ${fmt(x.probeBusy[1], 1)} | ${fmt(x.reportMs, 0)} | ${x.exportRows} | ${x.walMb === null ? "-" : fmt(x.walMb, 1)} | ${fmt(x.collectorPeakMb, 0)} | ${fmt(hosts, 0)} | ${fmt(hosts / 250_000, 2)}x |`,
    );
  }
  if (r.two) {
    const pgRow = r.rows.find((x) => x.store === "postgres");
    console.log(
      `\ntwo collectors on one PostgreSQL, half the fleet each (first full, then deltas): ${fmt(r.two.acksPerSec)} acks/s together, ${fmt(r.two.deltaCpuMs, 2)} collector CPU ms per batch (both collectors, all batches)${pgRow ? `; at one batch a minute: about ${fmt(2 * hostsPerCollector(pgRow.fullCpuMs, pgRow.deltaCpuMs), 0)} hosts on two collector threads, PostgreSQL on the same 2 cores` : ""}`,
    );
  } else console.log(`\n(PostgreSQL rows skipped: ${r.pgSkipped})`);
  console.log("(the replay simulating the agents and, for PostgreSQL, the server itself run on the same 2 cores: the collector's own CPU per batch is the capacity figure)");
}
