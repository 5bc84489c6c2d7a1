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
//
// Connection records (events: connections seen as they were made) are per
// batch, not host state: full and delta batches alike add them to the
// host's recent connections (at most maxConnectionRowsPerHost rows, the
// oldest dropped first; retention prunes them by receive time) and feed the
// same observations as sockets, so a two-second connection counts like a
// socket. The binary is the connection's own process's, normalised as for
// processes.

import { binaryKey, type KnowledgeBase } from "@oddwire/shared";
import type { oddwire } from "@oddwire/proto";
import type { Db } from "./open-db.js";
import { storeFlows } from "./flows.js";
import { needsRejudging, rejudgeBatch, type StoredOwner } from "./rejudge-store.js";

type Batch = oddwire.v1.IBatch;
type Snapshot = oddwire.v1.ISnapshot;
type Socket = oddwire.v1.ISocket;
type Connection = oddwire.v1.IConnection;
type Tag = oddwire.v1.ITag;

/** Recent connection rows kept per host by default (the oldest go first). */
export const DEFAULT_CONNECTION_ROWS_PER_HOST = 100_000;

export interface IngesterOptions {
  /** Recent connection rows kept per host; past it (plus a tenth, so trimming is rare) the oldest are deleted. */
  maxConnectionRowsPerHost?: number;
  /** The collector's knowledge: a batch judged by other knowledge (its snapshot's knowledge_version differs) is judged again with it before it is stored. */
  kb?: KnowledgeBase | undefined;
}

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
  private readonly maxConnectionRows: number;
  private readonly kb: KnowledgeBase | undefined;

  constructor(
    private readonly db: Db,
    opts: IngesterOptions = {},
  ) {
    this.maxConnectionRows = opts.maxConnectionRowsPerHost ?? DEFAULT_CONNECTION_ROWS_PER_HOST;
    this.kb = opts.kb;
    this.stmts = {
      host: db.prepare<[string], { last_seq: number; revoked_at: number | null; dropped_batches: number; first_seen: number | null }>(
        "SELECT last_seq, revoked_at, dropped_batches, first_seen FROM hosts WHERE host_id = ?",
      ),
      clearProcesses: db.prepare("DELETE FROM processes WHERE host_id = ?"),
      clearSockets: db.prepare("DELETE FROM sockets WHERE host_id = ?"),
      existingSockets: db.prepare<[string], { skey: string }>("SELECT skey FROM sockets WHERE host_id = ?").pluck(),
      socketExists: db.prepare<[string, string], number>("SELECT 1 FROM sockets WHERE host_id = ? AND skey = ?").pluck(),
      upsertProcess: db.prepare(`INSERT OR REPLACE INTO processes
        (host_id, pid, started_at, ppid, name, exe, binary, cmdline, user, uid, sha256, exe_deleted, tags, package, package_source, exe_since)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      ownerFacts: db.prepare<
        [string, number],
        { name: string; exe: string; cmdline: string; exe_deleted: number; tags: string; package: string; package_source: string; exe_since: number }
      >("SELECT name, exe, cmdline, exe_deleted, tags, package, package_source, exe_since FROM processes WHERE host_id = ? AND pid = ? ORDER BY started_at DESC LIMIT 1"),
      deleteProcess: db.prepare("DELETE FROM processes WHERE host_id = ? AND pid = ? AND started_at = ?"),
      ownerInDb: db.prepare<[string, number], { exe: string; name: string; sha256: string; binary: string }>(
        "SELECT exe, name, sha256, binary FROM processes WHERE host_id = ? AND pid = ? ORDER BY started_at DESC LIMIT 1",
      ),
      upsertSocket: db.prepare(`INSERT OR REPLACE INTO sockets
        (host_id, skey, transport, family, local_address, local_port, remote_address, remote_port, state, pid, uid, inode, netns, protocol, direction, tags, raw_protocol, community_id)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertConnection: db.prepare(`INSERT INTO connections
        (host_id, binary, pid, started_at, name, exe, cmdline, user, sha256, ancestry, transport, direction, family, local_address, local_port,
         remote_address, remote_port, protocol, port, first_seen, last_seen, count, failed, tags,
         beacon_interval_ms, beacon_jitter_ms, beacon_count, beacon_span_ms, seq, received_at, community_id, wire_protocol)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      addConnectionRows: db.prepare<[number, string], number>("UPDATE hosts SET connection_rows = connection_rows + ? WHERE host_id = ? RETURNING connection_rows").pluck(),
      trimConnections: db.prepare(`DELETE FROM connections WHERE host_id = ? AND id <
        (SELECT id FROM connections WHERE host_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`),
      countConnectionRows: db.prepare("UPDATE hosts SET connection_rows = (SELECT COUNT(*) FROM connections WHERE host_id = ?) WHERE host_id = ?"),
      updateVisibility: db.prepare(`UPDATE hosts SET visibility_mode = @mode, visibility_reason = @reason, events_accepted = events_accepted + @accepted,
          dropped_rate = @rate, dropped_records = @records, dropped_kernel = @kernel, visibility_at = @now WHERE host_id = @hostId`),
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
          dropped_batches = max(dropped_batches, @dropped),
          knowledge_version = @knowledgeVersion, judged_version = @judgedVersion
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
    const sent: Snapshot = batch.snapshot ?? {};
    const knowledgeVersion = (sent.knowledgeVersion ?? "").slice(0, 64);
    const rejudge = needsRejudging(knowledgeVersion, this.kb);
    const snap: Snapshot = rejudge ? rejudgeBatch(sent, this.kb!, (pid) => this.storedOwner(hostId, pid)) : sent;
    const judgedVersion = rejudge ? this.kb!.version : knowledgeVersion;
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
      s.upsertProcess.run(
        hostId,
        num(p.pid),
        num(p.startedAtMs),
        num(p.ppid),
        name,
        exe,
        binary,
        p.cmdline ?? "",
        p.user ?? "",
        uidOrNull(p.uid),
        p.sha256 ?? "",
        p.exeDeleted ? 1 : 0,
        tagsJson(p.tags),
        (p.package ?? "").slice(0, 256),
        (p.packageSource ?? "").slice(0, 16),
        num(p.exeSinceMs),
      );
      if (!binaries.has(binary)) binaries.set(binary, displayName(exe, name));
    }
    const connections = snap.connections ?? [];
    // The process of a connection ran on this host, however briefly: it counts in rarity's denominator.
    // A record whose process is unknown (no exe, no name) is kept but observes nothing, as a socket without an owner.
    const connBinaries = connections.map((c) => (c.process?.exe || c.process?.name ? binaryKey(c.process.exe ?? "", c.process.name ?? "", os) : ""));
    connections.forEach((c, i) => {
      const binary = connBinaries[i]!;
      if (binary && !binaries.has(binary)) binaries.set(binary, displayName(c.process?.exe ?? "", c.process?.name ?? ""));
    });
    for (const [binary, shown] of binaries) s.upsertBinary.run(hostId, binary, shown, takenAt, takenAt);

    // Observations: one per (binary, protocol, transport, direction, port); count
    // grows by the sockets not already in the host's state, and by every connection record's count.
    const obs = new Map<string, Obs>();
    const observe = (
      binary: string,
      exe: string,
      name: string,
      sha256: string,
      protocol: string,
      transport: string,
      direction: string,
      port: number,
      first: number,
      last: number,
      count: number,
      tags: string,
    ) => {
      const okey = `${binary}\0${protocol}\0${transport}\0${direction}\0${port}`;
      const entry = obs.get(okey);
      if (entry) {
        entry.count += count;
        entry.first = Math.min(entry.first, first);
        entry.last = Math.max(entry.last, last);
        if (tags !== "[]") entry.tags = tags;
      } else obs.set(okey, { o: [hostId, binary, protocol, transport, direction, port, displayName(exe, name), exe, sha256], first, last, count, tags });
    };
    for (const k of snap.sockets ?? []) {
      const key = socketKey(k);
      const isNew = known ? !known.has(key) : s.socketExists.get(hostId, key) === undefined;
      const pid = num(k.pid);
      s.upsertSocket.run(
        hostId,
        key,
        k.transport ?? "",
        num(k.family),
        k.localAddress ?? "",
        num(k.localPort),
        k.remoteAddress ?? "",
        num(k.remotePort),
        k.state ?? "",
        pid,
        uidOrNull(k.uid),
        num(k.inode),
        num(k.netns),
        k.protocol ?? "",
        k.direction ?? "",
        tagsJson(k.tags),
        num(k.rawProtocol),
        k.communityId ?? "",
      );
      if (!pid) continue;
      let owner = owners.get(pid);
      if (!owner) {
        owner = s.ownerInDb.get(hostId, pid);
        if (!owner) continue;
        owners.set(pid, owner);
      }
      const direction = k.direction ?? "";
      const port = direction === "outbound" ? num(k.remotePort) : num(k.localPort);
      observe(owner.binary, owner.exe, owner.name, owner.sha256, k.protocol ?? "", k.transport ?? "", direction, port, takenAt, takenAt, isNew ? 1 : 0, tagsJson(k.tags));
    }
    connections.forEach((c, i) => {
      const p = c.process ?? {};
      const binary = connBinaries[i]!;
      const direction = c.direction ?? "";
      const port = direction === "outbound" ? num(c.remotePort) : num(c.localPort);
      const first = num(c.firstSeenMs) || takenAt;
      const last = Math.max(num(c.lastSeenMs) || takenAt, first);
      const count = Math.max(1, num(c.count));
      const tags = tagsJson(connectionTags(c));
      const b = c.beacon;
      const beacon = b && num(b.intervalMs) > 0 ? [num(b.intervalMs), num(b.jitterMs), num(b.count), num(b.spanMs)] : [null, null, null, null];
      s.insertConnection.run(
        hostId,
        binary,
        num(p.pid),
        num(p.startedAtMs),
        p.name ?? "",
        p.exe ?? "",
        p.cmdline ?? "",
        p.user ?? "",
        p.sha256 ?? "",
        JSON.stringify(c.ancestry ?? []),
        c.transport ?? "",
        direction,
        num(c.family),
        c.localAddress ?? "",
        num(c.localPort),
        c.remoteAddress ?? "",
        num(c.remotePort),
        c.protocol ?? "",
        port,
        first,
        last,
        count,
        num(c.failed),
        tags,
        ...beacon,
        seq,
        now,
        c.communityId ?? "",
        c.wire?.wireProtocol ?? "",
      );
      if (binary) observe(binary, p.exe ?? "", p.name ?? "", p.sha256 ?? "", c.protocol ?? "", c.transport ?? "", direction, port, first, last, count, tags);
    });
    // Classified flows joined to a process observe as its sockets do: by the port's protocol, with the wire's tags.
    for (const f of storeFlows(this.db, hostId, os, seq, now, snap.flows ?? []))
      observe(f.binary, f.exe, f.name, f.sha256, f.protocol, f.transport, f.direction, f.port, f.first, f.last, 1, f.tags);
    for (const e of obs.values()) s.upsertObservation.run(...e.o, e.first, e.last, e.count, e.tags, now);
    if (connections.length > 0) this.boundConnectionRows(hostId, connections.length);

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
      knowledgeVersion,
      judgedVersion,
    });
    if (snap.dpi) {
      const d = snap.dpi;
      this.db
        .prepare("UPDATE hosts SET dpi_mode = ?, dpi_reason = ?, dpi_unclassified = ? WHERE host_id = ?")
        .run((d.mode ?? "").slice(0, 16), (d.reason ?? "").slice(0, 1000), num(d.unclassifiedRate) + num(d.unclassifiedWindow), hostId);
    }
    if (snap.facts) {
      const f = snap.facts;
      const cut = (v: string | null | undefined) => (v ?? "").slice(0, 255);
      s.updateFacts.run({
        hostId,
        distro: cut(f.distro),
        release: cut(f.release),
        kernel: cut(f.kernel),
        virtualization: cut(f.virtualization),
        hardwareVendor: cut(f.hardwareVendor),
        hardwareModel: cut(f.hardwareModel),
      });
    }
    if (snap.visibility) {
      const v = snap.visibility;
      s.updateVisibility.run({
        hostId,
        mode: (v.mode ?? "").slice(0, 32),
        reason: (v.reason ?? "").slice(0, 1024),
        accepted: num(v.eventsAccepted),
        rate: num(v.droppedRate),
        records: num(v.droppedRecords),
        kernel: num(v.droppedKernel),
        now,
      });
    }
    s.logBatch.run(hostId, seq, now, takenAt, full ? 1 : 0, snap.processes?.length ?? 0, snap.sockets?.length ?? 0, bytes);
    return { seq, status: "applied", resync };
  }

  /** A delta's socket whose process is not in the delta: the stored one, for judging it again. */
  private storedOwner(hostId: string, pid: number): StoredOwner | undefined {
    const row = this.stmts.ownerFacts.get(hostId, pid);
    if (!row) return undefined;
    let tags: StoredOwner["tags"] = [];
    try {
      tags = JSON.parse(row.tags) as StoredOwner["tags"];
    } catch {
      // a malformed stored value counts as no tags
    }
    const packaged = { package: row.package, packageSource: row.package_source, exeSinceMs: row.exe_since, nowMs: Date.now() };
    return { name: row.name, exe: row.exe, cmdline: row.cmdline, exeDeleted: row.exe_deleted === 1, tags, packaged };
  }

  /** Keeps the host's newest maxConnectionRows connection rows; trims only once it is a tenth over, so most batches pay one UPDATE. */
  private boundConnectionRows(hostId: string, added: number): void {
    const s = this.stmts;
    const rows = s.addConnectionRows.get(added, hostId) ?? 0;
    if (rows <= this.maxConnectionRows + Math.floor(this.maxConnectionRows / 10)) return;
    s.trimConnections.run(hostId, hostId, this.maxConnectionRows - 1);
    s.countConnectionRows.run(hostId, hostId);
  }
}

interface Obs {
  /** host_id, binary, protocol, transport, direction, port, binary_name, exe, sha256 */
  o: unknown[];
  first: number;
  last: number;
  count: number;
  tags: string;
}

/** A connection's own tags, then its process's (an exited process's tags travel with its connection), each code once. */
function connectionTags(c: Connection): Tag[] {
  const out: Tag[] = [];
  for (const t of [...(c.tags ?? []), ...(c.process?.tags ?? [])]) if (!out.some((x) => x.code === t.code)) out.push(t);
  return out;
}

/** The agent's "unknown uid" (-1) crosses the wire as a uint32: 4294967295. Stored as NULL. */
export const UNKNOWN_UID = 0xffffffff;

function uidOrNull(uid: number | null | undefined): number | null {
  const n = num(uid);
  return n === UNKNOWN_UID ? null : n;
}

function tagsJson(tags: readonly Tag[] | null | undefined): string {
  return JSON.stringify((tags ?? []).map((t) => ({ code: t.code ?? "", reason: t.reason ?? "" })));
}

function displayName(exe: string, name: string): string {
  if (!exe) return name;
  const i = Math.max(exe.lastIndexOf("/"), exe.lastIndexOf("\\"));
  return exe.slice(i + 1);
}
