// Applies batches to the store: several batches (from any number of hosts) in
// one transaction, so a flush of many agents costs one commit. A batch whose
// seq is at or below the host's last applied seq is a replay (lost ack,
// reconnect after a crash) and changes nothing. A batch must follow the
// host's last one (seq + 1) unless the agent's count of dropped batches grew
// by the gap; anything else is a sequence jump and is not applied (a forged
// seq of 2^53-1 would otherwise make every later batch of the real agent a
// "duplicate"). A host's very first batch may start anywhere: an agent
// whose collector lost its database carries on with the seqs it has. A delta whose base is not the
// last applied batch is still applied, and the host is asked for a full
// snapshot (resync).

import { binaryKey } from "@oddwire/shared";
import type { oddwire } from "@oddwire/proto";
import type { Db } from "./open-db.js";

type Batch = oddwire.v1.IBatch;
type Snapshot = oddwire.v1.ISnapshot;
type Socket = oddwire.v1.ISocket;
type Process = oddwire.v1.IProcess;

export interface IngestItem {
  hostId: string;
  batch: Batch;
  /** Size on the wire, for the batch log. */
  bytes: number;
}

export interface IngestResult {
  seq: number;
  /** rejected: the host is unknown or revoked; failed: this batch could not be stored (the others were); jump: its seq skips ahead unaccounted; none of these is acked. */
  status: "applied" | "duplicate" | "rejected" | "failed" | "jump";
  /** For a jump: the seq the host's next batch must have (or the dropped count that would explain the gap). */
  expected?: number;
  resync: boolean;
  error?: string;
}

const num = (v: number | Long | null | undefined): number => (v == null ? 0 : Number(v));
type Long = { toNumber(): number };

export function socketKey(s: Socket): string {
  return `${s.transport ?? ""}|${s.localAddress ?? ""}|${s.localPort ?? 0}|${s.remoteAddress ?? ""}|${s.remotePort ?? 0}|${num(s.inode)}|${num(s.netns)}`;
}

export class Ingester {
  private readonly stmts;

  constructor(private readonly db: Db) {
    this.stmts = {
      host: db.prepare<[string], { last_seq: number; revoked_at: number | null; dropped_batches: number; first_seen: number | null }>(
        "SELECT last_seq, revoked_at, dropped_batches, first_seen FROM hosts WHERE host_id = ?",
      ),
      clearProcesses: db.prepare("DELETE FROM processes WHERE host_id = ?"),
      clearSockets: db.prepare("DELETE FROM sockets WHERE host_id = ?"),
      existingSockets: db.prepare<[string], { skey: string }>("SELECT skey FROM sockets WHERE host_id = ?").pluck(),
      socketExists: db.prepare<[string, string], number>("SELECT 1 FROM sockets WHERE host_id = ? AND skey = ?").pluck(),
      upsertProcess: db.prepare(`INSERT OR REPLACE INTO processes
        (host_id, pid, started_at, ppid, name, exe, binary, cmdline, user, uid, sha256, exe_deleted, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteProcess: db.prepare("DELETE FROM processes WHERE host_id = ? AND pid = ? AND started_at = ?"),
      ownerInDb: db.prepare<[string, number], { exe: string; name: string; sha256: string; binary: string }>(
        "SELECT exe, name, sha256, binary FROM processes WHERE host_id = ? AND pid = ? ORDER BY started_at DESC LIMIT 1",
      ),
      upsertSocket: db.prepare(`INSERT OR REPLACE INTO sockets
        (host_id, skey, transport, family, local_address, local_port, remote_address, remote_port, state, pid, uid, inode, netns, protocol, direction, tags)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteSocket: db.prepare("DELETE FROM sockets WHERE host_id = ? AND skey = ?"),
      upsertBinary: db.prepare(`INSERT INTO host_binaries (host_id, binary, binary_name, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (host_id, binary) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)`),
      upsertObservation: db.prepare(`INSERT INTO observations
        (host_id, binary, protocol, transport, direction, port, binary_name, exe, sha256, first_seen, last_seen, count, tags, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (host_id, binary, protocol, transport, direction, port) DO UPDATE SET
          last_seen = max(last_seen, excluded.last_seen),
          received_at = max(received_at, excluded.received_at),
          first_seen = min(first_seen, excluded.first_seen),
          count = count + excluded.count,
          exe = excluded.exe, sha256 = excluded.sha256, binary_name = excluded.binary_name,
          tags = CASE WHEN excluded.tags = '[]' THEN tags ELSE excluded.tags END`),
      updateHost: db.prepare(`UPDATE hosts SET
          hostname = @hostname, os = @os, os_version = @osVersion, agent_version = @agentVersion,
          first_seen = coalesce(first_seen, @now), last_seen = @now,
          last_snapshot_at = max(coalesce(last_snapshot_at, 0), @takenAt), last_seq = @seq,
          dropped_batches = max(dropped_batches, @dropped)
        WHERE host_id = @hostId`),
      updateFacts: db.prepare(`UPDATE hosts SET distro = @distro, os_release = @release, kernel = @kernel, virtualization = @virtualization,
          hardware_vendor = @hardwareVendor, hardware_model = @hardwareModel WHERE host_id = @hostId`),
      logBatch: db.prepare("INSERT INTO batches (host_id, seq, received_at, taken_at, full, processes, sockets, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
      touchHost: db.prepare("UPDATE hosts SET last_seen = ? WHERE host_id = ?"),
    };
  }

  /** Applies every item in one transaction; throws (nothing applied) if the database fails. */
  apply(items: readonly IngestItem[], now: number): IngestResult[] {
    // Each batch in a savepoint of its own: one that fails rolls back alone.
    const one = this.db.transaction((item: IngestItem) => this.applyOne(item, now));
    return this.db.transaction(() =>
      items.map((item): IngestResult => {
        try {
          return one(item);
        } catch (err) {
          return { seq: num(item.batch.seq), status: "failed", resync: false, error: (err as Error).message };
        }
      }),
    )();
  }

  private applyOne({ hostId, batch, bytes }: IngestItem, now: number): IngestResult {
    const s = this.stmts;
    const seq = num(batch.seq);
    const host = s.host.get(hostId);
    if (!host || host.revoked_at != null) return { seq, status: "rejected", resync: false };
    if (seq <= host.last_seq) {
      s.touchHost.run(now, hostId);
      return { seq, status: "duplicate", resync: false };
    }
    const gap = seq - host.last_seq - 1;
    const firstEver = host.last_seq === 0 && host.first_seen == null;
    const dropped = num(batch.droppedBatches);
    // A count lower than the one stored was reset (the agent lost its spool state): it counts from 0 again.
    const droppedBefore = dropped >= host.dropped_batches ? host.dropped_batches : 0;
    if (gap > 0 && !firstEver && dropped - droppedBefore < gap) {
      return { seq, status: "jump", resync: false, expected: host.last_seq + 1 };
    }
    const snap: Snapshot = batch.snapshot ?? {};
    const os = snap.os ?? "";
    const takenAt = num(snap.takenAtMs) || now;
    const full = batch.full === true;
    const resync = !full && num(batch.baseSeq) !== host.last_seq;

    // Sockets already in the host's state: a socket counts toward its observation once, when new.
    // A full batch replaces the state, so it reads all of it first; a delta
    // looks up only its own sockets, so that a small delta of a host with a
    // large state costs little inside a transaction shared with other hosts.
    const known = full ? new Set<string>(s.existingSockets.all(hostId) as unknown as string[]) : null;
    if (full) {
      s.clearProcesses.run(hostId);
      s.clearSockets.run(hostId);
    } else {
      for (const k of batch.processesRemoved ?? []) s.deleteProcess.run(hostId, num(k.pid), num(k.startedAtMs));
      for (const k of batch.socketsRemoved ?? []) s.deleteSocket.run(hostId, socketKey(k));
    }

    const owners = new Map<number, { exe: string; name: string; sha256: string; binary: string }>();
    const binaries = new Map<string, string>();
    for (const p of snap.processes ?? []) {
      const exe = p.exe ?? "";
      const name = p.name ?? "";
      const binary = binaryKey(exe, name, os);
      owners.set(num(p.pid), { exe, name, sha256: p.sha256 ?? "", binary });
      s.upsertProcess.run(hostId, num(p.pid), num(p.startedAtMs), num(p.ppid), name, exe, binary, p.cmdline ?? "", p.user ?? "", uidOrNull(p.uid), p.sha256 ?? "", p.exeDeleted ? 1 : 0, tagsJson(p));
      if (!binaries.has(binary)) binaries.set(binary, displayName(exe, name));
    }
    for (const [binary, shown] of binaries) s.upsertBinary.run(hostId, binary, shown, takenAt, takenAt);

    // Observations: one per (binary, protocol, transport, direction, port); count
    // grows by the sockets not already in the host's state.
    const obs = new Map<string, { o: unknown[]; count: number }>();
    for (const k of snap.sockets ?? []) {
      const key = socketKey(k);
      const isNew = known ? !known.has(key) : s.socketExists.get(hostId, key) === undefined;
      const pid = num(k.pid);
      s.upsertSocket.run(hostId, key, k.transport ?? "", num(k.family), k.localAddress ?? "", num(k.localPort), k.remoteAddress ?? "", num(k.remotePort), k.state ?? "", pid, uidOrNull(k.uid), num(k.inode), num(k.netns), k.protocol ?? "", k.direction ?? "", tagsJson(k));
      if (!pid) continue;
      let owner = owners.get(pid);
      if (!owner) {
        owner = s.ownerInDb.get(hostId, pid);
        if (!owner) continue;
        owners.set(pid, owner);
      }
      const direction = k.direction ?? "";
      const port = direction === "outbound" ? num(k.remotePort) : num(k.localPort);
      const okey = `${owner.binary}\0${k.protocol}\0${k.transport}\0${direction}\0${port}`;
      const entry = obs.get(okey);
      if (entry) entry.count += isNew ? 1 : 0;
      else obs.set(okey, { o: [hostId, owner.binary, k.protocol ?? "", k.transport ?? "", direction, port, displayName(owner.exe, owner.name), owner.exe, owner.sha256, takenAt, takenAt], count: isNew ? 1 : 0 });
      if (k.tags?.length) obs.get(okey)!.o[13] = tagsJson(k);
    }
    for (const { o, count } of obs.values()) s.upsertObservation.run(...o.slice(0, 11), count, (o[13] as string | undefined) ?? "[]", now);

    s.updateHost.run({
      hostId,
      hostname: (snap.hostname ?? "").slice(0, 255),
      os: os.slice(0, 32),
      osVersion: (snap.osVersion ?? "").slice(0, 255),
      agentVersion: (snap.agentVersion ?? "").slice(0, 64),
      now,
      takenAt,
      seq,
      dropped: num(batch.droppedBatches),
    });
    if (snap.facts) {
      const f = snap.facts;
      const cut = (v: string | null | undefined) => (v ?? "").slice(0, 255);
      s.updateFacts.run({ hostId, distro: cut(f.distro), release: cut(f.release), kernel: cut(f.kernel), virtualization: cut(f.virtualization), hardwareVendor: cut(f.hardwareVendor), hardwareModel: cut(f.hardwareModel) });
    }
    s.logBatch.run(hostId, seq, now, takenAt, full ? 1 : 0, snap.processes?.length ?? 0, snap.sockets?.length ?? 0, bytes);
    return { seq, status: "applied", resync };
  }
}

/** The agent's "unknown uid" (-1) crosses the wire as a uint32: 4294967295. Stored as NULL. */
export const UNKNOWN_UID = 0xffffffff;

function uidOrNull(uid: number | null | undefined): number | null {
  const n = num(uid);
  return n === UNKNOWN_UID ? null : n;
}

function tagsJson(x: Process | Socket): string {
  return JSON.stringify((x.tags ?? []).map((t) => ({ code: t.code ?? "", reason: t.reason ?? "" })));
}

function displayName(exe: string, name: string): string {
  if (!exe) return name;
  const i = Math.max(exe.lastIndexOf("/"), exe.lastIndexOf("\\"));
  return exe.slice(i + 1);
}
