// Turns consecutive snapshots into batches: the first and every Nth is full;
// the others carry only processes and sockets that are new or changed, and the
// keys of those gone, so a quiet host sends a header and little else.

import type { oddwire } from "@oddwire/proto";
import type { ProcessRecord, SnapshotRecord, SocketRecord } from "@oddwire/shared";

/** What the last batch said, as key → fingerprint. */
export interface DeltaBase {
  seq: number;
  processes: Map<string, string>;
  sockets: Map<string, string>;
}

export function processKeyOf(p: ProcessRecord): string {
  return `${p.pid}|${p.startedAtMs}`;
}

/** Must match the collector's socketKey (collector/src/store/ingest.ts). */
export function socketKeyOf(s: SocketRecord): string {
  return `${s.transport}|${s.localAddress}|${s.localPort}|${s.remoteAddress}|${s.remotePort}|${s.inode}|${s.netns}`;
}

function processPrint(p: ProcessRecord): string {
  return `${p.ppid}\0${p.name}\0${p.exe}\0${p.cmdline}\0${p.user}\0${p.sha256}\0${p.exeDeleted}\0${p.tags.map((t) => t.code).join(",")}`;
}

function socketPrint(s: SocketRecord): string {
  return `${s.state}\0${s.pid}\0${s.direction}\0${s.protocol}\0${s.tags.map((t) => t.code).join(",")}`;
}

export interface BatchPlan {
  batch: oddwire.v1.IBatch;
  base: DeltaBase;
}

/**
 * The batch for `snap` numbered `seq`. Full when there is no base or `full`
 * is asked for; otherwise a delta against `base`.
 */
export function planBatch(snap: SnapshotRecord, seq: number, base: DeltaBase | null, full: boolean): BatchPlan {
  const processes = new Map<string, string>();
  const sockets = new Map<string, string>();
  const changedProcesses: ProcessRecord[] = [];
  const changedSockets: SocketRecord[] = [];
  const asDelta = base !== null && !full;
  for (const p of snap.processes) {
    const key = processKeyOf(p);
    const print = processPrint(p);
    processes.set(key, print);
    if (!asDelta || base.processes.get(key) !== print) changedProcesses.push(p);
  }
  for (const s of snap.sockets) {
    const key = socketKeyOf(s);
    const print = socketPrint(s);
    sockets.set(key, print);
    if (!asDelta || base.sockets.get(key) !== print) changedSockets.push(s);
  }
  const batch: oddwire.v1.IBatch = {
    seq,
    full: !asDelta,
    // Host facts do not change while the agent runs: full batches carry them.
    snapshot: { ...snap, processes: changedProcesses, sockets: changedSockets, facts: asDelta ? null : (snap.facts ?? null) },
  };
  if (asDelta) {
    batch.baseSeq = base.seq;
    batch.processesRemoved = [...base.processes.keys()]
      .filter((k) => !processes.has(k))
      .map((k) => {
        const [pid, started] = k.split("|");
        return { pid: Number(pid), startedAtMs: Number(started) };
      });
    const removed: oddwire.v1.ISocketKey[] = [];
    for (const k of base.sockets.keys()) {
      if (sockets.has(k)) continue;
      const [transport, localAddress, localPort, remoteAddress, remotePort, inode, netns] = k.split("|");
      removed.push({
        transport: transport!,
        localAddress: localAddress!,
        localPort: Number(localPort),
        remoteAddress: remoteAddress!,
        remotePort: Number(remotePort),
        inode: Number(inode),
        netns: Number(netns),
      });
    }
    batch.socketsRemoved = removed;
  }
  return { batch, base: { seq, processes, sockets } };
}
