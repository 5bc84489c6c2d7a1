// Runs agent/bpf/oddwire-events.bt under bpftrace as a child process (or, with
// `args` and `strings: "sensor"`, any program printing the same JSON lines: the
// compiled sensor, see sensor-source.ts) and hands each event to the caller as
// it arrives. Restarts the child when it dies
// (with a growing delay, reported through onStatus), and stop() ends it and
// resolves only once the child has been reaped.

import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseBpftraceLine, MAX_LINE_CHARS, type BpftraceEvent, type StringEncoding } from "./parse-bpftrace-line.js";

/** The program file, shipped beside the compiled agent (agent/bpf/). */
export const EVENTS_PROGRAM = fileURLToPath(new URL("../../../../bpf/oddwire-events.bt", import.meta.url));

/** An event with its wall-clock time, milliseconds since the epoch. */
export type TimedEvent = BpftraceEvent & { timeMs: number };

export type SourceStatus =
  | { state: "starting"; attempt: number }
  | { state: "running"; pid: number }
  | { state: "exited"; code: number | null; signal: NodeJS.Signals | null; stderr: string; restartInMs: number | null }
  | { state: "stopped" };

export interface BpftraceSourceOptions {
  onEvent(event: TimedEvent): void;
  /** Kernel-side losses (perf buffer full): events that never reached us. */
  onLost?(count: number): void;
  /** A line that did not parse; the source carries on. */
  onError?(reason: string): void;
  onStatus?: ((status: SourceStatus) => void) | undefined;
  bpftracePath?: string;
  programPath?: string;
  /**
   * The whole argument list, for a program that is not bpftrace but prints the
   * same JSON lines (a compiled sensor); default `-f json PROGRAM`.
   */
  args?: string[];
  /** How the producer writes non-ASCII bytes in strings (default bpftrace's). */
  strings?: StringEncoding;
  /** Entries per BPF map (BPFTRACE_MAP_KEYS_MAX); bounds kernel memory and the UDP first-seen set. */
  mapKeysMax?: number;
  /**
   * Bytes kept of each string (BPFTRACE_STRLEN); longer exec paths are cut. The exec
   * probe's tuple must fit the 512-byte BPF stack: 160 loads with bpftrace 0.17, 200 does not.
   */
  strlen?: number;
  /** Restart delays: the first, doubled on each death up to the maximum. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Give up after this many deaths in a row without a ready line in between. */
  maxRestarts?: number;
  /** How long stop() waits after SIGINT before SIGKILL. */
  stopGraceMs?: number;
}

/** Lines of bpftrace's stderr that say nothing is wrong. */
const BENIGN_STDERR = [/couldn't set RLIMIT_MEMLOCK/, /^DEBUG: /, /WARNING: Addrspace mismatch/, /^\s*if \(/, /^\s*~+\s*$/, /^\S+\.bt:\d+:\d+-\d+: WARNING/];
const STDERR_KEEP = 4096;

export class BpftraceSource {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readyResolvers: Array<() => void> = [];
  private isReady = false;
  /** Wall-clock ns minus monotonic ns, taken when the child starts. */
  private clockOffsetNs = 0n;
  private readonly o: Required<Omit<BpftraceSourceOptions, "onLost" | "onError" | "onStatus" | "args">> & Pick<BpftraceSourceOptions, "onLost" | "onError" | "onStatus" | "args">;

  constructor(options: BpftraceSourceOptions) {
    this.o = {
      bpftracePath: "bpftrace",
      programPath: EVENTS_PROGRAM,
      mapKeysMax: 16384,
      strlen: 128,
      restartDelayMs: 1000,
      maxRestartDelayMs: 60000,
      maxRestarts: 10,
      stopGraceMs: 5000,
      strings: "bpftrace",
      ...options,
    };
  }

  /** Starts the child. Resolves at once; use ready() to wait for the probes. */
  start(): void {
    if (this.child || this.stopping) return;
    this.spawnChild();
  }

  /** Resolves once the program's probes are attached and it has printed its first line. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyResolvers.push(resolve));
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Ends the child (SIGINT so bpftrace detaches cleanly, SIGKILL after the grace period) and waits until it is reaped. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), this.o.stopGraceMs);
      await this.exited;
      clearTimeout(timer);
    } else await this.exited;
    this.o.onStatus?.({ state: "stopped" });
  }

  private spawnChild(): void {
    this.isReady = false;
    this.o.onStatus?.({ state: "starting", attempt: this.restarts + 1 });
    this.clockOffsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
    const child = spawn(this.o.bpftracePath, this.o.args ?? ["-f", "json", this.o.programPath], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, BPFTRACE_MAP_KEYS_MAX: String(this.o.mapKeysMax), BPFTRACE_STRLEN: String(this.o.strlen) },
    });
    this.child = child;
    let stderr = "";
    let pending = "";
    let overlong = false;
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        this.child = null;
        resolve();
        this.onExit(code, signal, stderr);
      });
    });
    child.on("error", (err) => {
      stderr = `${stderr}${err.message}\n`.slice(-STDERR_KEEP);
    });
    child.on("spawn", () => this.o.onStatus?.({ state: "running", pid: child.pid! }));
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      const kept = d.split("\n").filter((l) => l.trim() !== "" && !BENIGN_STDERR.some((re) => re.test(l)));
      if (kept.length) stderr = `${stderr}${kept.join("\n")}\n`.slice(-STDERR_KEEP);
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      pending += d;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (overlong)
          overlong = false; // the tail of a line already refused
        else this.onLine(line);
      }
      if (pending.length > MAX_LINE_CHARS) {
        this.o.onError?.(`line longer than ${MAX_LINE_CHARS} characters refused`);
        pending = "";
        overlong = true;
      }
    });
  }

  private onLine(line: string): void {
    const parsed = parseBpftraceLine(line, { strings: this.o.strings });
    switch (parsed.type) {
      case "event":
        this.o.onEvent({ ...parsed.event, timeMs: Number((parsed.event.monoNs + this.clockOffsetNs) / 1_000_000n) });
        break;
      case "ready":
        this.isReady = true;
        this.restarts = 0;
        for (const r of this.readyResolvers.splice(0)) r();
        break;
      case "lost":
        this.o.onLost?.(parsed.count);
        break;
      case "error":
        this.o.onError?.(parsed.reason);
        break;
      case "ignore":
        break;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null, stderr: string): void {
    if (this.stopping) return;
    this.restarts++;
    const giveUp = this.restarts > this.o.maxRestarts;
    const delay = giveUp ? null : Math.min(this.o.restartDelayMs * 2 ** (this.restarts - 1), this.o.maxRestartDelayMs);
    this.o.onStatus?.({ state: "exited", code, signal, stderr: stderr.trim(), restartInMs: delay });
    if (delay === null) return;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      if (!this.stopping) this.spawnChild();
    }, delay);
  }
}
