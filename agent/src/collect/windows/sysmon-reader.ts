// Connection events on Windows: Sysmon's process-creation (1) and
// network-connection (3) events, read incrementally with
//   wevtutil qe Microsoft-Windows-Sysmon/Operational /q:"...EventRecordID>N" /f:xml
// at each batch, and folded by the same aggregator as the Linux events, so
// both platforms send the same records. The last record id read is kept in
// the state directory (written as the agent's other state files are), so a
// restart neither loses nor repeats events.

import { execFile } from "node:child_process";
import { join } from "node:path";
import { ConnectionAggregator, type Batch } from "../linux/events/connection-aggregator.js";
import type { ConnectionEvent } from "../linux/events/parse-bpftrace-line.js";
import { ProcessCache } from "../linux/events/process-cache.js";
import { readPlainFile, replaceFile } from "../../identity/safe-files.js";
import { basename } from "@oddwire/shared";
import { continueFrom, parseSysmonXml, sysmonNewestArgs, sysmonQueryArgs, SYSMON_CHANNEL, type SysmonEvent } from "./parse-sysmon.js";

export const SYSMON_BOOKMARK_FILE = "sysmon-bookmark";
/** Events asked for per wevtutil call; a busy log is read in several calls. */
const EVENTS_PER_QUERY = 2000;
/** Calls per batch at most: beyond, the rest waits for the next batch (the bookmark says where). */
const QUERIES_PER_FLUSH = 50;
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

export interface SysmonReaderOptions {
  stateDir: string;
  /** The wevtutil executable (default: `wevtutil` on PATH). */
  wevtutil?: string | undefined;
  maxEventsPerSecond?: number | undefined;
  maxRecords?: number | undefined;
  /** Said once when the bookmark is reset, or a query fails. */
  onNotice?: (message: string) => void;
}

export class SysmonReader {
  readonly cache = new ProcessCache();
  readonly aggregator: ConnectionAggregator;
  private afterRecordId = 0;
  /** Events the parser refused, since start. */
  parseErrors = 0;

  constructor(private readonly o: SysmonReaderOptions) {
    this.aggregator = new ConnectionAggregator({ cache: this.cache, maxEventsPerSecond: o.maxEventsPerSecond, maxRecords: o.maxRecords }, Date.now());
  }

  private get bookmarkPath(): string {
    return join(this.o.stateDir, SYSMON_BOOKMARK_FILE);
  }

  /**
   * Checks that Sysmon's log can be read and decides where to continue.
   * Returns null when it can, else the reason in words.
   */
  async open(): Promise<string | null> {
    let newest: string;
    try {
      newest = await this.wevtutil(sysmonNewestArgs());
    } catch (err) {
      return `Sysmon's log ${SYSMON_CHANNEL} cannot be read (${firstLine((err as Error).message)}): install Sysmon with a configuration that logs events 1 (process creation) and 3 (network connection)`;
    }
    const parsed = parseSysmonXml(newest);
    const decision = continueFrom(this.readBookmark(), parsed.lastRecordId || null);
    if (decision.reason) this.o.onNotice?.(decision.reason);
    this.afterRecordId = decision.afterRecordId;
    // A first start reads from the newest event on, not the whole history.
    if (this.afterRecordId === 0 && decision.reason === null && parsed.lastRecordId > 0) this.afterRecordId = parsed.lastRecordId;
    return null;
  }

  /** Reads what Sysmon logged since the last call and returns the batch. */
  async flush(endMs: number): Promise<Batch> {
    for (let i = 0; i < QUERIES_PER_FLUSH; i++) {
      let text: string;
      try {
        text = await this.wevtutil(sysmonQueryArgs(this.afterRecordId, EVENTS_PER_QUERY));
      } catch (err) {
        this.o.onNotice?.(`reading Sysmon's log failed: ${firstLine((err as Error).message)}`);
        break;
      }
      const parsed = parseSysmonXml(text);
      this.parseErrors += parsed.errors.length;
      for (const e of parsed.events) this.add(e);
      const read = parsed.events.length + parsed.errors.length + parsed.otherEvents;
      if (parsed.lastRecordId > this.afterRecordId) {
        this.afterRecordId = parsed.lastRecordId;
        replaceFile(this.bookmarkPath, `${this.afterRecordId}\n`);
      }
      if (read < EVENTS_PER_QUERY) break;
    }
    this.cache.expire(endMs);
    return this.aggregator.flush(endMs);
  }

  private add(e: SysmonEvent): void {
    const name = basename(e.image);
    if (e.eventId === 1) {
      this.cache.put(
        { pid: e.processId, ppid: e.parentProcessId, uid: -1, comm: name, exe: e.image, cmdline: e.commandLine, complete: true, execTimeMs: e.utcTimeMs, user: e.user },
        e.utcTimeMs,
      );
      return;
    }
    // A process that started before Sysmon's events were read: what event 3 itself says.
    if (!this.cache.get(e.processId, e.utcTimeMs)) {
      this.cache.put({ pid: e.processId, ppid: 0, uid: -1, comm: name, exe: e.image, cmdline: "", complete: false, execTimeMs: 0, user: e.user }, e.utcTimeMs);
    }
    // Sysmon's Source is this host's end in both directions.
    const base = {
      monoNs: 0n,
      pid: e.processId,
      tid: 0,
      uid: -1,
      comm: name,
      family: e.family,
      localAddress: e.sourceIp,
      localPort: e.sourcePort,
      remoteAddress: e.destinationIp,
      remotePort: e.destinationPort,
    };
    const event: ConnectionEvent =
      e.protocol === "tcp"
        ? e.initiated
          ? { ...base, kind: "connect", outcome: "established" }
          : { ...base, kind: "accept" }
        : { ...base, kind: "udp", direction: e.initiated ? "send" : "recv" };
    this.aggregator.add({ ...event, timeMs: e.utcTimeMs });
  }

  private readBookmark(): number {
    try {
      const n = Number(readPlainFile(this.bookmarkPath).toString("utf8").trim());
      return Number.isSafeInteger(n) && n >= 0 ? n : 0;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
      throw err;
    }
  }

  private wevtutil(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(this.o.wevtutil ?? "wevtutil", args, { maxBuffer: MAX_OUTPUT_BYTES, windowsHide: true, encoding: "utf8" }, (err, stdout, stderr) => {
        if (err) reject(new Error(stderr.trim() || err.message, { cause: err }));
        else resolve(stdout);
      });
    });
  }
}

function firstLine(s: string): string {
  return (s.split("\n").find((l) => l.trim() !== "") ?? s).trim().slice(0, 300);
}
