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
import { insertMany, selectIn } from "./many-rows.js";
import type { Sql } from "./sql.js";
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

const PROCESS_COLUMNS = "host_id, pid, started_at, ppid, name, exe, binary, cmdline, user, uid, sha256, exe_deleted, tags, package, package_source, exe_since";
const SOCKET_COLUMNS =
  "host_id, skey, transport, family, local_address, local_port, remote_address, remote_port, state, pid, uid, inode, netns, protocol, direction, tags, raw_protocol, community_id";
const CONNECTION_COLUMNS = `host_id, binary, pid, started_at, name, exe, cmdline, user, sha256, ancestry, transport, direction, family, local_address, local_port,
  remote_address, remote_port, protocol, port, first_seen, last_seen, count, failed, tags, beacon_interval_ms, beacon_jitter_ms, beacon_count, beacon_span_ms, seq, received_at, community_id, wire_protocol`;
const OBSERVATION_COLUMNS = "host_id, binary, protocol, transport, direction, port, binary_name, exe, sha256, first_seen, last_seen, count, tags, received_at";

type Owner = { exe: string; name: string; sha256: string; binary: string };

export class Ingester {
  private readonly maxConnectionRows: number;
  private readonly kb: KnowledgeBase | undefined;

  constructor(
    private readonly sql: Sql,
    opts: IngesterOptions = {},
  ) {
    this.maxConnectionRows = opts.maxConnectionRowsPerHost ?? DEFAULT_CONNECTION_ROWS_PER_HOST;
    this.kb = opts.kb;
  }

  /**
   * Applies every item in one transaction; throws (nothing applied) if the
   * database fails. Hosts are visited in host id order (each host's batches
   * in their own order): collectors sharing a database lock hosts in the
   * same order and cannot deadlock each other.
   */
  apply(items: readonly IngestItem[], now: number): Promise<IngestResult[]> {
    const order = items.map((_, i) => i).sort((a, b) => (items[a]!.hostId < items[b]!.hostId ? -1 : items[a]!.hostId > items[b]!.hostId ? 1 : a - b));
    return this.sql.tx(async (sql) => {
      const results: IngestResult[] = new Array(items.length);
      for (const i of order) {
        const item = items[i]!;
        try {
          // Each batch in a savepoint of its own: one that fails rolls back alone.
          results[i] = await sql.tx((one) => this.applyOne(one, item, now));
        } catch (err) {
          results[i] = { seq: num(item.batch.seq), status: "failed", resync: false, error: (err as Error).message };
        }
      }
      return results;
    });
  }

  private async applyOne(sql: Sql, { hostId, batch, bytes }: IngestItem, now: number): Promise<IngestResult> {
    const seq = num(batch.seq);
    // Locked until commit: another collector applying this host's next batch waits, then sees this one.
    const host = await sql.get<{ last_seq: number; revoked_at: number | null; dropped_batches: number; first_seen: number | null }>(
      "SELECT last_seq, revoked_at, dropped_batches, first_seen FROM hosts WHERE host_id = ? FOR UPDATE",
      [hostId],
    );
    if (!host || host.revoked_at != null) return { seq, status: "rejected", resync: false };
    if (seq <= host.last_seq) {
      await sql.run("UPDATE hosts SET last_seen = ? WHERE host_id = ?", [now, hostId]);
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
    const stored = rejudge ? await this.storedOwners(sql, hostId, sent) : null;
    const snap: Snapshot = rejudge ? rejudgeBatch(sent, this.kb!, (pid) => stored!.get(pid)) : sent;
    const judgedVersion = rejudge ? this.kb!.version : knowledgeVersion;
    const os = snap.os ?? "";
    const takenAt = num(snap.takenAtMs) || now;
    const full = batch.full === true;
    const resync = !full && num(batch.baseSeq) !== host.last_seq;
    const sockets = snap.sockets ?? [];
    const socketKeys = sockets.map(socketKey);

    // Sockets already in the host's state: a socket counts toward its observation once, when new.
    // A full batch replaces the state, so it reads all of it first; a delta
    // looks up only its own sockets, so that a small delta of a host with a
    // large state costs little inside a transaction shared with other hosts.
    let known: Set<string>;
    if (full) {
      known = new Set((await sql.all<{ skey: string }>("SELECT skey FROM sockets WHERE host_id = ?", [hostId])).map((r) => r.skey));
      await sql.run("DELETE FROM processes WHERE host_id = ?", [hostId]);
      await sql.run("DELETE FROM sockets WHERE host_id = ?", [hostId]);
    } else {
      for (const k of batch.processesRemoved ?? [])
        await sql.run("DELETE FROM processes WHERE host_id = ? AND pid = ? AND started_at = ?", [hostId, num(k.pid), num(k.startedAtMs)]);
      for (const k of batch.socketsRemoved ?? []) await sql.run("DELETE FROM sockets WHERE host_id = ? AND skey = ?", [hostId, socketKey(k)]);
      known = new Set((await selectIn<{ skey: string }>(sql, "SELECT skey FROM sockets WHERE host_id = ? AND skey", "", [hostId], [...new Set(socketKeys)])).map((r) => r.skey));
    }

    const owners = new Map<number, Owner>();
    const binaries = new Map<string, string>();
    const processRows = new Map<string, unknown[]>();
    for (const p of snap.processes ?? []) {
      const exe = p.exe ?? "";
      const name = p.name ?? "";
      const binary = binaryKey(exe, name, os);
      owners.set(num(p.pid), { exe, name, sha256: p.sha256 ?? "", binary });
      processRows.set(`${num(p.pid)}|${num(p.startedAtMs)}`, [
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
      ]);
      if (!binaries.has(binary)) binaries.set(binary, displayName(exe, name));
    }
    await insertMany(
      sql,
      `INSERT INTO processes (${PROCESS_COLUMNS})`,
      16,
      [...processRows.values()],
      `ON CONFLICT (host_id, pid, started_at) DO UPDATE SET ppid = excluded.ppid, name = excluded.name, exe = excluded.exe, binary = excluded.binary,
         cmdline = excluded.cmdline, user = excluded.user, uid = excluded.uid, sha256 = excluded.sha256, exe_deleted = excluded.exe_deleted, tags = excluded.tags,
         package = excluded.package, package_source = excluded.package_source, exe_since = excluded.exe_since`,
    );
    const connections = snap.connections ?? [];
    // The process of a connection ran on this host, however briefly: it counts in rarity's denominator.
    // A record whose process is unknown (no exe, no name) is kept but observes nothing, as a socket without an owner.
    const connBinaries = connections.map((c) => (c.process?.exe || c.process?.name ? binaryKey(c.process.exe ?? "", c.process.name ?? "", os) : ""));
    connections.forEach((c, i) => {
      const binary = connBinaries[i]!;
      if (binary && !binaries.has(binary)) binaries.set(binary, displayName(c.process?.exe ?? "", c.process?.name ?? ""));
    });
    await insertMany(
      sql,
      "INSERT INTO host_binaries (host_id, binary, binary_name, first_seen, last_seen)",
      5,
      [...binaries].map(([binary, shown]) => [hostId, binary, shown, takenAt, takenAt]),
      "ON CONFLICT (host_id, binary) DO UPDATE SET last_seen = greatest(host_binaries.last_seen, excluded.last_seen)",
    );

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
    // Owners not in this batch (a delta's new socket of an old process): looked up together.
    const missing = [...new Set(sockets.map((k) => num(k.pid)).filter((pid) => pid && !owners.has(pid)))];
    if (missing.length > 0) {
      const rows = await selectIn<Owner & { pid: number; started_at: number }>(
        sql,
        "SELECT pid, started_at, exe, name, sha256, binary FROM processes WHERE host_id = ? AND pid",
        "",
        [hostId],
        missing,
      );
      const newest = new Map<number, number>();
      for (const r of rows) {
        if ((newest.get(r.pid) ?? -Infinity) > r.started_at) continue;
        newest.set(r.pid, r.started_at);
        owners.set(r.pid, { exe: r.exe, name: r.name, sha256: r.sha256, binary: r.binary });
      }
    }
    const socketRows = new Map<string, unknown[]>();
    const seen = new Set<string>();
    sockets.forEach((k, i) => {
      const key = socketKeys[i]!;
      const isNew = !known.has(key) && !seen.has(key);
      seen.add(key);
      const pid = num(k.pid);
      socketRows.set(key, [
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
      ]);
      if (!pid) return;
      const owner = owners.get(pid);
      if (!owner) return;
      const direction = k.direction ?? "";
      const port = direction === "outbound" ? num(k.remotePort) : num(k.localPort);
      observe(owner.binary, owner.exe, owner.name, owner.sha256, k.protocol ?? "", k.transport ?? "", direction, port, takenAt, takenAt, isNew ? 1 : 0, tagsJson(k.tags));
    });
    await insertMany(
      sql,
      `INSERT INTO sockets (${SOCKET_COLUMNS})`,
      18,
      [...socketRows.values()],
      `ON CONFLICT (host_id, skey) DO UPDATE SET transport = excluded.transport, family = excluded.family, local_address = excluded.local_address,
         local_port = excluded.local_port, remote_address = excluded.remote_address, remote_port = excluded.remote_port, state = excluded.state, pid = excluded.pid,
         uid = excluded.uid, inode = excluded.inode, netns = excluded.netns, protocol = excluded.protocol, direction = excluded.direction, tags = excluded.tags,
         raw_protocol = excluded.raw_protocol, community_id = excluded.community_id`,
    );
    const connectionRows = connections.map((c, i) => {
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
      if (binary) observe(binary, p.exe ?? "", p.name ?? "", p.sha256 ?? "", c.protocol ?? "", c.transport ?? "", direction, port, first, last, count, tags);
      return [
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
      ];
    });
    await insertMany(sql, `INSERT INTO connections (${CONNECTION_COLUMNS})`, 32, connectionRows);
    // Classified flows joined to a process observe as its sockets do: by the port's protocol, with the wire's tags.
    for (const f of await storeFlows(sql, hostId, os, seq, now, snap.flows ?? []))
      observe(f.binary, f.exe, f.name, f.sha256, f.protocol, f.transport, f.direction, f.port, f.first, f.last, 1, f.tags);
    await insertMany(
      sql,
      `INSERT INTO observations (${OBSERVATION_COLUMNS})`,
      14,
      [...obs.values()].map((e) => [...e.o, e.first, e.last, e.count, e.tags, now]),
      `ON CONFLICT (host_id, binary, protocol, transport, direction, port) DO UPDATE SET
          last_seen = greatest(observations.last_seen, excluded.last_seen),
          received_at = greatest(observations.received_at, excluded.received_at),
          first_seen = least(observations.first_seen, excluded.first_seen),
          count = observations.count + excluded.count,
          exe = excluded.exe, sha256 = excluded.sha256, binary_name = excluded.binary_name,
          tags = CASE WHEN excluded.tags = '[]' THEN observations.tags ELSE excluded.tags END`,
    );
    if (connections.length > 0) await this.boundConnectionRows(sql, hostId, connections.length);

    await sql.run(
      `UPDATE hosts SET
          hostname = @hostname, os = @os, os_version = @osVersion, agent_version = @agentVersion,
          first_seen = coalesce(first_seen, @now), last_seen = @now,
          last_snapshot_at = greatest(coalesce(last_snapshot_at, 0), @takenAt), last_seq = @seq,
          dropped_batches = greatest(dropped_batches, @dropped),
          knowledge_version = @knowledgeVersion, judged_version = @judgedVersion
        WHERE host_id = @hostId`,
      {
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
      },
    );
    if (snap.dpi) {
      const d = snap.dpi;
      await sql.run("UPDATE hosts SET dpi_mode = ?, dpi_reason = ?, dpi_unclassified = ? WHERE host_id = ?", [
        (d.mode ?? "").slice(0, 16),
        (d.reason ?? "").slice(0, 1000),
        num(d.unclassifiedRate) + num(d.unclassifiedWindow),
        hostId,
      ]);
    }
    if (snap.facts) {
      const f = snap.facts;
      const cut = (v: string | null | undefined) => (v ?? "").slice(0, 255);
      await sql.run(
        `UPDATE hosts SET distro = @distro, os_release = @release, kernel = @kernel, virtualization = @virtualization,
          hardware_vendor = @hardwareVendor, hardware_model = @hardwareModel WHERE host_id = @hostId`,
        {
          hostId,
          distro: cut(f.distro),
          release: cut(f.release),
          kernel: cut(f.kernel),
          virtualization: cut(f.virtualization),
          hardwareVendor: cut(f.hardwareVendor),
          hardwareModel: cut(f.hardwareModel),
        },
      );
    }
    if (snap.visibility) {
      const v = snap.visibility;
      await sql.run(
        `UPDATE hosts SET visibility_mode = @mode, visibility_reason = @reason, events_accepted = events_accepted + @accepted,
          dropped_rate = @rate, dropped_records = @records, dropped_kernel = @kernel, visibility_at = @now WHERE host_id = @hostId`,
        {
          hostId,
          mode: (v.mode ?? "").slice(0, 32),
          reason: (v.reason ?? "").slice(0, 1024),
          accepted: num(v.eventsAccepted),
          rate: num(v.droppedRate),
          records: num(v.droppedRecords),
          kernel: num(v.droppedKernel),
          now,
        },
      );
    }
    await sql.run("INSERT INTO batches (host_id, seq, received_at, taken_at, full, processes, sockets, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [
      hostId,
      seq,
      now,
      takenAt,
      full ? 1 : 0,
      snap.processes?.length ?? 0,
      sockets.length,
      bytes,
    ]);
    return { seq, status: "applied", resync };
  }

  /** A delta's sockets whose processes are not in the delta: the stored ones (the newest of each pid), for judging them again; read together. */
  private async storedOwners(sql: Sql, hostId: string, snap: Snapshot): Promise<Map<number, StoredOwner>> {
    const inBatch = new Set((snap.processes ?? []).map((p) => num(p.pid)));
    const pids = [...new Set((snap.sockets ?? []).map((s) => num(s.pid)).filter((pid) => pid && !inBatch.has(pid)))];
    const out = new Map<number, StoredOwner>();
    if (pids.length === 0) return out;
    const rows = await selectIn<{
      pid: number;
      started_at: number;
      name: string;
      exe: string;
      cmdline: string;
      exe_deleted: number;
      tags: string;
      package: string;
      package_source: string;
      exe_since: number;
    }>(
      sql,
      "SELECT pid, started_at, name, exe, cmdline, exe_deleted, tags, package, package_source, exe_since FROM processes WHERE host_id = ? AND pid",
      " ORDER BY started_at",
      [hostId],
      pids,
    );
    for (const row of rows) {
      let tags: StoredOwner["tags"] = [];
      try {
        tags = JSON.parse(row.tags) as StoredOwner["tags"];
      } catch {
        // a malformed stored value counts as no tags
      }
      const packaged = { package: row.package, packageSource: row.package_source, exeSinceMs: row.exe_since, nowMs: Date.now() };
      // Ordered by start: the newest of a pid is set last.
      out.set(row.pid, { name: row.name, exe: row.exe, cmdline: row.cmdline, exeDeleted: row.exe_deleted === 1, tags, packaged });
    }
    return out;
  }

  /** Keeps the host's newest maxConnectionRows connection rows; trims only once it is a tenth over, so most batches pay one UPDATE. */
  private async boundConnectionRows(sql: Sql, hostId: string, added: number): Promise<void> {
    const row = await sql.get<{ connection_rows: number }>("UPDATE hosts SET connection_rows = connection_rows + ? WHERE host_id = ? RETURNING connection_rows", [added, hostId]);
    const rows = row?.connection_rows ?? 0;
    if (rows <= this.maxConnectionRows + Math.floor(this.maxConnectionRows / 10)) return;
    await sql.run("DELETE FROM connections WHERE host_id = ? AND id < (SELECT id FROM connections WHERE host_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)", [
      hostId,
      hostId,
      this.maxConnectionRows - 1,
    ]);
    await sql.run("UPDATE hosts SET connection_rows = (SELECT COUNT(*) FROM connections WHERE host_id = ?) WHERE host_id = ?", [hostId, hostId]);
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
