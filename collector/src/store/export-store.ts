// What exports read and record: the inventory, streamed a chunk at a time
// (an export of a large fleet holds one chunk, not the fleet), the log of
// export runs, and the slots that make a schedule fire once per fleet
// however many collectors share the database.

import { selectIn } from "./many-rows.js";
import type { Sql } from "./sql.js";

export interface ExportStatus {
  schedule: string;
  what: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  rows: number;
  file: string;
  error: string;
}

export interface InventoryRow {
  host_id: string;
  hostname: string;
  os: string;
  pid: number;
  process_name: string;
  exe: string;
  user: string;
  cmdline: string;
  transport: string;
  family: number;
  local_address: string;
  local_port: number;
  remote_address: string;
  remote_port: number;
  state: string;
  protocol: string;
  direction: string;
  tags: string;
  last_snapshot_at: number | null;
}

const INVENTORY_SELECT = `SELECT s.host_id, h.hostname, h.os, s.pid, coalesce(p.name, '') AS process_name, coalesce(p.exe, '') AS exe, coalesce(p.user, '') AS "user",
       coalesce(p.cmdline, '') AS cmdline, s.transport, s.family, s.local_address, s.local_port, s.remote_address, s.remote_port, s.state, s.protocol,
       s.direction, s.tags, h.last_snapshot_at
  FROM sockets s JOIN hosts h ON h.host_id = s.host_id
  LEFT JOIN processes p ON p.host_id = s.host_id AND p.pid = s.pid AND s.pid <> 0`;
const INVENTORY_ORDER = " ORDER BY s.host_id, s.transport, s.local_port, s.remote_address, s.remote_port";

export class ExportStore {
  constructor(
    private readonly sql: Sql,
    /** Reads that may be long (the inventory): a read connection where the database has one. */
    private readonly read: Sql,
  ) {}

  /**
   * Every socket of every host not revoked (whose snapshot is at or after
   * `sinceMs`), a page of hosts at a time. Each page is its own short read:
   * no snapshot is held for the whole export, so SQLite's checkpoints (and
   * PostgreSQL's vacuum) carry on and the WAL stays bounded.
   */
  async *inventory(sinceMs: number | null, hostsPerPage = 256): AsyncIterable<InventoryRow[]> {
    let after = "";
    for (;;) {
      const page = await this.read.all<{ host_id: string }>(
        `SELECT host_id FROM hosts WHERE host_id > ? AND revoked_at IS NULL ${sinceMs === null ? "" : "AND last_snapshot_at >= ?"} ORDER BY host_id LIMIT ?`,
        sinceMs === null ? [after, hostsPerPage] : [after, sinceMs, hostsPerPage],
      );
      if (page.length === 0) return;
      after = page[page.length - 1]!.host_id;
      const rows = await selectIn<InventoryRow>(
        this.read,
        `${INVENTORY_SELECT} WHERE s.host_id`,
        INVENTORY_ORDER,
        [],
        page.map((h) => h.host_id),
      );
      if (rows.length > 0) yield rows;
      if (page.length < hostsPerPage) return;
    }
  }

  async startRun(schedule: string, what: string, now: number): Promise<number> {
    const row = await this.sql.get<{ id: number }>("INSERT INTO export_runs (schedule, what, started_at, status) VALUES (?, ?, ?, 'running') RETURNING id", [schedule, what, now]);
    return Number(row!.id);
  }

  /** When the schedule's last successful run started, or null. */
  async lastOk(schedule: string): Promise<number | null> {
    return (await this.sql.get<{ at: number | null }>("SELECT max(started_at) AS at FROM export_runs WHERE schedule = ? AND status = 'ok'", [schedule]))?.at ?? null;
  }

  async finishRun(id: number, at: number, o: { status: string; rows: number; file: string; error: string }): Promise<void> {
    await this.sql.run("UPDATE export_runs SET finished_at = ?, status = ?, rows = ?, file = ?, error = ? WHERE id = ?", [at, o.status, o.rows, o.file, o.error, id]);
  }

  /** The latest run of every schedule. */
  lastExports(): Promise<ExportStatus[]> {
    return this.sql.all<ExportStatus>(`SELECT schedule, what, status, started_at AS "startedAt", finished_at AS "finishedAt", rows, file, error FROM export_runs
                 WHERE id IN (SELECT max(id) FROM export_runs GROUP BY schedule) ORDER BY schedule`);
  }

  /** Claims one firing of a schedule (its slot: the tick's time) for this collector; false when another collector claimed it first. */
  async claimSlot(schedule: string, slot: number, by: string, now: number): Promise<boolean> {
    const r = await this.sql.run("INSERT INTO export_slots (schedule, slot, claimed_by, claimed_at) VALUES (?, ?, ?, ?) ON CONFLICT (schedule, slot) DO NOTHING", [
      schedule,
      slot,
      by,
      now,
    ]);
    return r.changes > 0;
  }

  /** Forgets claims older than `before` (retention). */
  async pruneSlots(before: number): Promise<number> {
    return (await this.sql.run("DELETE FROM export_slots WHERE claimed_at < ?", [before])).changes;
  }
}
