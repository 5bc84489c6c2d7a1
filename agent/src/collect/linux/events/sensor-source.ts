// Runs the oddwire sensor (agent/bpf/oddwire-sensor.c: a compiled CO-RE eBPF
// program and its libbpf loader) as a child process and hands each event to
// the caller as it arrives. The lighter route beside bpftrace-source.ts: a few
// MB resident instead of bpftrace's ~111 MB, no tracefs, and it runs with
// CAP_BPF + CAP_PERFMON alone. Same life-cycle: restarts with a doubling delay
// (reported through onStatus), stop() = SIGINT, SIGKILL after a grace period,
// resolves once the child is reaped. Its lines are bpftrace's JSON layout, read
// by the same parser with the sensor's string encoding.

import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SourceStatus, TimedEvent } from "./bpftrace-source.js";
import { parseBpftraceLine, MAX_LINE_CHARS } from "./parse-bpftrace-line.js";

export type { SourceStatus, TimedEvent };

export const SENSOR_NAME = "oddwire-sensor";

/**
 * Where the sensor may be, in order: beside the Node.js runtime (the .deb puts
 * both in /usr/lib/oddwire-agent/bin), then the build output of agent/bpf
 * in a source tree (`npm run build:sensor`).
 */
export function sensorCandidates(execPath = process.execPath): string[] {
  return [join(dirname(execPath), SENSOR_NAME), fileURLToPath(new URL(`../../../../bpf/build/${SENSOR_NAME}`, import.meta.url))];
}

/** The first executable sensor among the candidates, or null when it was not built or shipped. */
export function findSensor(candidates = sensorCandidates()): string | null {
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  return null;
}

export interface SensorSourceOptions {
  onEvent(event: TimedEvent): void;
  /** Kernel-side losses (ring buffer full): events that never reached us. */
  onLost?(count: number): void;
  /** A line that did not parse; the source carries on. */
  onError?(reason: string): void;
  onStatus?: ((status: SourceStatus) => void) | undefined;
  /** The sensor binary; findSensor() when not given. */
  sensorPath?: string;
  /** Bytes of the kernel's ring buffer (a power of two, 4096 or more); the sensor's default is 1 MiB. */
  ringBytes?: number;
  /** Restart delays: the first, doubled on each death up to the maximum. */
  restartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** Give up after this many deaths in a row without a ready line in between. */
  maxRestarts?: number;
  /** How long stop() waits after SIGINT before SIGKILL. */
  stopGraceMs?: number;
}

const STDERR_KEEP = 4096;

export class SensorSource {
  private child: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readyResolvers: Array<() => void> = [];
  private isReady = false;
  /** Wall-clock ns minus monotonic ns, taken when the child starts. */
  private clockOffsetNs = 0n;
  private readonly o: Required<Omit<SensorSourceOptions, "onLost" | "onError" | "onStatus" | "sensorPath" | "ringBytes">> &
    Pick<SensorSourceOptions, "onLost" | "onError" | "onStatus" | "ringBytes"> & { sensorPath: string };

  constructor(options: SensorSourceOptions) {
    this.o = {
      restartDelayMs: 1000,
      maxRestartDelayMs: 60000,
      maxRestarts: 10,
      stopGraceMs: 5000,
      ...options,
      // A missing sensor is spawned by name and fails with ENOENT, reported through onStatus like any death.
      sensorPath: options.sensorPath ?? findSensor() ?? SENSOR_NAME,
    };
  }

  /** Starts the child. Resolves at once; use ready() to wait for the probes. */
  start(): void {
    if (this.child || this.stopping) return;
    this.spawnChild();
  }

  /** Resolves once the sensor has attached its programs and said so. */
  ready(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.readyResolvers.push(resolve));
  }

  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Ends the child (SIGINT: it detaches and exits 0; SIGKILL after the grace period) and waits until it is reaped. */
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
    const args = this.o.ringBytes === undefined ? [] : ["--ring-bytes", String(this.o.ringBytes)];
    const child = spawn(this.o.sensorPath, args, { stdio: ["ignore", "pipe", "pipe"] });
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
      stderr = `${stderr}${d}`.slice(-STDERR_KEEP);
    });
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (d: string) => {
      pending += d;
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
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
    const parsed = parseBpftraceLine(line, { strings: "sensor" });
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
