// Cost of connection events: the agent with --events on against the agent
// with --events off, both running at once under the same load, at 0, 100,
// 1,000 and 5,000 new loopback connections per second. CPU is user+system
// time of the agent and every process below it (bpftrace included), from
// /proc; RSS is the sum over the same tree at the end of each step.
// Needs root and bpftrace. Loopback only.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { oddwire } from "@oddwire/proto";
import { keepBatches, startStubCollector } from "../lib/stub-collector.js";
import { fmt } from "./measure.js";

const AGENT_BIN = fileURLToPath(new URL("../../../agent/bin/oddwire-agent.js", import.meta.url));
const TICKS_PER_SECOND = 100; // USER_HZ

/**
 * An agent for a benchmark: its own state dir under `dir` (host id `name`),
 * streaming every 5 s to a stub collector that keeps its batches, unhashed,
 * with `args` (which choose its events and protocol-identification modes).
 */
export async function startBenchAgent(
  dir: string,
  name: string,
  args: readonly string[],
  teardowns: Array<() => void | Promise<void>>,
  children: ChildProcess[],
): Promise<{ child: ChildProcess; batches: oddwire.v1.Batch[]; log: string[] }> {
  const batches: oddwire.v1.Batch[] = [];
  const server = await startStubCollector({ teardown: (fn) => void teardowns.push(fn) }, { stream: keepBatches(batches) });
  const state = join(dir, name);
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { mode: 0o700 });
  writeFileSync(join(state, "host-id"), `${name}\n`);
  const log: string[] = [];
  const common = ["run", "--collector", server.url, "--enroll-secret", "bench-enroll-secret", "--state-dir", state, "--no-hash", "--schedule", "*/5 * * * * *"];
  const child = spawn(process.execPath, [AGENT_BIN, ...common, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  child.stderr!.on("data", (d) => log.push(String(d)));
  children.push(child);
  return { child, batches, log };
}

export interface EventsBenchRow {
  /** Connections per second asked for, and made. */
  asked: number;
  achieved: number;
  on: { cpuPct: number; rssMb: number };
  off: { cpuPct: number; rssMb: number };
  /** Connection records and events dropped (rate + records + kernel) reported by the events agent during the step. */
  records: number;
  dropped: number;
  /** The same, by cause: "rate/records/kernel". */
  droppedBy: string;
}

/** Pids of `root` and everything below it. */
export function processTree(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(name));
      children.set(ppid, list);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const stack = [root];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return out;
}

/** CPU seconds used so far by the tree (live processes; reaped children's time is counted in cutime of their parent). */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // fields 14-17: utime stime cutime cstime (index from field 3)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      // gone
    }
  }
  return ticks / TICKS_PER_SECOND;
}

export function treeRssMb(root: number): number {
  let kb = 0;
  for (const pid of processTree(root)) {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
    } catch {
      // gone
    }
  }
  return kb / 1024;
}

/** A child that opens `rate` short loopback connections a second to its own server for `seconds`, then prints how many it made. */
export function connectionLoad(rate: number, seconds: number): Promise<number> {
  if (rate === 0) return new Promise((r) => setTimeout(() => r(0), seconds * 1000));
  const code = `
    const net = require("net");
    const srv = net.createServer((s) => s.on("error", () => {}).end());
    srv.listen(0, "127.0.0.1", () => {
      const port = srv.address().port;
      let made = 0, inFlight = 0, due = 0;
      const start = Date.now();
      const tick = setInterval(() => {
        const elapsed = (Date.now() - start) / 1000;
        if (elapsed >= ${seconds}) { clearInterval(tick); console.log(made); process.exit(0); }
        due = Math.floor(elapsed * ${rate});
        while (made + inFlight < due && inFlight < 256) {
          inFlight++;
          const c = net.connect(port, "127.0.0.1", () => c.destroy());
          c.on("close", () => { inFlight--; made++; });
          c.on("error", () => {});
        }
      }, 5);
    });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => child.on("close", (c) => (c === 0 ? resolve(Number(out.trim())) : reject(new Error(`load exited with ${c}`)))));
}

export async function waitFor<T>(what: string, cond: () => T, timeoutMs: number): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = cond();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function benchEvents(opts: { rates?: number[]; stepSeconds?: number } = {}): Promise<{ rows: EventsBenchRow[]; source: string }> {
  const rates = opts.rates ?? [0, 100, 1000, 5000];
  const stepSeconds = opts.stepSeconds ?? 15;
  const teardowns: Array<() => void | Promise<void>> = [];
  const dir = mkdtempSync(join(tmpdir(), "oddwire-events-bench-"));
  const children: ChildProcess[] = [];
  try {
    const start = (name: string, mode: string) => startBenchAgent(dir, name, ["--events", mode, "--dpi", "off"], teardowns, children);
    const on = await start("bench-events-on", "on");
    const off = await start("bench-events-off", "off");
    await waitFor(
      "the events agent to attach",
      () => {
        if (on.child.exitCode !== null) throw new Error(`the events agent exited: ${on.log.join("")}`);
        return on.log.join("").includes('"events.started"');
      },
      180_000,
    );
    const source = /"source":"(\w+)"/.exec(on.log.join(""))?.[1] ?? "?";
    const rows: EventsBenchRow[] = [];
    for (const rate of rates) {
      const [cpuOn0, cpuOff0, seen0, dropped0] = [treeCpuSeconds(on.child.pid!), treeCpuSeconds(off.child.pid!), on.batches.length, lastDropped(on.batches)];
      const by0 = dropCounts(on.batches);
      const t0 = Date.now();
      const made = await connectionLoad(rate, stepSeconds);
      const secs = (Date.now() - t0) / 1000;
      const rows0 = { on: treeCpuSeconds(on.child.pid!) - cpuOn0, off: treeCpuSeconds(off.child.pid!) - cpuOff0 };
      rows.push({
        asked: rate,
        achieved: Math.round(made / secs),
        on: { cpuPct: (100 * rows0.on) / secs, rssMb: treeRssMb(on.child.pid!) },
        off: { cpuPct: (100 * rows0.off) / secs, rssMb: treeRssMb(off.child.pid!) },
        records: on.batches.slice(seen0).reduce((n, b) => n + (b.snapshot?.connections?.length ?? 0), 0),
        dropped: lastDropped(on.batches) - dropped0,
        droppedBy: droppedBy(on.batches, by0),
      });
    }
    return { rows, source };
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    for (const fn of teardowns) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}

function dropCounts(batches: oddwire.v1.Batch[]): number[] {
  const v = batches.at(-1)?.snapshot?.visibility;
  return v ? [Number(v.droppedRate), Number(v.droppedRecords), Number(v.droppedKernel)] : [0, 0, 0];
}

function droppedBy(batches: oddwire.v1.Batch[], before: number[]): string {
  return dropCounts(batches)
    .map((n, i) => n - before[i]!)
    .join("/");
}

function lastDropped(batches: oddwire.v1.Batch[]): number {
  const v = batches.at(-1)?.snapshot?.visibility;
  return v ? Number(v.droppedRate) + Number(v.droppedRecords) + Number(v.droppedKernel) : 0;
}

export function printEventsBench(r: Awaited<ReturnType<typeof benchEvents>>): void {
  console.log(`\n### Connection events (source: ${r.source}; agent tree = agent + its children)\n`);
  console.log("| conn/s asked | made | CPU on % | CPU off % | CPU on/off | RSS on MB | RSS off MB | RSS on − off MB | records | dropped (rate/records/kernel) |");
  console.log("|---|---|---|---|---|---|---|---|---|---|");
  for (const x of r.rows) {
    const ratio = x.off.cpuPct > 0 ? fmt(x.on.cpuPct / x.off.cpuPct, 1) : "–";
    console.log(
      `| ${x.asked} | ${x.achieved} | ${fmt(x.on.cpuPct)} | ${fmt(x.off.cpuPct)} | ${ratio} | ${fmt(x.on.rssMb, 0)} | ${fmt(x.off.rssMb, 0)} | ${fmt(x.on.rssMb - x.off.rssMb, 0)} | ${x.records} | ${x.dropped} (${x.droppedBy}) |`,
    );
  }
}

// Run directly: node test/build/bench/events.bench.js [stepSeconds]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rates = process.argv[3] ? process.argv[3].split(",").map(Number) : undefined;
  printEventsBench(await benchEvents({ stepSeconds: Number(process.argv[2] ?? 15), ...(rates && { rates }) }));
}
