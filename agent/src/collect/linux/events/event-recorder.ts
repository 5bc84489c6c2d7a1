// The events pipeline in one piece, for the agent's run loop to own: bpftrace
// child → exec details read at once → process cache → per-batch aggregation.
// The caller decides when to flush (each minute, with the snapshot).

import { readFileSync } from "node:fs";
import { BpftraceSource, type BpftraceSourceOptions, type SourceStatus, type TimedEvent } from "./bpftrace-source.js";
import { parseBootTime, parseProcStat } from "../parse-proc-pid.js";
import { ConnectionAggregator, type Batch } from "./connection-aggregator.js";
import { readExecDetails } from "./exec-details.js";
import { ProcessCache, type ProcessCacheOptions, type ProcessInfo } from "./process-cache.js";

/**
 * Where events come from: a child that prints the program's JSON lines
 * (bpftrace today; a compiled sensor printing the same lines later).
 */
export interface EventLineSource {
  start(): void;
  /** Resolves once the probes are attached. */
  ready(): Promise<void>;
  /** Ends the child; resolves once it is reaped. */
  stop(): Promise<void>;
  readonly pid: number | null;
}

/** What a source reports to the recorder. */
export type SourceHandlers = Pick<BpftraceSourceOptions, "onEvent" | "onLost" | "onError" | "onStatus">;

export interface EventRecorderOptions {
  /** Builds the source (default: bpftrace running agent/bpf/oddwire-events.bt with `source`'s options). */
  createSource?: (handlers: SourceHandlers) => EventLineSource;
  maxEventsPerSecond?: number | undefined;
  maxRecords?: number | undefined;
  cache?: ProcessCacheOptions;
  source?: Omit<BpftraceSourceOptions, "onEvent" | "onLost">;
  onStatus?: (status: SourceStatus) => void;
  /** Every event as it arrives, after the exec details are read (tests, debugging). */
  onEvent?: (event: TimedEvent) => void;
  procRoot?: string;
}

export class EventRecorder {
  readonly cache: ProcessCache;
  readonly aggregator: ConnectionAggregator;
  readonly source: EventLineSource;
  /** Lines bpftrace printed that did not parse, last few kept. */
  readonly parseErrors: string[] = [];
  parseErrorCount = 0;

  constructor(o: EventRecorderOptions = {}) {
    const procRoot = o.procRoot ?? "/proc";
    this.cache = new ProcessCache(o.cache);
    this.aggregator = new ConnectionAggregator(
      { cache: this.cache, maxEventsPerSecond: o.maxEventsPerSecond, maxRecords: o.maxRecords, fallback: (pid) => readLiveProcess(pid, procRoot, Date.now()) },
      Date.now(),
    );
    const handlers: SourceHandlers = {
      onStatus: o.onStatus ?? o.source?.onStatus,
      onError: (reason) => {
        this.parseErrorCount++;
        this.parseErrors.push(reason);
        if (this.parseErrors.length > 20) this.parseErrors.shift();
        o.source?.onError?.(reason);
      },
      onLost: (n) => this.aggregator.noteKernelLost(n),
      onEvent: (e) => {
        if (e.kind === "exec") this.cache.recordExec(e, readExecDetails(e.pid, procRoot));
        else this.aggregator.add(e);
        o.onEvent?.(e);
      },
    };
    this.source = o.createSource ? o.createSource(handlers) : new BpftraceSource({ ...o.source, ...handlers });
  }

  start(): void {
    this.source.start();
  }

  ready(): Promise<void> {
    return this.source.ready();
  }

  flush(endMs = Date.now()): Batch {
    this.cache.expire(endMs);
    return this.aggregator.flush(endMs);
  }

  stop(): Promise<void> {
    return this.source.stop();
  }
}

/** A process that exec'd before the tracer started, read from /proc now; null when gone. */
export function readLiveProcess(pid: number, procRoot: string, nowMs: number): ProcessInfo | null {
  let status: string;
  try {
    status = readFileSync(`${procRoot}/${pid}/status`, "utf8");
  } catch {
    return null;
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, "m").exec(status)?.[1] ?? "";
  const details = readExecDetails(pid, procRoot);
  if (details.exe === null && details.cmdline === null) return null;
  let startedMs = 0;
  try {
    const stat = parseProcStat(readFileSync(`${procRoot}/${pid}/stat`, "utf8"));
    const boot = parseBootTime(readFileSync(`${procRoot}/stat`, "utf8"));
    // USER_HZ is 100 on every Linux architecture node runs on.
    if (stat && boot !== null) startedMs = boot * 1000 + stat.startTicks * 10;
  } catch {
    // gone meanwhile: start time unknown
  }
  return {
    pid,
    ppid: Number(field("PPid")) || 0,
    uid: Number(field("Uid").split(/\s+/)[0]) || 0,
    comm: field("Name"),
    exe: details.exe ?? "",
    cmdline: details.cmdline ?? "",
    complete: details.exe !== null && details.cmdline !== null,
    execTimeMs: startedMs || nowMs,
  };
}
