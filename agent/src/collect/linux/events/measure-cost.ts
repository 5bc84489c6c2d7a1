// Measures what the event source's child costs (bpftrace, or the compiled
// oddwire sensor): its resident memory and CPU when
// idle and under ~100 and ~1,000 loopback TCP connections a second, and how
// long a fixed number of loopback connections takes with and without the
// tracer attached (the in-kernel probe cost falls on the traced processes, not
// on bpftrace). A tool for the notes in README.md, not a test: run as root,
//   node agent/dist/collect/linux/events/measure-cost.js [seconds-per-phase] [bpftrace|sensor]
// Loopback only.

import { readFileSync } from "node:fs";
import { createServer, connect, type Server } from "node:net";
import { BpftraceSource } from "./bpftrace-source.js";
import { SensorSource } from "./sensor-source.js";

const CLK_TCK = 100; // USER_HZ on every Linux the agent supports

interface Usage {
  cpuTicks: number;
  rssKb: number;
}

function usage(pid: number): Usage {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { cpuTicks: Number(rest[11]) + Number(rest[12]), rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) };
}

async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => {
    s.on("error", () => {});
    s.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", 1024, r));
  return { server, port: (server.address() as { port: number }).port };
}

function oneConnection(port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    s.on("error", () => resolve());
    s.on("close", () => resolve());
    s.on("connect", () => s.end());
    s.resume();
  });
}

/** Opens about `rate` connections a second for `seconds`; returns how many completed. */
async function load(port: number, rate: number, seconds: number): Promise<number> {
  let done = 0;
  const tickMs = 10;
  const perTick = rate / (1000 / tickMs);
  let owed = 0;
  const inflight = new Set<Promise<void>>();
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    owed += perTick;
    while (owed >= 1 && inflight.size < 500) {
      owed--;
      const p = oneConnection(port).then(() => {
        done++;
        inflight.delete(p);
      });
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, tickMs));
  }
  await Promise.all(inflight);
  return done;
}

/** Wall time for `n` connections, 20 at a time. */
async function timed(port: number, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: 20 }, async () => {
      while (next < n) {
        next++;
        await oneConnection(port);
      }
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1e6;
}

async function main(): Promise<void> {
  const seconds = Number(process.argv[2] ?? 5);
  const which = process.argv[3] ?? "bpftrace";
  if (which !== "bpftrace" && which !== "sensor") throw new Error(`source "${which}" is neither bpftrace nor sensor`);
  const { server, port } = await listen();
  const baselineMs = await timed(port, 3000);

  let events = 0;
  let lost = 0;
  const options = { onEvent: () => events++, onLost: (n: number) => (lost += n), onStatus: (s: { state: string }) => s.state === "exited" && console.error(`${which} exited:`, s) };
  const source = which === "sensor" ? new SensorSource(options) : new BpftraceSource(options);
  source.start();
  const t0 = Date.now();
  await source.ready();
  const pid = source.pid!;
  console.log(`${which} ready in ${Date.now() - t0} ms (load and attach), pid ${pid}, RSS ${(usage(pid).rssKb / 1024).toFixed(1)} MB`);

  const phase = async (name: string, rate: number) => {
    const before = usage(pid);
    const e0 = events;
    const w0 = Date.now();
    const done = rate ? await load(port, rate, seconds) : await new Promise<number>((r) => setTimeout(() => r(0), seconds * 1000));
    const wall = (Date.now() - w0) / 1000;
    const after = usage(pid);
    const cpu = (after.cpuTicks - before.cpuTicks) / CLK_TCK / wall;
    console.log(
      `${name}: ${(done / wall).toFixed(0)} conn/s achieved, ${((events - e0) / wall).toFixed(0)} events/s seen, ${which} CPU ${(cpu * 100).toFixed(1)}% of one core, RSS ${(after.rssKb / 1024).toFixed(1)} MB`,
    );
  };
  await phase("idle", 0);
  await phase("~100 conn/s", 100);
  await phase("~1000 conn/s", 1000);
  const tracedMs = await timed(port, 3000);
  console.log(`3000 loopback connections, 20 at a time: ${baselineMs.toFixed(0)} ms untraced, ${tracedMs.toFixed(0)} ms traced; kernel-reported lost events: ${lost}`);
  await source.stop();
  server.close();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
