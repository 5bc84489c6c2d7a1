// The soak: many simulated agents (the agent's real Spool and StreamClient,
// in this one process, each with its own spool directory and host id)
// stream small full batches to a real collector process for as long as
// asked, while the collector is SIGKILLed and restarted now and then. At the
// end every batch each agent made must be in the collector's database
// exactly once, and the memory and descriptors of both sides must be flat.
// `npm run soak` runs the long mode; test/soak-short.test.ts a short one.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { oddwire } from "@oddwire/proto";
import { createLogger } from "@oddwire/shared";
import { Spool } from "oddwire-agent/spool/spool.js";
import { enroll } from "oddwire-agent/transport/enroll.js";
import { StreamClient } from "oddwire-agent/transport/stream-client.js";
import { COLLECTOR_BIN, SECRET, freePort } from "../lib/fleet.js";
import { track } from "../lib/child-processes.js";

export interface SoakOptions {
  dir: string;
  agents: number;
  seconds: number;
  /** Each agent makes a batch this often. */
  batchEverySeconds: number;
  /** The collector is SIGKILLed this often (0: never). */
  killEverySeconds: number;
  progress?: (line: string) => void;
}

export interface Sample {
  atS: number;
  collectorRssMb: number;
  collectorFds: number;
  driverRssMb: number;
  driverFds: number;
}

export interface SoakResult {
  made: number;
  stored: number;
  missing: number;
  duplicates: number;
  kills: number;
  samples: Sample[];
  /** Growth of the last third of the samples over the first third (after warm-up), as a ratio. */
  collectorRssGrowth: number;
  driverRssGrowth: number;
  collectorFdGrowth: number;
  driverFdGrowth: number;
}

interface SimAgent {
  hostId: string;
  spool: Spool;
  client: StreamClient;
}

/** Each batch's takenAtMs is unique (BASE + n), so a batch resent under another seq shows as a duplicate. */
const BASE_MS = 1_800_000_000_000;

function batchBytes(hostId: string, n: number): Uint8Array {
  const now = BASE_MS + n;
  const processes = Array.from({ length: 8 }, (_, i) => ({
    pid: 100 + i,
    ppid: 1,
    name: `proc${i}`,
    exe: `/usr/bin/proc${i}`,
    cmdline: `/usr/bin/proc${i} --n ${n % 3}`,
    user: "root",
    uid: 0,
    startedAtMs: 1_700_000_000_000 + i,
  }));
  const sockets = Array.from({ length: 6 }, (_, i) => ({
    transport: "tcp",
    family: 4,
    localAddress: "10.1.0.2",
    localPort: 40000 + ((n + i) % 50),
    remoteAddress: "10.2.0.9",
    remotePort: 443,
    state: "ESTABLISHED",
    pid: 100 + i,
    protocol: "https",
    direction: "outbound",
    inode: 5000 + ((n + i) % 50),
  }));
  return oddwire.v1.Batch.encode({
    full: true,
    snapshot: { hostId, hostname: hostId, os: "linux", osVersion: "soak", agentVersion: "soak", takenAtMs: now, processes, sockets },
  }).finish();
}

function procStats(pid: number): { rssMb: number; fds: number } {
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  return { rssMb: Math.round(rss * 10) / 10, fds: readdirSync(`/proc/${pid}/fd`).length };
}

function startCollectorAt(dir: string, port: number): Promise<ChildProcess> {
  const child = track(
    spawn(process.execPath, [COLLECTOR_BIN, "serve", "--port", String(port), "--db", join(dir, "soak.db"), "--enroll-secret", SECRET, "--sync", "normal", "--log-level", "warn"], {
      stdio: ["ignore", "ignore", "pipe"],
    }),
  );
  return new Promise((resolve, reject) => {
    let err = "";
    const timer = setTimeout(() => reject(new Error(`the collector did not listen within 60 s: ${err.slice(-2000)}`)), 60_000);
    const onData = (d: Buffer) => {
      // Keep only the start of its log: the soak reads it for "listening on" and on failure.
      if (err.length < 64 * 1024) err += d;
      if (/listening on/.test(err)) {
        clearTimeout(timer);
        child.stderr!.off("data", onData);
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stderr!.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the collector exited with ${code} before it listened: ${err.slice(-2000)}`));
    });
  });
}

/** Growth of the mean of the last third over the mean of the first third, after dropping the first sixth (warm-up). */
function growth(values: number[]): number {
  const v = values.slice(Math.floor(values.length / 6));
  const third = Math.max(1, Math.floor(v.length / 3));
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
  const first = mean(v.slice(0, third));
  return first > 0 ? mean(v.slice(-third)) / first : 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runSoak(o: SoakOptions): Promise<SoakResult> {
  const say = o.progress ?? (() => {});
  const port = await freePort();
  let collector = await startCollectorAt(o.dir, port);
  const url = `ws://127.0.0.1:${port}`;
  const log = createLogger({ name: "soak-agent", level: "error" });
  const agents: SimAgent[] = [];
  for (let i = 0; i < o.agents; i++) {
    const hostId = `soak-${String(i).padStart(4, "0")}`;
    const spoolDir = join(o.dir, "agents", hostId);
    mkdirSync(spoolDir, { recursive: true });
    const spool = Spool.open({ dir: spoolDir, fsync: false });
    let key = "";
    const client = new StreamClient({
      collector: url,
      hostId,
      queue: spool,
      log,
      heartbeatMs: 10_000,
      getKey: async (refresh) => {
        if (!key || refresh) key = await enroll({ collector: url, secret: SECRET, hostId, hostname: hostId, os: "linux", agentVersion: "soak", ...(key && { currentKey: key }) });
        return key;
      },
    });
    agents.push({ hostId, spool, client });
  }
  for (const a of agents) a.client.start();

  const samples: Sample[] = [];
  const started = Date.now();
  let kills = 0;
  let n = 0;
  let nextKill = o.killEverySeconds > 0 ? started + o.killEverySeconds * 1000 : Infinity;
  // Batches are made in a round-robin so that the load is even over time.
  const perTickMs = 250;
  const batchesPerTick = Math.max(1, Math.round((o.agents * perTickMs) / (o.batchEverySeconds * 1000)));
  let cursor = 0;
  while (Date.now() - started < o.seconds * 1000) {
    for (let k = 0; k < batchesPerTick; k++) {
      const a = agents[cursor++ % agents.length]!;
      a.spool.enqueue(batchBytes(a.hostId, n++));
      a.client.notify();
    }
    await sleep(perTickMs);
    const atS = Math.round((Date.now() - started) / 1000);
    if (samples.length === 0 || atS - samples[samples.length - 1]!.atS >= 2) {
      try {
        const c = procStats(collector.pid!);
        const d = procStats(process.pid);
        samples.push({ atS, collectorRssMb: c.rssMb, collectorFds: c.fds, driverRssMb: d.rssMb, driverFds: d.fds });
        if (samples.length % 5 === 0) say(`soak: ${atS}s, ${n} batches made, collector ${c.rssMb} MB / ${c.fds} fds, agents ${d.rssMb} MB / ${d.fds} fds, ${kills} kills`);
      } catch {
        // the collector is restarting
      }
    }
    if (Date.now() >= nextKill) {
      collector.kill("SIGKILL");
      await new Promise((r) => collector.once("exit", r));
      kills++;
      collector = await startCollectorAt(o.dir, port);
      nextKill = Date.now() + o.killEverySeconds * 1000;
    }
  }
  say(`soak: made ${n} batches; waiting for the spools to drain`);
  const drainEnd = Date.now() + 180_000;
  while (agents.some((a) => a.spool.pending > 0) && Date.now() < drainEnd) await sleep(250);
  for (const a of agents) await a.client.stop();
  collector.kill("SIGTERM");
  await new Promise((r) => collector.once("exit", r));

  const db = new Database(join(o.dir, "soak.db"), { readonly: true, fileMustExist: true });
  let stored = 0;
  let missing = 0;
  let duplicates = 0;
  let made = 0;
  try {
    const seqs = db.prepare<[string], { seq: number }>("SELECT seq FROM batches WHERE host_id = ? ORDER BY seq");
    const twice = db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM (SELECT taken_at FROM batches WHERE host_id = ? GROUP BY taken_at HAVING COUNT(*) > 1)");
    for (const a of agents) {
      const madeHere = a.spool.nextSeq - 1;
      made += madeHere;
      const rows = seqs.all(a.hostId);
      const have = new Set(rows.map((r) => r.seq));
      stored += rows.length;
      duplicates += twice.get(a.hostId)!.n;
      for (let s = 1; s <= madeHere; s++) if (!have.has(s)) missing++;
    }
  } finally {
    db.close();
  }
  return {
    made,
    stored,
    missing,
    duplicates,
    kills,
    samples,
    collectorRssGrowth: growth(samples.map((s) => s.collectorRssMb)),
    driverRssGrowth: growth(samples.map((s) => s.driverRssMb)),
    collectorFdGrowth: growth(samples.map((s) => s.collectorFds)),
    driverFdGrowth: growth(samples.map((s) => s.driverFds)),
  };
}
