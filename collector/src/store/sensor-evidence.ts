// SQL for network sensor evidence (Zeek, Suricata): the lines kept, where
// each followed file was read to (stored in the same transaction as the
// lines, so a restart neither reads a line twice nor skips one), the
// sensors' tokens, and the lookups that join a sensor's flow to the agents'
// connection records and sockets.

import { createHash, randomBytes } from "node:crypto";
import type { SensorRecord } from "../sensor/sensor-record.js";
import { insertMany } from "./many-rows.js";
import { toSqlite } from "./sqlite-sql.js";
import type { Sql } from "./sql.js";

export interface SensorFileRow {
  id: number;
  dev: number;
  ino: number;
  path: string;
  head_len: number;
  head_hash: string;
  offset: number;
  skipping: number;
  format: string;
  lines: number;
  stored: number;
  errors: number;
  too_long: number;
  /** 1: nothing more will come (a compressed file read to its end, or a file that is no sensor's log). */
  done: number;
}

export interface FileProgress {
  offset: number;
  skipping: boolean;
  headLen: number;
  headHash: string;
  lines: number;
  stored: number;
  errors: number;
  tooLong: number;
  done: boolean;
}

/** A row of the agents' data that may be the other side of a sensor's flow (a flow: one the agent classified, agent --dpi). */
export interface AgentFlowRow {
  what: "connection" | "socket" | "flow";
  host_id: string;
  hostname: string;
  pid: number;
  binary: string;
  name: string;
  protocol: string;
  transport: string;
  direction: string;
  port: number;
  family: number;
  local_address: string;
  local_port: number;
  remote_address: string;
  remote_port: number;
}

export interface StoredSensorEvent {
  id: number;
  source: "zeek" | "suricata";
  log: string;
  kind: string;
  ts_ms: number;
  duration_ms: number;
  flow_key: string;
  community_id: string;
  transport: string;
  orig_address: string;
  orig_port: number;
  resp_address: string;
  resp_port: number;
  text: string;
  weight: number;
}

const JOIN_LIMIT = 50;

export class SensorStore {
  constructor(private readonly sql: Sql) {}

  /** Stores records and, in the same transaction, how far their file was read. */
  commit(
    records: readonly SensorRecord[],
    origin: string,
    nowMs: number,
    file?: { id: number; dev: number; ino: number; path: string; format: string; progress: FileProgress },
  ): Promise<void> {
    return this.sql.tx(async (sql) => {
      await insertMany(
        sql,
        `INSERT INTO sensor_events (source, log, kind, ts_ms, duration_ms, flow_key, community_id, transport,
          orig_address, orig_port, resp_address, resp_port, text, weight, name, origin, received_at)`,
        17,
        records.map((r) => [
          r.source,
          r.log,
          r.kind,
          r.tsMs,
          r.durationMs,
          r.flowKey,
          r.communityId,
          r.transport,
          r.origAddress,
          r.origPort,
          r.respAddress,
          r.respPort,
          r.text,
          r.weight,
          r.name,
          origin,
          nowMs,
        ]),
      );
      if (file) {
        const p = file.progress;
        await sql.run(
          `UPDATE sensor_files SET dev = ?, ino = ?, path = ?, head_len = ?, head_hash = ?, offset = ?, skipping = ?, format = ?,
            lines = ?, stored = ?, errors = ?, too_long = ?, done = ?, updated_at = ? WHERE id = ?`,
          [file.dev, file.ino, file.path, p.headLen, p.headHash, p.offset, p.skipping ? 1 : 0, file.format, p.lines, p.stored, p.errors, p.tooLong, p.done ? 1 : 0, nowMs, file.id],
        );
      }
    });
  }

  fileByInode(dev: number, ino: number): Promise<SensorFileRow | undefined> {
    return this.sql.get<SensorFileRow>("SELECT * FROM sensor_files WHERE dev = ? AND ino = ? ORDER BY id DESC LIMIT 1", [dev, ino]);
  }

  /** A file not read to its end whose first head_len bytes hash as `hashOf` says this head's do (a compressed copy of it). */
  async fileByHead(head: Buffer, hashOf: (b: Buffer) => string): Promise<SensorFileRow | undefined> {
    // Files not read to their end whose first bytes a compressed file may start with.
    const open = await this.sql.all<SensorFileRow>("SELECT * FROM sensor_files WHERE done = 0 AND head_len <= ? ORDER BY id DESC LIMIT 1000", [head.length]);
    return open.find((r) => r.head_len > 0 && hashOf(head.subarray(0, r.head_len)) === r.head_hash);
  }

  async addFile(dev: number, ino: number, path: string, headLen: number, headHash: string, format: string, nowMs: number): Promise<number> {
    const row = await this.sql.get<{ id: number }>(
      `INSERT INTO sensor_files (dev, ino, path, head_len, head_hash, offset, skipping, format, lines, stored, errors, too_long, updated_at)
        VALUES (?, ?, ?, ?, ?, 0, 0, ?, 0, 0, 0, 0, ?) RETURNING id`,
      [dev, ino, path, headLen, headHash, format, nowMs],
    );
    return Number(row!.id);
  }

  // ---- sensor tokens (shippers' credential: separate from agent keys and the reader token) ----

  /** Creates a token; returns it (shown once: only its hash is kept). Null when the name is taken. */
  async addToken(name: string, by: string, nowMs: number): Promise<string | null> {
    const token = `ows_${randomBytes(24).toString("base64url")}`;
    const r = await this.sql.run("INSERT INTO sensor_tokens (name, token_hash, created_at, created_by) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING", [
      name,
      tokenHash(token),
      nowMs,
      by,
    ]);
    return r.changes > 0 ? token : null;
  }

  /** Revokes a token; false when no active token has that name. */
  async revokeToken(name: string, nowMs: number): Promise<boolean> {
    return (await this.sql.run("UPDATE sensor_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", [nowMs, name])).changes > 0;
  }

  listTokens(): Promise<Array<{ name: string; createdAtMs: number; createdBy: string; revokedAtMs: number | null; lastUsedAtMs: number | null }>> {
    return this.sql.all(
      `SELECT name, created_at AS "createdAtMs", created_by AS "createdBy", revoked_at AS "revokedAtMs", last_used_at AS "lastUsedAtMs" FROM sensor_tokens ORDER BY name`,
    );
  }

  /** Who a presented token belongs to. */
  async checkToken(token: string, nowMs: number): Promise<{ ok: true; name: string } | { ok: false; reason: "unknown" | "revoked" }> {
    const row = await this.sql.get<{ name: string; revoked_at: number | null }>("SELECT name, revoked_at FROM sensor_tokens WHERE token_hash = ?", [tokenHash(token)]);
    if (!row) return { ok: false, reason: "unknown" };
    if (row.revoked_at !== null) return { ok: false, reason: "revoked" };
    await this.sql.run("UPDATE sensor_tokens SET last_used_at = ? WHERE name = ?", [nowMs, row.name]);
    return { ok: true, name: row.name };
  }

  /** The join's lookups (sensor-join.ts). */
  joinQueries(): SensorJoinQueries {
    return sensorJoinQueries(this.sql);
  }

  /** The latest evidence lines (not names), newest first, seen by the sensor at or after sinceMs; null when the database has no sensor tables (read-only, older). */
  async recentEvents(sinceMs: number, limit: number): Promise<{ rows: StoredSensorEvent[]; total: number } | null> {
    const has = await this.sql.get("SELECT 1 AS x FROM sensor_events LIMIT 1").then(
      () => true,
      () => false,
    );
    if (!has) return null;
    const rows = await this.sql.all<StoredSensorEvent>(
      `SELECT id, source, log, kind, ts_ms, duration_ms, flow_key, community_id, transport, orig_address, orig_port, resp_address, resp_port, text, weight
         FROM sensor_events WHERE kind IN ('anomaly', 'alert', 'protocol') AND ts_ms >= ? ORDER BY ts_ms DESC LIMIT ?`,
      [sinceMs, limit],
    );
    const total =
      rows.length < limit
        ? rows.length
        : (await this.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM sensor_events WHERE kind IN ('anomaly', 'alert', 'protocol') AND ts_ms >= ?", [sinceMs]))!.n;
    return { rows, total };
  }

  /** Each non-loopback address some agent's socket is bound to → the hosts (what a sensor's address may belong to). */
  async agentAddresses(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const r of await this.sql.all<{ a: string; host: string }>(
      `SELECT DISTINCT s.local_address AS a, coalesce(nullif(h.hostname, ''), h.host_id) AS host FROM sockets s JOIN hosts h ON h.host_id = s.host_id
        WHERE h.revoked_at IS NULL AND s.local_address NOT IN ('', '*', '0.0.0.0', '::', '127.0.0.1', '::1') AND s.local_address NOT LIKE '127.%'`,
    )) {
      const list = out.get(r.a);
      if (list) list.push(r.host);
      else out.set(r.a, [r.host]);
    }
    return out;
  }

  /** Deletes sensor lines received before `beforeMs`. */
  async prune(beforeMs: number): Promise<number> {
    return (await this.sql.run("DELETE FROM sensor_events WHERE received_at < ?", [beforeMs])).changes;
  }
}

export const SENSOR_TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

const tokenHash = (token: string) => createHash("sha256").update(token).digest("hex");

// ---- the join's lookups ----

/** A lookup the join runs: the rows for its parameters. */
interface Lookup<P extends unknown[], R> {
  all(...params: P): Promise<R[]>;
  /** The statement's text (as SQLite runs it; EXPLAIN in tests). */
  readonly source: string;
}

export interface SensorJoinQueries {
  byCommunityId: Lookup<[string, number, number, string, number, number, string, number], AgentFlowRow>;
  connections: Lookup<[number, number, number, number, string, string, number, number], AgentFlowRow>;
  sockets: Lookup<[number, number, number, number, string, string, number], AgentFlowRow>;
  sameServer: Lookup<[number, string, string, string, number, number], { host_id: string; hostname: string; pid: number; name: string; local_address: string; local_port: number }>;
  connectionsTo: Lookup<[number, string, string, string, number, number], AgentFlowRow>;
  names: Lookup<[string, string, string], { name: string }>;
}

function lookup<P extends unknown[], R>(sql: Sql, text: string): Lookup<P, R> {
  return { all: (...params: P) => sql.all<R>(text, params), source: toSqlite(text) };
}

export function sensorJoinQueries(sql: Sql): SensorJoinQueries {
  return {
    /**
     * Connection records and classified flows whose stored Community ID is this one, overlapping [from, to],
     * and sockets with it whose process had started by `to`. A flow's own end is its client when the agent
     * saw it outbound, its server when inbound. Flows not joined to a process are left out.
     */
    byCommunityId: lookup(
      sql,
      `SELECT 'connection' AS what, c.host_id, h.hostname, c.pid, c.binary, c.name, c.protocol, c.transport, c.direction, c.port, c.family,
              c.local_address, c.local_port, c.remote_address, c.remote_port
         FROM connections c JOIN hosts h ON h.host_id = c.host_id AND h.revoked_at IS NULL
        WHERE c.community_id = ? AND c.community_id <> '' AND c.last_seen >= ? AND c.first_seen <= ?
       UNION ALL
       SELECT 'flow' AS what, f.host_id, h.hostname, f.pid, f.binary, f.name, f.port_protocol AS protocol, f.transport, f.direction, f.server_port AS port, f.family,
              CASE WHEN f.direction = 'inbound' THEN f.server_address ELSE f.client_address END AS local_address,
              CASE WHEN f.direction = 'inbound' THEN f.server_port ELSE f.client_port END AS local_port,
              CASE WHEN f.direction = 'inbound' THEN f.client_address ELSE f.server_address END AS remote_address,
              CASE WHEN f.direction = 'inbound' THEN f.client_port ELSE f.server_port END AS remote_port
         FROM flows f JOIN hosts h ON h.host_id = f.host_id AND h.revoked_at IS NULL
        WHERE f.community_id = ? AND f.binary <> '' AND f.last_seen >= ? AND f.first_seen <= ?
       UNION ALL
       SELECT 'socket' AS what, s.host_id, h.hostname, s.pid, p.binary, p.name, s.protocol, s.transport, s.direction,
              CASE WHEN s.direction = 'outbound' THEN s.remote_port ELSE s.local_port END AS port, s.family,
              s.local_address, s.local_port, s.remote_address, s.remote_port
         FROM sockets s JOIN hosts h ON h.host_id = s.host_id AND h.revoked_at IS NULL
         JOIN processes p ON p.host_id = s.host_id AND p.pid = s.pid
        WHERE s.community_id = ? AND s.community_id <> '' AND p.started_at <= ?
        LIMIT ${JOIN_LIMIT}`,
    ),
    /** Connection records on these two ports (either orientation) overlapping [from, to]. */
    connections: lookup(
      sql,
      `SELECT 'connection' AS what, c.host_id, h.hostname, c.pid, c.binary, c.name, c.protocol, c.transport, c.direction, c.port, c.family,
              c.local_address, c.local_port, c.remote_address, c.remote_port
         FROM connections c INDEXED BY connections_by_ports JOIN hosts h ON h.host_id = c.host_id AND h.revoked_at IS NULL
        WHERE ((c.remote_port = ? AND c.local_port = ?) OR (c.remote_port = ? AND c.local_port = ?)) AND c.transport IN (?, ?)
          AND c.last_seen >= ? AND c.first_seen <= ? LIMIT ${JOIN_LIMIT}`,
    ),
    /** Sockets open now on these ports whose process had started by `to`. */
    sockets: lookup(
      sql,
      `SELECT 'socket' AS what, s.host_id, h.hostname, s.pid, p.binary, p.name, s.protocol, s.transport, s.direction,
              CASE WHEN s.direction = 'outbound' THEN s.remote_port ELSE s.local_port END AS port, s.family,
              s.local_address, s.local_port, s.remote_address, s.remote_port
         FROM sockets s INDEXED BY sockets_by_ports JOIN hosts h ON h.host_id = s.host_id AND h.revoked_at IS NULL
         JOIN processes p ON p.host_id = s.host_id AND p.pid = s.pid
        WHERE ((s.remote_port = ? AND s.local_port = ?) OR (s.remote_port = ? AND s.local_port = ?)) AND s.transport IN (?, ?)
          AND p.started_at <= ? LIMIT ${JOIN_LIMIT}`,
    ),
    /** Connection records to the same server at that time (a NAT or proxy may have rewritten the client side). */
    sameServer: lookup(
      sql,
      `SELECT c.host_id, h.hostname, c.pid, c.name, c.local_address, c.local_port
         FROM connections c INDEXED BY connections_by_ports JOIN hosts h ON h.host_id = c.host_id AND h.revoked_at IS NULL
        WHERE c.remote_port = ? AND c.remote_address = ? AND c.transport IN (?, ?) AND c.last_seen >= ? AND c.first_seen <= ? LIMIT 5`,
    ),
    /** Outbound connection records to this server at that time (for a record that has only the destination). */
    connectionsTo: lookup(
      sql,
      `SELECT 'connection' AS what, c.host_id, h.hostname, c.pid, c.binary, c.name, c.protocol, c.transport, c.direction, c.port, c.family,
              c.local_address, c.local_port, c.remote_address, c.remote_port
         FROM connections c INDEXED BY connections_by_ports JOIN hosts h ON h.host_id = c.host_id AND h.revoked_at IS NULL
        WHERE c.remote_port = ? AND c.remote_address = ? AND c.transport IN (?, ?) AND c.direction = 'outbound'
          AND c.last_seen >= ? AND c.first_seen <= ? ORDER BY c.last_seen DESC LIMIT 1`,
    ),
    /** The names the sensor logged for the same flow. */
    names: lookup(
      sql,
      `SELECT DISTINCT name FROM sensor_events WHERE kind = 'name' AND source = ? AND ((flow_key <> '' AND flow_key = ?) OR (community_id <> '' AND community_id = ?)) LIMIT 5`,
    ),
  };
}
