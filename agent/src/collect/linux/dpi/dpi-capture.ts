// Protocol identification on Linux, the I/O half: tcpdump captures headers and
// the first bytes of packets (BPF filter, snap length) and streams them to the
// agent; FlowWindow keeps only the first packets of each flow, under its caps;
// every window is written to a private pcap file in the state directory,
// classified by nDPI's ndpiReader, and deleted. Nothing of the payload is
// kept past that or sent anywhere.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { delimiter } from "node:path";
import { findExecutable } from "../events/preflight.js";
import { FlowWindow, type CapCounts, type WatchedFlow, type WindowOptions } from "./flow-window.js";
import { PcapStreamParser, pcapFileHeader, pcapRecord } from "./parse-pcap.js";
import { parseNdpiFlows, type NdpiFlow } from "./parse-ndpi-flows.js";

const run = promisify(execFile);

export const DPI_SNAPLEN = 1024;
/** Only TCP and UDP carry what nDPI names here; ICMP and the rest are not captured. */
export const DPI_FILTER = "tcp or udp";
/** At most this long between classifications (and so the longest a packet waits in memory). */
export const DPI_WINDOW_MS = 5_000;
/** A tcpdump that exits after it started is restarted this long after, this many times in a row at most. */
const RESTART_MS = 5_000;
const MAX_RESTARTS = 5;
const TOOL_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"];

export interface ClassifiedFlow {
  watched: WatchedFlow;
  /** null when ndpiReader said nothing of it. */
  ndpi: NdpiFlow | null;
}

export interface DpiTools {
  tcpdump: string | null;
  ndpiReader: string | null;
}

export function findDpiTools(env: NodeJS.ProcessEnv = process.env): DpiTools {
  const dirs = [...(env["PATH"] ?? "").split(delimiter).filter((d) => d.startsWith("/")), ...TOOL_DIRS];
  return { tcpdump: findExecutable("tcpdump", dirs), ndpiReader: findExecutable("ndpiReader", dirs) };
}

/** What stops protocol identification on this host, one sentence each; empty when it can run. Pure. */
export function dpiMissing(tools: DpiTools, capEff: bigint | null): string[] {
  const missing: string[] = [];
  if (!tools.tcpdump) missing.push("tcpdump is not installed (Debian: apt-get install tcpdump)");
  if (!tools.ndpiReader) missing.push("ndpiReader is not installed (Debian: apt-get install libndpi-bin)");
  // CAP_NET_RAW (13) opens the capture socket.
  if (capEff !== null && ((capEff >> 13n) & 1n) !== 1n) missing.push("this process lacks CAP_NET_RAW, which capturing packets needs (run the agent as root, or grant it)");
  return missing;
}

export interface DpiCaptureOptions {
  tools: { tcpdump: string; ndpiReader: string };
  /** Interfaces to capture on; ["any"] is every interface that is up, loopback included. */
  interfaces: string[];
  /** Where window files live while ndpiReader reads them (created 0700). */
  dir: string;
  window?: WindowOptions;
  windowMs?: number;
  snaplen?: number;
  onError: (what: string) => void;
}

export class DpiCapture {
  private readonly window: FlowWindow;
  private readonly children: ChildProcess[] = [];
  private timer: NodeJS.Timeout | undefined;
  private classified: ClassifiedFlow[] = [];
  private busy: Promise<void> = Promise.resolve();
  private seq = 0;
  private stopped = false;
  flowsClassified = 0;
  /** Set when a capture kept dying and was given up: why, in words. */
  failure: string | null = null;
  private restarts = 0;
  packetsDropped = 0;
  private readonly droppedBy = new Map<ChildProcess, number>();

  constructor(private readonly o: DpiCaptureOptions) {
    this.window = new FlowWindow(o.window);
  }

  get caps(): CapCounts {
    return this.window.counts;
  }

  /** Starts one tcpdump per interface; resolves once each has opened its capture (or rejects with what it said). */
  async start(): Promise<void> {
    mkdirSync(this.o.dir, { recursive: true, mode: 0o700 });
    await Promise.all(this.o.interfaces.map((iface) => this.spawnTcpdump(iface)));
    this.timer = setInterval(() => void this.classifyNow(), this.o.windowMs ?? DPI_WINDOW_MS);
    this.timer.unref();
  }

  private spawnTcpdump(iface: string): Promise<void> {
    // -p: no promiscuous mode (this host's own traffic only); -n: no name lookups; -U: write each packet as it comes.
    // -B: an 8 MiB kernel buffer (2 MiB by default) rides out the agent's pauses.
    const args = ["-i", iface, "-p", "-n", "-U", "-B", "8192", "-s", String(this.o.snaplen ?? DPI_SNAPLEN), "-w", "-", DPI_FILTER];
    const child = spawn(this.o.tools.tcpdump, args, { stdio: ["ignore", "pipe", "pipe"] });
    this.children.push(child);
    const parser = new PcapStreamParser();
    let stderr = "";
    let listening = false;
    return new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => {
        try {
          for (const p of parser.push(chunk)) this.window.add(p);
        } catch (err) {
          this.o.onError(`tcpdump on ${iface} wrote something that is not pcap: ${(err as Error).message}`);
          child.kill();
        }
      });
      child.stderr!.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
        if (!listening && /listening on/.test(stderr)) {
          listening = true;
          resolve();
        }
        // SIGUSR1 makes tcpdump print its counters; "N packets dropped by kernel".
        const dropped = /(\d+) packets? dropped by kernel/g;
        let m: RegExpExecArray | null;
        let last: number | undefined;
        while ((m = dropped.exec(stderr))) last = Number(m[1]);
        if (last !== undefined) {
          this.packetsDropped += Math.max(0, last - (this.droppedBy.get(child) ?? 0));
          this.droppedBy.set(child, last);
        }
      });
      child.on("error", (err) => reject(new Error(`tcpdump could not be started: ${err.message}`)));
      child.on("exit", (code, signal) => {
        const said = stderr.trim().split("\n").slice(-2).join(" / ").slice(0, 600);
        const why = `tcpdump on ${iface} exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ""}`;
        reject(new Error(why));
        this.children.splice(this.children.indexOf(child), 1);
        this.droppedBy.delete(child);
        // Only a capture that had started is restarted (one that cannot start fails start()).
        if (this.stopped || !listening) return;
        this.o.onError(why);
        if (++this.restarts > MAX_RESTARTS) {
          this.failure = `${why}; it was restarted ${MAX_RESTARTS} times and kept exiting, so protocols come from ports alone until the agent restarts`;
          return;
        }
        setTimeout(() => {
          if (this.stopped) return;
          this.spawnTcpdump(iface).then(
            () => (this.restarts = 0),
            (err: Error) => (this.failure = `tcpdump on ${iface} could not be restarted: ${err.message}`),
          );
        }, RESTART_MS).unref();
      });
    });
  }

  /** Classifies what the window holds now, then hands over every flow classified since the last call. */
  async collect(nowMs: number = Date.now()): Promise<ClassifiedFlow[]> {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGUSR1");
    await this.classifyNow(nowMs);
    const out = this.classified;
    this.classified = [];
    return out;
  }

  /** One window through ndpiReader; windows never overlap. */
  classifyNow(nowMs: number = Date.now()): Promise<void> {
    this.busy = this.busy.then(async () => {
      const w = this.window.take(nowMs);
      if (w.flows.length === 0) return;
      const file = join(this.o.dir, `window-${process.pid}-${++this.seq}.pcap`);
      let found: NdpiFlow[] = [];
      try {
        writeFileSync(file, Buffer.concat([pcapFileHeader(this.o.snaplen ?? DPI_SNAPLEN), ...w.packets.map(pcapRecord)]), { mode: 0o600 });
        const { stdout } = await run(this.o.tools.ndpiReader, ["-i", file, "-v", "2", "-q"], { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 });
        found = parseNdpiFlows(stdout);
      } catch (err) {
        this.o.onError(`ndpiReader failed on a window of ${w.flows.length} flows: ${(err as Error).message.slice(0, 600)}`);
      } finally {
        rmSync(file, { force: true });
      }
      const byKey = new Map<string, NdpiFlow>();
      for (const n of found) byKey.set(ndpiKey(n), n);
      for (const f of w.flows) this.classified.push({ watched: f, ndpi: byKey.get(f.key) ?? null });
      this.flowsClassified += w.flows.length;
    });
    return this.busy;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once("exit", () => resolve());
            c.kill("SIGTERM");
          }),
      ),
    );
    await this.busy;
  }
}

function ndpiKey(n: NdpiFlow): string {
  const a = `${n.a}|${n.aPort}`;
  const b = `${n.b}|${n.bPort}`;
  return a < b ? `${n.transport}|${a}|${b}` : `${n.transport}|${b}|${a}`;
}
