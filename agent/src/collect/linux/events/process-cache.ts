// A short-lived memory of processes seen at exec, so that a process which
// connects and exits at once can still be named when its connection is
// recorded. Pure: the caller reads /proc at exec time (exec-details.ts) and
// passes what it found. Bounded in entries; entries expire after ttlMs
// without use.

import type { ExecEvent } from "./parse-bpftrace-line.js";

export interface ProcessInfo {
  pid: number;
  ppid: number;
  uid: number;
  comm: string;
  /** The executable: /proc/<pid>/exe read at exec time, else the path given to execve. */
  exe: string;
  /** argv joined with spaces, from /proc/<pid>/cmdline at exec time; "" when the process was already gone. */
  cmdline: string;
  /** true when exe and cmdline were read from /proc, false when only the event's own fields were known. */
  complete: boolean;
  /** When the process exec'd (or started, for one read from /proc). */
  execTimeMs: number;
  /** User name where the source gives one (Sysmon); absent on Linux, where the uid is mapped later. */
  user?: string;
}

/** What exec-details.ts read from /proc right after the exec; null fields when the process had gone. */
export interface ExecDetails {
  exe: string | null;
  cmdline: string | null;
}

export interface ProcessCacheOptions {
  maxEntries?: number;
  ttlMs?: number;
  /** Depth of the parent chain kept on a record. */
  maxChain?: number;
}

export class ProcessCache {
  /** Insertion order is use order: the first key is the least recently used. */
  private readonly entries = new Map<number, { info: ProcessInfo; usedMs: number }>();
  private readonly maxEntries: number;
  private readonly ttlMs: number;
  private readonly maxChain: number;
  /** Entries pushed out by the size bound (not by expiry): a sign the bound is too small. */
  evicted = 0;

  constructor(o: ProcessCacheOptions = {}) {
    this.maxEntries = o.maxEntries ?? 4096;
    this.ttlMs = o.ttlMs ?? 5 * 60_000;
    this.maxChain = o.maxChain ?? 8;
    if (!(this.maxEntries > 0) || !(this.ttlMs > 0) || !(this.maxChain >= 0)) throw new RangeError("ProcessCache: maxEntries and ttlMs must be positive, maxChain not negative");
  }

  get size(): number {
    return this.entries.size;
  }

  recordExec(e: ExecEvent & { timeMs: number }, details: ExecDetails): ProcessInfo {
    const info: ProcessInfo = {
      pid: e.pid,
      ppid: e.ppid,
      uid: e.uid,
      comm: e.comm,
      exe: details.exe ?? e.filename,
      // /proc's full command line when the process was still there; else the
      // first bytes of argv the sensor read at exec.
      cmdline: details.cmdline ?? e.args ?? "",
      complete: details.exe !== null && details.cmdline !== null,
      execTimeMs: e.timeMs,
    };
    this.put(info, e.timeMs);
    return info;
  }

  /** Adds a process known some other way (a /proc read for a process that exec'd before we started). */
  put(info: ProcessInfo, nowMs: number): void {
    this.entries.delete(info.pid);
    this.entries.set(info.pid, { info, usedMs: nowMs });
    this.expire(nowMs);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
      this.evicted++;
    }
  }

  get(pid: number, nowMs: number): ProcessInfo | null {
    const entry = this.entries.get(pid);
    if (!entry) return null;
    if (nowMs - entry.usedMs > this.ttlMs) {
      this.entries.delete(pid);
      return null;
    }
    entry.usedMs = Math.max(entry.usedMs, nowMs);
    this.entries.delete(pid);
    this.entries.set(pid, entry);
    return entry.info;
  }

  /** Parent, grandparent... as far as the cache knows them, nearest first; stops at pid 1, a loop or maxChain. */
  ancestry(pid: number, nowMs: number, lookup?: (pid: number) => ProcessInfo | null): Array<{ pid: number; exe: string | null }> {
    const chain: Array<{ pid: number; exe: string | null }> = [];
    const seen = new Set<number>([pid]);
    let ppid = this.get(pid, nowMs)?.ppid ?? 0;
    while (ppid > 0 && chain.length < this.maxChain && !seen.has(ppid)) {
      seen.add(ppid);
      // A parent that exec'd before the tracer started is not cached: ask the caller (a /proc read).
      const parent = this.get(ppid, nowMs) ?? lookup?.(ppid) ?? null;
      chain.push({ pid: ppid, exe: parent?.exe ?? null });
      if (!parent || ppid === 1) break;
      ppid = parent.ppid;
    }
    return chain;
  }

  /** Drops entries unused for longer than ttlMs. The map is in use order, so it stops at the first live one. */
  expire(nowMs: number): void {
    for (const [pid, entry] of this.entries) {
      if (nowMs - entry.usedMs <= this.ttlMs) break;
      this.entries.delete(pid);
    }
  }
}
