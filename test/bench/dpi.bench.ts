// Cost of protocol identification: the agent with --dpi on (capturing on
// loopback) against the agent with --dpi off, both running at once under the
// same load: 10, 100 and 500 Mbit/s of loopback TCP traffic (a few long
// flows, as bulk transfers are), then 1,000 new loopback connections a second.
// CPU is user+system time of each agent and every process below it (tcpdump,
// ndpiReader), from /proc. The counts of flows left unclassified by the caps
// are the agent's own (DpiVisibility). Needs root, tcpdump and ndpiReader.
// Loopback only.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { oddwire } from "@oddwire/proto";
import { connectionLoad, startBenchAgent, treeCpuSeconds, treeRssMb, waitFor } from "./events.bench.js";
import { fmt } from "./measure.js";

export interface DpiBenchRow {
  load: string;
  /** What the load achieved: Mbit/s or connections/s. */
  achieved: string;
  on: { cpuPct: number; rssMb: number };
  off: { cpuPct: number; rssMb: number };
  classified: number;
  unclassifiedRate: number;
  unclassifiedWindow: number;
  packetsDropped: number;
}

/** A child that sends `mbps` Mbit/s over `flows` loopback TCP connections to its own server for `seconds`, then prints the Mbit/s it achieved. */
function bandwidthLoad(mbps: number, seconds: number, flows = 4): Promise<number> {
  const code = `
    const net = require("net");
    const srv = net.createServer((s) => s.on("data", () => {}).on("error", () => {}));
    srv.listen(0, "127.0.0.1", () => {
      const port = srv.address().port;
      const chunk = Buffer.alloc(16384, 120);
      const socks = Array.from({ length: ${flows} }, () => net.connect(port, "127.0.0.1"));
      const perMs = ${mbps} * 1e6 / 8 / 1000;
      const start = Date.now();
      let sent = 0;
      const tick = setInterval(() => {
        const elapsed = Date.now() - start;
        if (elapsed >= ${seconds} * 1000) { clearInterval(tick); console.log((sent * 8 / 1e6) / (elapsed / 1000)); process.exit(0); }
        let i = 0;
        while (sent < elapsed * perMs) { const s = socks[i++ % socks.length]; if (s.writableLength > 4 << 20) break; s.write(chunk); sent += chunk.length; }
      }, 2);
    });`;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  return new Promise((resolve, reject) => child.on("close", (c) => (c === 0 ? resolve(Number(out.trim())) : reject(new Error(`load exited with ${c}`)))));
}

function dpiCounts(batches: oddwire.v1.Batch[]): { classified: number; rate: number; window: number; dropped: number } {
  const d = [...batches].reverse().find((b) => b.snapshot?.dpi)?.snapshot?.dpi;
  return {
    classified: Number(d?.flowsClassified ?? 0),
    rate: Number(d?.unclassifiedRate ?? 0),
    window: Number(d?.unclassifiedWindow ?? 0),
    dropped: Number(d?.packetsDropped ?? 0),
  };
}

export async function benchDpi(opts: { mbps?: number[]; flowsPerSecond?: number; stepSeconds?: number } = {}): Promise<DpiBenchRow[]> {
  const mbps = opts.mbps ?? [10, 100, 500];
  const stepSeconds = opts.stepSeconds ?? 15;
  const teardowns: Array<() => void | Promise<void>> = [];
  const dir = mkdtempSync(join(tmpdir(), "oddwire-dpi-bench-"));
  const children: ChildProcess[] = [];
  try {
    const start = (name: string, mode: string) => startBenchAgent(dir, name, ["--events", "off", "--dpi", mode, "--dpi-interfaces", "lo"], teardowns, children);
    const on = await start("bench-dpi-on", "on");
    const off = await start("bench-dpi-off", "off");
    await waitFor(
      "the capture to start",
      () => {
        if (on.child.exitCode !== null) throw new Error(`the --dpi on agent exited: ${on.log.join("")}`);
        return on.log.join("").includes('"dpi.started"');
      },
      60_000,
    );
    // Let both settle (first snapshot, enrolment) before measuring.
    await new Promise((r) => setTimeout(r, 6_000));
    const rows: DpiBenchRow[] = [];
    const step = async (load: string, run: () => Promise<string>) => {
      const before = { on: treeCpuSeconds(on.child.pid!), off: treeCpuSeconds(off.child.pid!), counts: dpiCounts(on.batches) };
      const t0 = Date.now();
      const achieved = await run();
      const secs = (Date.now() - t0) / 1000;
      const cpu = { on: treeCpuSeconds(on.child.pid!) - before.on, off: treeCpuSeconds(off.child.pid!) - before.off };
      // The counts arrive with the next batch: wait for one that began after the step.
      const seen = on.batches.length;
      await waitFor("the next batch", () => on.batches.length >= seen + 2, 30_000);
      const after = dpiCounts(on.batches);
      rows.push({
        load,
        achieved,
        on: { cpuPct: (100 * cpu.on) / secs, rssMb: treeRssMb(on.child.pid!) },
        off: { cpuPct: (100 * cpu.off) / secs, rssMb: treeRssMb(off.child.pid!) },
        classified: after.classified - before.counts.classified,
        unclassifiedRate: after.rate - before.counts.rate,
        unclassifiedWindow: after.window - before.counts.window,
        packetsDropped: after.dropped - before.counts.dropped,
      });
    };
    await step("idle", async () => {
      await new Promise((r) => setTimeout(r, stepSeconds * 1000));
      return "-";
    });
    for (const m of mbps) await step(`${m} Mbit/s`, async () => `${fmt(await bandwidthLoad(m, stepSeconds), 0)} Mbit/s`);
    const rate = opts.flowsPerSecond ?? 1000;
    await step(`${rate} new flows/s`, async () => `${Math.round((await connectionLoad(rate, stepSeconds)) / stepSeconds)} flows/s`);
    return rows;
  } finally {
    for (const c of children) c.kill("SIGTERM");
    await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once("exit", r)))));
    for (const fn of teardowns) await fn();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printDpiBench(rows: DpiBenchRow[]): void {
  console.log("\n### Protocol identification (--dpi on, capturing on lo, vs --dpi off; agent tree = agent + tcpdump + ndpiReader)\n");
  console.log(
    "| load | achieved | CPU on % of a core | CPU off % | on − off (points) | RSS on MB | RSS off MB | flows classified | unclassified: rate cap | unclassified: window cap | packets dropped (kernel) |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const x of rows)
    console.log(
      `| ${x.load} | ${x.achieved} | ${fmt(x.on.cpuPct)} | ${fmt(x.off.cpuPct)} | ${fmt(x.on.cpuPct - x.off.cpuPct)} | ${fmt(x.on.rssMb, 0)} | ${fmt(x.off.rssMb, 0)} | ${x.classified} | ${x.unclassifiedRate} | ${x.unclassifiedWindow} | ${x.packetsDropped} |`,
    );
}

// Run directly: node test/build/bench/dpi.bench.js [stepSeconds]
if (process.argv[1] === fileURLToPath(import.meta.url)) printDpiBench(await benchDpi({ stepSeconds: Number(process.argv[2] ?? 15) }));
