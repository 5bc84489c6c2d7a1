// Folds connection events into one record per process and destination for a
// batch window (first and last seen, how many), so a host making thousands of
// connections sends a few hundred records, not thousands of events. Pure:
// events in, records out; times come from the events, never from a clock.
//
// Three bounds, each counted exactly when it bites:
//  - a rate cap, events per second of event time (a fixed one-second window);
//  - a cap on distinct records per batch (memory);
//  - what the kernel lost before we saw it (reported by the source).

import type { ConnectionEvent } from "./parse-bpftrace-line.js";
import type { ProcessCache, ProcessInfo } from "./process-cache.js";

export type ConnectionKind = "tcp-out" | "tcp-in" | "udp-out" | "udp-in";

export interface ConnectionRecord {
  kind: ConnectionKind;
  pid: number;
  /** Parent pid from the cache; 0 when unknown. */
  ppid: number;
  uid: number;
  comm: string;
  /** User name where the source says it (Windows); "" otherwise. */
  user: string;
  /** When the process started (its exec, or /proc's start time); 0 when unknown. */
  startedAtMs: number;
  /** From the process cache or the fallback; null when the process was unknown and gone. */
  exe: string | null;
  cmdline: string | null;
  /** Parent pids (and their executables where known), nearest first. */
  ancestry: Array<{ pid: number; exe: string | null }>;
  family: 4 | 6;
  /** For outbound: the peer we connect to. For inbound: the peer connecting to us. */
  remoteAddress: string;
  /** Outbound: the destination port. Inbound: 0 (the peer's port is ephemeral and not part of the key). */
  remotePort: number;
  /** Inbound: the local port connected to. Outbound: 0 (ephemeral). */
  localPort: number;
  firstSeenMs: number;
  lastSeenMs: number;
  count: number;
  /** Outbound TCP only: how many of `count` did not complete the handshake. */
  failed: number;
  /** Start times of the connections folded here, oldest first, at most MAX_STARTS_PER_RECORD (the first ones): for beaconing. */
  startsMs: number[];
}

/** Start times kept per record: enough to see a rhythm in one batch, bounded whatever the rate. */
export const MAX_STARTS_PER_RECORD = 256;
/** Events per second of event time accepted when the caller does not say. */
export const DEFAULT_MAX_EVENTS_PER_SECOND = 2000;

export interface Dropped {
  /** Over the events-per-second cap. */
  rate: number;
  /** A new record when the batch already held maxRecords. */
  records: number;
  /** Lost in the kernel's buffer before reaching the agent. */
  kernel: number;
}

export interface Batch {
  startMs: number;
  endMs: number;
  records: ConnectionRecord[];
  /** Events folded into records. */
  accepted: number;
  dropped: Dropped;
}

export interface AggregatorOptions {
  /** Connection events accepted per second of event time; the rest are counted and dropped. */
  maxEventsPerSecond?: number | undefined;
  /** Distinct records per batch. */
  maxRecords?: number | undefined;
  cache: ProcessCache;
  /** Asked when the cache does not know a pid (a process older than the tracer). May read /proc. */
  fallback?: (pid: number) => ProcessInfo | null;
}

export class ConnectionAggregator {
  private records = new Map<string, ConnectionRecord>();
  private dropped: Dropped = { rate: 0, records: 0, kernel: 0 };
  private accepted = 0;
  private startMs: number;
  private windowSecond = Number.NEGATIVE_INFINITY;
  private inWindow = 0;
  private readonly maxPerSecond: number;
  private readonly maxRecords: number;

  constructor(
    private readonly o: AggregatorOptions,
    startMs = 0,
  ) {
    this.maxPerSecond = o.maxEventsPerSecond ?? DEFAULT_MAX_EVENTS_PER_SECOND;
    this.maxRecords = o.maxRecords ?? 5000;
    if (!(Number.isInteger(this.maxPerSecond) && this.maxPerSecond > 0)) throw new RangeError(`maxEventsPerSecond must be a positive integer, not ${this.maxPerSecond}`);
    if (!(Number.isInteger(this.maxRecords) && this.maxRecords > 0)) throw new RangeError(`maxRecords must be a positive integer, not ${this.maxRecords}`);
    this.startMs = startMs;
  }

  /** Counts events the kernel reported lost. */
  noteKernelLost(count: number): void {
    this.dropped.kernel += count;
  }

  /** Returns false when the event was dropped (and counted). */
  add(e: ConnectionEvent & { timeMs: number }): boolean {
    const second = Math.floor(e.timeMs / 1000);
    // Events from several CPUs arrive slightly out of order: an older second counts against the current window.
    if (second > this.windowSecond) {
      this.windowSecond = second;
      this.inWindow = 0;
    }
    if (this.inWindow >= this.maxPerSecond) {
      this.dropped.rate++;
      return false;
    }
    this.inWindow++;

    const kind = kindOf(e);
    const inbound = kind === "tcp-in" || kind === "udp-in";
    const remotePort = inbound ? 0 : e.remotePort;
    const localPort = inbound ? e.localPort : 0;
    const key = `${kind} ${e.pid} ${e.remoteAddress} ${remotePort} ${localPort}`;
    const existing = this.records.get(key);
    if (existing) {
      existing.count++;
      if (e.kind === "connect" && e.outcome === "failed") existing.failed++;
      existing.firstSeenMs = Math.min(existing.firstSeenMs, e.timeMs);
      existing.lastSeenMs = Math.max(existing.lastSeenMs, e.timeMs);
      if (existing.startsMs.length < MAX_STARTS_PER_RECORD) existing.startsMs.push(e.timeMs);
      this.accepted++;
      return true;
    }
    if (this.records.size >= this.maxRecords) {
      this.dropped.records++;
      return false;
    }
    const info = this.o.cache.get(e.pid, e.timeMs) ?? this.fallback(e.pid, e.timeMs);
    this.records.set(key, {
      kind,
      pid: e.pid,
      ppid: info?.ppid ?? 0,
      uid: e.uid,
      comm: e.comm,
      user: info?.user ?? "",
      startedAtMs: info?.execTimeMs ?? 0,
      exe: info?.exe ?? null,
      cmdline: info ? info.cmdline : null,
      ancestry: info ? this.o.cache.ancestry(e.pid, e.timeMs, (p) => this.fallback(p, e.timeMs)) : [],
      family: e.family,
      remoteAddress: e.remoteAddress,
      remotePort,
      localPort,
      firstSeenMs: e.timeMs,
      lastSeenMs: e.timeMs,
      count: 1,
      failed: e.kind === "connect" && e.outcome === "failed" ? 1 : 0,
      startsMs: [e.timeMs],
    });
    this.accepted++;
    return true;
  }

  /** The batch so far; the aggregator starts a new one at endMs. */
  flush(endMs: number): Batch {
    const batch: Batch = { startMs: this.startMs, endMs, records: [...this.records.values()], accepted: this.accepted, dropped: this.dropped };
    this.records = new Map();
    this.dropped = { rate: 0, records: 0, kernel: 0 };
    this.accepted = 0;
    this.startMs = endMs;
    return batch;
  }

  private fallback(pid: number, nowMs: number): ProcessInfo | null {
    const info = this.o.fallback?.(pid) ?? null;
    if (info) this.o.cache.put(info, nowMs);
    return info;
  }
}

function kindOf(e: ConnectionEvent): ConnectionKind {
  if (e.kind === "connect") return "tcp-out";
  if (e.kind === "accept") return "tcp-in";
  return e.direction === "send" ? "udp-out" : "udp-in";
}
