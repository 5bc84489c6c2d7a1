// Connection events for the run loop: decides at start whether this host can
// record them (--events auto|on|off), runs the platform's source (bpftrace or
// a compiled sensor on Linux, Sysmon on Windows), and at each tick hands over
// the connections since the previous tick, tagged and bounded, with what the
// agent could see and what it lost.

import { readFileSync } from "node:fs";
import {
  COUNT_LIMITS,
  knowledgeBase,
  OddwireError,
  portTable,
  STRING_LIMITS,
  truncateUtf8,
  type ConnectionRecord,
  type KnowledgeBase,
  type Logger,
  type OsName,
  type PortTable,
  type Tag,
  type VisibilityRecord,
} from "@oddwire/shared";
import { DEFAULT_MAX_EVENTS_PER_SECOND, type Batch } from "../collect/linux/events/connection-aggregator.js";
import { EventRecorder } from "../collect/linux/events/event-recorder.js";
import { mountTracefs, preflight } from "../collect/linux/events/preflight.js";
import { findSensor } from "../collect/linux/events/sensor-source.js";
import { parsePasswd } from "../collect/linux/parse-proc-pid.js";
import { SysmonReader } from "../collect/windows/sysmon-reader.js";
import { BeaconTracker } from "./beacon-tracker.js";
import { toConnectionRecords } from "./connection-records.js";
import { chooseEventSource } from "./event-source.js";

export type EventsMode = "auto" | "on" | "off";
export const EVENTS_MODES: readonly EventsMode[] = ["auto", "on", "off"];

export interface ConnectionEventsOptions {
  mode: EventsMode;
  /** Events per second accepted; the rest are counted (Visibility.dropped_rate). */
  rateCap?: number;
  os: OsName;
  stateDir: string;
  log: Logger;
  ports?: PortTable;
  kb?: KnowledgeBase;
  /** `on`: how long to wait for the probes to attach before failing. */
  readyTimeoutMs?: number;
  /** Windows: the wevtutil executable. */
  wevtutil?: string;
  /** Linux: the compiled sensor's path (default agent/bpf/oddwire-sensor). */
  sensorPath?: string;
}

export interface TickConnections {
  connections: ConnectionRecord[];
  visibility: VisibilityRecord;
}

export interface ConnectionEvents {
  readonly mode: VisibilityRecord["mode"];
  /** Connections since the previous call, and the visibility so far. */
  collect(endMs: number): Promise<TickConnections>;
  stop(): Promise<void>;
}

interface Recording {
  flush(endMs: number): Promise<Batch>;
  stop(): Promise<void>;
}

export async function startConnectionEvents(o: ConnectionEventsOptions): Promise<ConnectionEvents> {
  const { log } = o;
  let reason = "";
  let recording: Recording | null = null;

  const unavailable = (missing: string[]): void => {
    reason = missing.join("; ");
    if (o.mode === "on") {
      throw new OddwireError(
        "ODW_ERR_EVENTS",
        `--events on, but connection events cannot be recorded on this host: ${reason}. Fix that, or run with --events auto (snapshots only, the reason sent to the collector) or --events off`,
      );
    }
    log.warn("events.unavailable", { reason, missing });
  };

  if (o.mode === "off") reason = "connection events are turned off (--events off)";
  else if (o.os === "linux")
    recording = await startLinux(o, unavailable, (why) => {
      // The source gave up after repeated deaths: say so and carry on with snapshots.
      reason = why;
      recording = null;
      log.warn("events.unavailable", { reason: why, missing: [why] });
    });
  else if (o.os === "windows") {
    const reader = new SysmonReader({
      stateDir: o.stateDir,
      wevtutil: o.wevtutil,
      maxEventsPerSecond: o.rateCap,
      maxRecords: COUNT_LIMITS.connections,
      onNotice: (message) => log.warn("events.sysmon_notice", { message }),
    });
    const why = await reader.open();
    if (why) unavailable([why]);
    else {
      recording = { flush: (end) => reader.flush(end), stop: async () => undefined };
      log.info("events.started", { source: "sysmon", rateCap: o.rateCap ?? DEFAULT_MAX_EVENTS_PER_SECOND });
    }
  } else unavailable([`oddwire has no connection event source for ${o.os} yet`]);

  const ports = o.ports ?? portTable();
  const kb = o.kb ?? knowledgeBase();
  const tracker = new BeaconTracker();
  const dropped = { rate: 0, records: 0, kernel: 0 };

  return {
    get mode() {
      return recording ? "events+snapshots" : "snapshots";
    },
    async collect(endMs) {
      const current = recording;
      if (!current)
        return {
          connections: [],
          visibility: { mode: "snapshots", reason, eventsAccepted: 0, droppedRate: dropped.rate, droppedRecords: dropped.records, droppedKernel: dropped.kernel },
        };
      let batch: Batch;
      try {
        batch = await current.flush(endMs);
      } catch (err) {
        // The snapshot must not be lost with the events: say what failed and send it without them.
        log.error("events.collect_failed", { code: (err as OddwireError).code, error: (err as Error).message });
        return {
          connections: [],
          visibility: {
            mode: "events+snapshots",
            reason: `this batch's connection events could not be read: ${(err as Error).message}`.slice(0, 1000),
            eventsAccepted: 0,
            droppedRate: dropped.rate,
            droppedRecords: dropped.records,
            droppedKernel: dropped.kernel,
          },
        };
      }
      const users = o.os === "linux" ? readUsers() : new Map<number, string>();
      const all = toConnectionRecords(batch.records, { os: o.os, ports, kb, users, selfPid: process.pid, tracker });
      const { connections, cutEvents } = boundConnections(all);
      dropped.rate += batch.dropped.rate;
      dropped.records += batch.dropped.records + cutEvents;
      dropped.kernel += batch.dropped.kernel;
      return {
        connections,
        visibility: {
          mode: "events+snapshots",
          reason: "",
          eventsAccepted: batch.accepted - cutEvents,
          droppedRate: dropped.rate,
          droppedRecords: dropped.records,
          droppedKernel: dropped.kernel,
        },
      };
    },
    async stop() {
      const current = recording;
      recording = null;
      await current?.stop();
    },
  };
}

async function startLinux(o: ConnectionEventsOptions, unavailable: (missing: string[]) => void, gaveUp: (why: string) => void): Promise<Recording | null> {
  // The compiled sensor when it is built or shipped (no tracefs, a few MB);
  // else bpftrace (tracefs, root, about 100 MB).
  const sensorPath = o.sensorPath ?? findSensor();
  const route = sensorPath ? "sensor" : "bpftrace";
  let p = preflight(route);
  if (p.mountTracefs) {
    try {
      mountTracefs();
      o.log.info("events.tracefs_mounted", { path: "/sys/kernel/tracing" });
    } catch (err) {
      unavailable([`tracefs is not mounted and mounting it on /sys/kernel/tracing failed: ${((err as { stderr?: Buffer }).stderr?.toString() || (err as Error).message).trim()}`]);
      return null;
    }
    p = preflight(route);
  }
  if (!p.ok) {
    unavailable(p.missing);
    return null;
  }
  const choice = chooseEventSource(p.facts.bpftracePath ?? "bpftrace", sensorPath);
  let readyOrDead: (outcome: string | null) => void = () => undefined;
  const attached = new Promise<string | null>((resolve) => (readyOrDead = resolve));
  const recorder = new EventRecorder({
    maxEventsPerSecond: o.rateCap,
    maxRecords: COUNT_LIMITS.connections,
    createSource: choice.create,
    onStatus: (s) => {
      if (s.state !== "exited") return;
      const said = s.stderr ? `: ${s.stderr.split("\n").slice(-3).join(" / ").slice(0, 600)}` : "";
      const why = `${choice.path} exited (${s.signal ?? `code ${s.code}`})${said}`;
      readyOrDead(why);
      if (s.restartInMs === null) gaveUp(`${why}; it was restarted until it kept failing, so this host is on snapshots only until the agent restarts`);
      else o.log.warn("events.source_exited", { source: choice.kind, code: s.code, signal: s.signal, stderr: s.stderr.slice(0, 1000), restartInMs: s.restartInMs });
    },
  });
  recorder.start();
  void recorder.ready().then(() => {
    readyOrDead(null);
    o.log.info("events.started", { source: choice.kind, path: choice.path, pid: recorder.source.pid, rateCap: o.rateCap ?? DEFAULT_MAX_EVENTS_PER_SECOND });
  });
  if (o.mode === "on") {
    const timeoutMs = o.readyTimeoutMs ?? 180_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      attached,
      new Promise<string>((r) => (timer = setTimeout(() => r(`${choice.path} did not attach its probes within ${timeoutMs / 1000} s`), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome !== null) {
      await recorder.stop();
      throw new OddwireError("ODW_ERR_EVENTS", `--events on, but the event source failed to start: ${outcome}. Run it by hand to see why, or use --events auto`);
    }
  }
  return { flush: async (end) => recorder.flush(end), stop: () => recorder.stop() };
}

function readUsers(): Map<number, string> {
  try {
    return parsePasswd(readFileSync("/etc/passwd", "utf8"));
  } catch {
    return new Map();
  }
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** `s` cut to its field's wire bound, lone surrogates (no UTF-8 form) replaced. */
export function cutText(s: string, field: keyof typeof STRING_LIMITS): string {
  return truncateUtf8(s.replace(LONE_SURROGATE, "\uFFFD"), STRING_LIMITS[field]);
}

/**
 * Cuts connection records to the wire limits: at most COUNT_LIMITS.connections
 * records (the rest counted, by the events they held), every string to its bound
 * (names, command lines and paths are the process's own: attacker-controlled).
 */
export function boundConnections(all: readonly ConnectionRecord[]): { connections: ConnectionRecord[]; cutEvents: number } {
  // One process's strings repeat on each of its records (a scanner: thousands of destinations); cut each once.
  const memo = new Map<string, string>();
  const text = (v: string, field: keyof typeof STRING_LIMITS): string => {
    if (v.length < 64) return cutText(v, field);
    const key = `${field}\0${v}`;
    let out = memo.get(key);
    if (out === undefined) memo.set(key, (out = cutText(v, field)));
    return out;
  };
  const tags = (list: Tag[]): Tag[] => list.slice(0, COUNT_LIMITS.connection_tags).map((t) => ({ code: text(t.code, "code"), reason: text(t.reason, "reason") }));
  const kept = all.slice(0, COUNT_LIMITS.connections);
  let cutEvents = 0;
  for (const c of all.slice(COUNT_LIMITS.connections)) cutEvents += c.count;
  const connections = kept.map((c) => ({
    ...c,
    localAddress: text(c.localAddress, "local_address"),
    remoteAddress: text(c.remoteAddress, "remote_address"),
    protocol: text(c.protocol, "protocol"),
    process: {
      ...c.process,
      name: text(c.process.name, "name"),
      exe: text(c.process.exe, "exe"),
      cmdline: text(c.process.cmdline, "cmdline"),
      user: text(c.process.user, "user"),
      tags: tags(c.process.tags),
    },
    ancestry: c.ancestry.slice(0, COUNT_LIMITS.ancestry).map((a) => text(a, "exe")),
    tags: tags(c.tags),
  }));
  return { connections, cutEvents };
}
