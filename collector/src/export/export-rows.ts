// The rows of each export kind. Columns are a contract (README "Exports"):
// add at the end, never reorder or rename.

import { HostStore } from "../store/hosts.js";
import type { Db } from "../store/open-db.js";
import { buildReport } from "../report/build-report.js";
import { isoOrEmpty } from "../report/csv.js";
import { FINDING_COLUMNS, findingRows } from "../report/report-csv.js";
import type { ExportKind } from "./export-config.js";
import { buildPersonaSection } from "../persona/persona-section.js";
import { PERSONA_COLUMNS, personaRows } from "../persona/persona-table.js";

export const INVENTORY_COLUMNS = [
  "host_id",
  "hostname",
  "os",
  "pid",
  "process_name",
  "exe",
  "user",
  "cmdline",
  "transport",
  "family",
  "local_address",
  "local_port",
  "remote_address",
  "remote_port",
  "state",
  "protocol",
  "direction",
  "tags",
  "last_snapshot_at",
] as const;

export const AGENT_COLUMNS = [
  "host_id",
  "hostname",
  "os",
  "os_version",
  "agent_version",
  "enrolled_at",
  "first_seen",
  "last_seen",
  "last_snapshot_at",
  "last_seq",
  "dropped_batches",
  "status",
  "revoked_at",
  "revoked_reason",
] as const;

export type Cell = string | number | boolean | null;

export interface ExportTable {
  columns: readonly string[];
  rows: Cell[][];
}

/** Hard cap on findings in one export, so a file stays a file. */
const MAX_FINDINGS = 10_000;

export function exportRows(db: Db, what: ExportKind, opts: { now: number; minScore: number; sinceMs: number | null }): ExportTable {
  if (what === "findings") {
    const report = buildReport(db, { nowMs: opts.now, top: MAX_FINDINGS, minScore: opts.minScore });
    let rows = findingRows(report);
    if (opts.sinceMs !== null) {
      const firstSeen = FINDING_COLUMNS.indexOf("host_first_seen");
      rows = rows.filter((r) => typeof r[firstSeen] === "string" && Date.parse(r[firstSeen] as string) >= opts.sinceMs!);
    }
    return { columns: FINDING_COLUMNS, rows };
  }
  if (what === "personas") {
    const personas = buildPersonaSection(db, opts.now).filter((p) => p.score >= opts.minScore && (opts.sinceMs === null || p.firstReportedMs >= opts.sinceMs));
    return { columns: PERSONA_COLUMNS, rows: personaRows(personas) };
  }
  if (what === "inventory") {
    const rows = db
      .prepare(
        `SELECT s.host_id, h.hostname, h.os, s.pid, coalesce(p.name, ''), coalesce(p.exe, ''), coalesce(p.user, ''), coalesce(p.cmdline, ''),
                s.transport, s.family, s.local_address, s.local_port, s.remote_address, s.remote_port, s.state, s.protocol, s.direction, s.tags, h.last_snapshot_at
           FROM sockets s JOIN hosts h ON h.host_id = s.host_id
           LEFT JOIN processes p ON p.host_id = s.host_id AND p.pid = s.pid AND s.pid != 0
          WHERE h.revoked_at IS NULL AND (? IS NULL OR h.last_snapshot_at >= ?)
          ORDER BY s.host_id, s.transport, s.local_port, s.remote_address, s.remote_port`,
      )
      .raw()
      .all(opts.sinceMs, opts.sinceMs) as Cell[][];
    for (const r of rows) {
      r[17] = (JSON.parse(String(r[17])) as Array<{ code: string }>).map((t) => t.code).join(" ");
      r[18] = isoOrEmpty(r[18] as number);
    }
    return { columns: INVENTORY_COLUMNS, rows };
  }
  const hosts = new HostStore(db).list(opts.now, 300_000).filter((h) => opts.sinceMs === null || h.enrolledAt >= opts.sinceMs);
  return {
    columns: AGENT_COLUMNS,
    rows: hosts.map((h) => [
      h.hostId,
      h.hostname,
      h.os,
      h.osVersion,
      h.agentVersion,
      isoOrEmpty(h.enrolledAt),
      isoOrEmpty(h.firstSeen),
      isoOrEmpty(h.lastSeen),
      isoOrEmpty(h.lastSnapshotAt),
      h.lastSeq,
      h.droppedBatches,
      h.revokedAt ? "revoked" : h.silent ? "silent" : "ok",
      isoOrEmpty(h.revokedAt),
      h.revokedReason ?? "",
    ]),
  };
}
