// The report's reads: the fleet's counts, the observation groups it scores,
// beacons, visibility, and the details it fetches only for the findings it
// shows. Every statement the report runs is here; report/build-report.ts
// decides what to ask.

import type { Sql } from "./sql.js";

export interface ReportFilter {
  sinceMs: number;
  protocol?: string | undefined;
  binary?: string | undefined;
  host?: string | undefined;
}

export interface GroupRow {
  binary: string;
  /** Filled for candidates only (identity lookups are not needed to score). */
  binary_name: string;
  exe: string;
  sha256: string;
  protocol: string;
  transport: string;
  direction: string;
  pc: number;
  /** 1: the observations the agent tagged; 0: the untagged ones (a tagged case is judged apart from its binary's ordinary use). */
  tg: number;
  hosts: number;
  first_seen: number;
  last_seen: number;
  port: number;
  tags: string | null;
}

export interface FleetCounts {
  hosts: number;
  revoked: number;
  byOs: Record<string, number>;
  /** Hosts (not revoked) running each binary: rarity's denominator. */
  binaryHosts: Map<string, number>;
  observations: number;
}

export interface BeaconRow {
  binary: string;
  protocol: string;
  transport: string;
  direction: string;
  pc: number;
  intervalMs: number;
  jitterMs: number;
  count: number;
  spanMs: number;
  remote_address: string;
  remote_port: number;
  local_port: number;
}

export interface VisibilityRows {
  counts: { events: number; snapshots: number; unknown: number; rate: number; records: number; kernel: number };
  snapshotsOnly: Array<{ hostId: string; hostname: string; reason: string }>;
  dropping: Array<{ hostId: string; hostname: string; droppedRate: number; droppedRecords: number; droppedKernel: number }>;
  /** Protocol identification (agent --dpi): hosts with it on, off, never said; flows left unclassified. */
  dpiCounts: { hostsOn: number; hostsOff: number; hostsUnknown: number; unclassified: number };
  dpiOff: Array<{ hostId: string; hostname: string; reason: string }>;
}

export interface ConnRow {
  pid: number;
  name: string;
  exe: string;
  sha256: string;
  cmdline: string;
  user: string;
  ancestry: string;
}

/** A port's class: 0 well-known, 1 registered, 2 dynamic. */
const PC_SQL = "CASE WHEN port < 1024 THEN 0 WHEN port < 49152 THEN 1 ELSE 2 END";
const NOT_REVOKED = "host_id NOT IN (SELECT host_id FROM hosts WHERE revoked_at IS NOT NULL)";

export class ReportQueries {
  constructor(private readonly sql: Sql) {}

  async fleet(): Promise<FleetCounts> {
    const sql = this.sql;
    const revoked = (await sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM hosts WHERE revoked_at IS NOT NULL"))!.n;
    const hosts = (await sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM hosts WHERE revoked_at IS NULL"))!.n;
    const byOs = Object.fromEntries(
      (await sql.all<{ os: string; n: number }>("SELECT os, COUNT(*) AS n FROM hosts WHERE revoked_at IS NULL GROUP BY os")).map((r) => [r.os || "unknown", r.n]),
    );
    const binaryHosts = new Map(
      (await sql.all<{ binary: string; n: number }>(`SELECT binary, COUNT(*) AS n FROM host_binaries ${revoked > 0 ? `WHERE ${NOT_REVOKED}` : ""} GROUP BY binary`)).map((r) => [
        r.binary,
        r.n,
      ]),
    );
    const observations = (await sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM observations"))!.n;
    return { hosts, revoked, byOs, binaryHosts, observations };
  }

  /** Observations grouped by binary, protocol, transport, direction, port class and tagged-or-not, inside the filter. */
  groups(f: ReportFilter, revoked: boolean): Promise<GroupRow[]> {
    const where: string[] = ["o.last_seen >= ?"];
    const params: unknown[] = [f.sinceMs];
    if (f.protocol) {
      where.push("o.protocol = ?");
      params.push(f.protocol);
    }
    if (f.binary) {
      where.push("(o.binary = ? OR o.binary_name = ? OR o.binary LIKE ? ESCAPE '\\')");
      params.push(f.binary, f.binary, `%${f.binary.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    }
    if (f.host) {
      where.push("o.host_id IN (SELECT host_id FROM hosts WHERE host_id = ? OR hostname = ?)");
      params.push(f.host, f.host);
    }
    if (revoked) where.push(`o.${NOT_REVOKED}`);
    return this.sql.all<GroupRow>(
      `SELECT o.binary, o.protocol, o.transport, o.direction, ${PC_SQL.replace(/port/g, "o.port")} AS pc, CASE WHEN o.tags <> '[]' THEN 1 ELSE 0 END AS tg,
              COUNT(DISTINCT o.host_id) AS hosts, MIN(o.first_seen) AS first_seen, MAX(o.last_seen) AS last_seen,
              MIN(o.port) AS port, string_agg(DISTINCT o.tags, ',') AS tags
         FROM observations o INDEXED BY observations_groups WHERE ${where.join(" AND ")}
        GROUP BY o.binary, o.protocol, o.transport, o.direction, pc, tg`,
      params,
    );
  }

  /** Beaconing connection records inside the filter, most connections first, then the latest. */
  beacons(f: ReportFilter, limit: number): Promise<BeaconRow[]> {
    const params: unknown[] = [f.sinceMs];
    let host = "";
    if (f.host) {
      host = "AND host_id IN (SELECT host_id FROM hosts WHERE host_id = ? OR hostname = ?)";
      params.push(f.host, f.host);
    }
    params.push(limit);
    return this.sql.all<BeaconRow>(
      `SELECT binary, protocol, transport, direction, ${PC_SQL} AS pc, beacon_interval_ms AS "intervalMs", beacon_jitter_ms AS "jitterMs",
              beacon_count AS count, beacon_span_ms AS "spanMs", remote_address, remote_port, local_port
         FROM connections
        WHERE beacon_interval_ms IS NOT NULL AND last_seen >= ? ${host} AND ${NOT_REVOKED}
        ORDER BY beacon_count DESC, last_seen DESC LIMIT ?`,
      params,
    );
  }

  async visibility(maxHosts: number): Promise<VisibilityRows> {
    const live = "revoked_at IS NULL";
    const events = "visibility_at IS NOT NULL AND visibility_mode = 'events+snapshots'";
    const counts = (await this.sql.get<VisibilityRows["counts"]>(
      `SELECT coalesce(sum(CASE WHEN ${events} THEN 1 ELSE 0 END), 0) AS events,
              coalesce(sum(CASE WHEN visibility_at IS NOT NULL AND NOT (${events}) THEN 1 ELSE 0 END), 0) AS snapshots,
              coalesce(sum(CASE WHEN visibility_at IS NULL THEN 1 ELSE 0 END), 0) AS unknown,
              coalesce(sum(dropped_rate), 0) AS rate, coalesce(sum(dropped_records), 0) AS records, coalesce(sum(dropped_kernel), 0) AS kernel
         FROM hosts WHERE ${live}`,
    ))!;
    const snapshotsOnly = await this.sql.all<VisibilityRows["snapshotsOnly"][number]>(
      `SELECT host_id AS "hostId", hostname, visibility_reason AS reason FROM hosts
        WHERE ${live} AND visibility_at IS NOT NULL AND visibility_mode <> 'events+snapshots' ORDER BY hostname, host_id LIMIT ?`,
      [maxHosts],
    );
    const dropping = await this.sql.all<VisibilityRows["dropping"][number]>(
      `SELECT host_id AS "hostId", hostname, dropped_rate AS "droppedRate", dropped_records AS "droppedRecords", dropped_kernel AS "droppedKernel" FROM hosts
        WHERE ${live} AND dropped_rate + dropped_records + dropped_kernel > 0
        ORDER BY dropped_rate + dropped_records + dropped_kernel DESC, host_id LIMIT ?`,
      [maxHosts],
    );
    const dpiCounts = (await this.sql.get<VisibilityRows["dpiCounts"]>(
      `SELECT coalesce(sum(CASE WHEN dpi_mode = 'on' THEN 1 ELSE 0 END), 0) AS "hostsOn", coalesce(sum(CASE WHEN dpi_mode = 'off' THEN 1 ELSE 0 END), 0) AS "hostsOff",
              coalesce(sum(CASE WHEN dpi_mode = '' THEN 1 ELSE 0 END), 0) AS "hostsUnknown", coalesce(sum(dpi_unclassified), 0) AS unclassified FROM hosts WHERE ${live}`,
    ))!;
    const dpiOff = await this.sql.all<VisibilityRows["dpiOff"][number]>(
      `SELECT host_id AS "hostId", hostname, dpi_reason AS reason FROM hosts WHERE ${live} AND dpi_mode = 'off' ORDER BY hostname, host_id LIMIT ?`,
      [maxHosts],
    );
    return { counts, snapshotsOnly, dropping, dpiCounts, dpiOff };
  }

  /**
   * A group's observations host by host, in index order (no sort: for a
   * group on thousands of hosts a sample is enough, and the findings that
   * matter are on few hosts anyway).
   */
  obsHosts(g: GroupRow, lo: number, hi: number, f: { sinceMs: number; host: string | null }, limit: number) {
    const params: unknown[] = [g.binary, g.protocol, g.transport, g.direction, lo, hi, f.sinceMs];
    let host = "";
    if (f.host !== null) {
      host = "AND o.host_id IN (SELECT host_id FROM hosts WHERE host_id = ? OR hostname = ?)";
      params.push(f.host, f.host);
    }
    params.push(limit);
    return this.sql.all<{ host_id: string; first_seen: number; last_seen: number; port: number }>(
      `SELECT o.host_id, o.first_seen, o.last_seen, o.port FROM observations o INDEXED BY observations_groups
        WHERE o.binary = ? AND o.protocol = ? AND o.transport = ? AND o.direction = ? AND o.port BETWEEN ? AND ? AND o.tags ${g.tg ? "<>" : "="} '[]'
          AND o.last_seen >= ? ${host} AND o.${NOT_REVOKED} LIMIT ?`,
      params,
    );
  }

  async hostname(hostId: string): Promise<string | undefined> {
    return (await this.sql.get<{ hostname: string }>("SELECT hostname FROM hosts WHERE host_id = ?", [hostId]))?.hostname;
  }

  facts(hostId: string) {
    return this.sql.get<{ distro: string; os_release: string; kernel: string; virtualization: string; hardware_vendor: string; hardware_model: string }>(
      "SELECT distro, os_release, kernel, virtualization, hardware_vendor, hardware_model FROM hosts WHERE host_id = ?",
      [hostId],
    );
  }

  /** The live process holding such a socket on the host, a tagged socket first when the group is the tagged one. */
  liveProcess(hostId: string, g: GroupRow) {
    return this.sql.get<{ pid: number; ppid: number; cmdline: string; user: string }>(
      `SELECT p.pid, p.ppid, p.cmdline, p.user FROM sockets s JOIN processes p ON p.host_id = s.host_id AND p.pid = s.pid
        WHERE s.host_id = ? AND p.binary = ? AND s.protocol = ? AND s.transport = ? AND s.direction = ?
        ORDER BY CASE WHEN s.tags ${g.tg ? "<>" : "="} '[]' THEN 0 ELSE 1 END LIMIT 1`,
      [hostId, g.binary, g.protocol, g.transport, g.direction],
    );
  }

  identity(binary: string) {
    return this.sql.get<{ binary_name: string; exe: string; sha256: string }>("SELECT binary_name, exe, sha256 FROM observations WHERE binary = ? LIMIT 1", [binary]);
  }

  /** The latest connection record of this host in the group: its process may be long gone. */
  connection(hostId: string, g: GroupRow, lo: number, hi: number) {
    return this.sql.get<ConnRow>(
      `SELECT pid, name, exe, sha256, cmdline, user, ancestry FROM connections INDEXED BY connections_by_finding
        WHERE host_id = ? AND binary = ? AND protocol = ? AND transport = ? AND direction = ? AND port BETWEEN ? AND ?
        ORDER BY last_seen DESC LIMIT 1`,
      [hostId, g.binary, g.protocol, g.transport, g.direction, lo, hi],
    );
  }

  /** Hosts on which the binary's traffic was this protocol on the wire (agent --dpi), whatever the port. */
  async wireHosts(binary: string, wireProtocol: string): Promise<number> {
    return (await this.sql.get<{ n: number }>("SELECT COUNT(DISTINCT host_id) AS n FROM flows INDEXED BY flows_by_wire WHERE binary = ? AND wire_protocol = ?", [
      binary,
      wireProtocol,
    ]))!.n;
  }

  /** The group's most recent classified flows. */
  flows(g: GroupRow, lo: number, hi: number, limit: number) {
    return this.sql.all<{ wire_protocol: string; risks: string; names: string }>(
      `SELECT wire_protocol, risks, names FROM flows INDEXED BY flows_by_finding
        WHERE binary = ? AND port_protocol = ? AND transport = ? AND direction = ? AND server_port BETWEEN ? AND ? ORDER BY id DESC LIMIT ?`,
      [g.binary, g.protocol, g.transport, g.direction, lo, hi, limit],
    );
  }

  /** When this host began reporting: "new for this host" compares an observation's first sighting with it. */
  async hostSince(hostId: string): Promise<number | null> {
    return (await this.sql.get<{ m: number | null }>("SELECT MIN(first_seen) AS m FROM host_binaries WHERE host_id = ?", [hostId]))?.m ?? null;
  }

  byPid(hostId: string, pid: number) {
    return this.sql.get<{ pid: number; ppid: number; name: string; binary: string }>(
      "SELECT pid, ppid, name, binary FROM processes WHERE host_id = ? AND pid = ? ORDER BY started_at DESC LIMIT 1",
      [hostId, pid],
    );
  }

  /** The binary's processes fleet-wide counted by their parent's binary. */
  parents(binary: string) {
    return this.sql.all<{ parent: string; n: number }>(
      `SELECT coalesce(par.binary, '') AS parent, COUNT(*) AS n FROM processes p
         LEFT JOIN processes par ON par.host_id = p.host_id AND par.pid = p.ppid WHERE p.binary = ? GROUP BY coalesce(par.binary, '')`,
      [binary],
    );
  }
}
