// Turns the aggregator's per-batch records into the wire's Connection
// records: transport and direction from the kind, protocol from the port
// table, the process self-contained (it may have exited long ago), tags with
// reasons from the same functions that tag sockets and processes, and a
// Beacon when the tracker says the series from this executable to this
// destination keeps a rhythm.

import { statSync } from "node:fs";
import {
  binaryName,
  describeSocket,
  type ConnectionRecord as WireConnection,
  dirname,
  endpoint,
  type KnowledgeBase,
  type OsName,
  type PortTable,
  type ProcessRecord,
  profileOf,
  TAG,
  type Tag,
  tagProcess,
  tagSocket,
} from "@oddwire/shared";
import type { RawProcess, RawSocket } from "../collect/backend.js";
import type { ConnectionRecord as EventRecord } from "../collect/linux/events/connection-aggregator.js";
import type { BeaconTracker } from "./beacon-tracker.js";

export interface ConnectionContext {
  os: OsName;
  ports: PortTable;
  kb: KnowledgeBase;
  /** uid → user name (Linux /etc/passwd); a record whose source named the user keeps that name. */
  users: ReadonlyMap<number, string>;
  /** This agent's pid: its own connections are not findings. */
  selfPid: number;
  tracker: BeaconTracker;
  /** Whether a directory is writable by every user; default: stat it (memoised per call). */
  dirWorldWritable?: (dir: string) => boolean;
}

function statWorldWritable(dir: string): boolean {
  try {
    return (statSync(dir).mode & 0o002) !== 0;
  } catch {
    return false;
  }
}

/** What the beacon tracker keys a series by: the executable (or the name) and the destination. */
export function beaconKey(r: Pick<EventRecord, "exe" | "comm" | "kind" | "remoteAddress" | "remotePort">): string {
  return `${r.exe || r.comm}\0${r.kind}\0${r.remoteAddress}\0${r.remotePort}`;
}

export function toConnectionRecords(records: readonly EventRecord[], ctx: ConnectionContext): WireConnection[] {
  const dirMemo = new Map<string, boolean>();
  const worldWritable = (dir: string) => {
    let v = dirMemo.get(dir);
    if (v === undefined) dirMemo.set(dir, (v = (ctx.dirWorldWritable ?? statWorldWritable)(dir)));
    return v;
  };

  // Beacon series first, so that every record of a series this batch sees the verdict.
  const verdicts = new Map<string, ReturnType<BeaconTracker["judge"]>>();
  const outbound = records.filter((r) => (r.kind === "tcp-out" || r.kind === "udp-out") && r.pid !== ctx.selfPid);
  for (const r of outbound) ctx.tracker.add(beaconKey(r), r.startsMs);
  for (const r of outbound) {
    const key = beaconKey(r);
    if (!verdicts.has(key)) verdicts.set(key, ctx.tracker.judge(key, endpoint(r.remoteAddress, r.remotePort)));
  }

  return records.map((r): WireConnection => {
    const transport = r.kind.startsWith("tcp") ? "tcp" : "udp";
    const direction = r.kind.endsWith("-out") ? "outbound" : "inbound";
    const protocol = ctx.ports.protocolOf(transport, direction === "outbound" ? r.remotePort : r.localPort);
    const exe = r.exe ?? "";
    const raw: RawProcess = {
      pid: r.pid,
      ppid: r.ppid,
      name: r.comm,
      exe,
      cmdline: r.cmdline ?? "",
      user: r.user || (ctx.users.get(r.uid) ?? (r.uid >= 0 ? String(r.uid) : "")),
      uid: r.uid,
      startedAtMs: r.startedAtMs,
      exeDeleted: false,
      exeReadPath: "",
    };
    const process: ProcessRecord = {
      pid: raw.pid,
      ppid: raw.ppid,
      name: raw.name,
      exe: raw.exe,
      cmdline: raw.cmdline,
      user: raw.user,
      uid: raw.uid,
      startedAtMs: raw.startedAtMs,
      sha256: "",
      hashError: "",
      exeDeleted: false,
      tags: tagProcess(raw, { dirWorldWritable: exe !== "" && worldWritable(dirname(exe)) }, ctx.kb, ctx.os),
    };
    const { profile, binary } = profileOf(process, binaryName(process), ctx.kb);
    const own = tagSocket({
      binary,
      profile,
      direction,
      protocol,
      localPort: r.localPort,
      remoteAddress: r.remoteAddress,
      cmdline: raw.cmdline,
      describe: () => describeConnection(r, transport, direction, protocol),
      isSelf: r.pid === ctx.selfPid,
      site: { knowledge: ctx.kb.site, exe, name: r.comm, transport, remotePort: r.remotePort },
    });
    const tags: Tag[] = [...own, ...process.tags];
    const record: WireConnection = {
      transport,
      direction,
      family: r.family,
      localAddress: "",
      localPort: r.localPort,
      remoteAddress: r.remoteAddress,
      remotePort: r.remotePort,
      protocol,
      firstSeenMs: r.firstSeenMs,
      lastSeenMs: r.lastSeenMs,
      count: r.count,
      failed: r.failed,
      process,
      ancestry: r.ancestry.map((a) => a.exe ?? ""),
      tags,
    };
    const verdict = direction === "outbound" ? verdicts.get(beaconKey(r)) : undefined;
    if (verdict?.beaconing) {
      record.beacon = { intervalMs: verdict.intervalMs, jitterMs: verdict.jitterMs, count: verdict.count, spanMs: verdict.spanMs };
      tags.push({ code: TAG.BEACONING, reason: `${binary} connects ${verdict.reason}` });
    }
    return record;
  });
}

/** The connection in words, as describe-socket.ts says a socket: "outbound tcp to 127.0.0.1:4444 (unknown protocol)". */
function describeConnection(r: EventRecord, transport: "tcp" | "udp", direction: "outbound" | "inbound", protocol: string): string {
  if (direction === "outbound") {
    const s: RawSocket = {
      transport,
      family: r.family,
      localAddress: "",
      localPort: 0,
      remoteAddress: r.remoteAddress,
      remotePort: r.remotePort,
      state: "",
      pid: r.pid,
      uid: r.uid,
      inode: 0,
      netns: 0,
    };
    return describeSocket(s, "outbound", protocol);
  }
  const proto = protocol === "unknown" ? "unknown protocol" : protocol;
  return `inbound ${transport} on port ${r.localPort} (${proto}) from ${r.remoteAddress}`;
}
