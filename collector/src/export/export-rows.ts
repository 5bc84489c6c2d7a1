// The rows of each export kind. Columns are a contract (README "Exports"):
// add at the end, never reorder or rename.

import type { Store } from "../store/store.js";
import { buildReport, type ReportSource } from "../report/build-report.js";
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
  /** The rows a chunk at a time: an export holds one chunk, not the fleet. */
  rows: AsyncIterable<Cell[][]>;
}

/** Hard cap on findings in one export, so a file stays a file. */
const MAX_FINDINGS = 10_000;

export type ExportSource = ReportSource & Pick<Store, "hosts" | "exports">;

export function exportRows(store: ExportSource, what: ExportKind, opts: { now: number; minScore: number; sinceMs: number | null }): ExportTable {
  if (what === "findings") return { columns: FINDING_COLUMNS, rows: findingChunks(store, opts) };
  if (what === "personas") return { columns: PERSONA_COLUMNS, rows: personaChunks(store, opts) };
  if (what === "inventory") return { columns: INVENTORY_COLUMNS, rows: inventoryChunks(store, opts.sinceMs) };
  return { columns: AGENT_COLUMNS, rows: agentChunks(store, opts) };
}

async function* findingChunks(store: ReportSource, opts: { now: number; minScore: number; sinceMs: number | null }): AsyncIterable<Cell[][]> {
  const report = await buildReport(store, { nowMs: opts.now, top: MAX_FINDINGS, minScore: opts.minScore });
  let rows = findingRows(report);
  if (opts.sinceMs !== null) {
    const firstSeen = FINDING_COLUMNS.indexOf("host_first_seen");
    rows = rows.filter((r) => typeof r[firstSeen] === "string" && Date.parse(r[firstSeen] as string) >= opts.sinceMs!);
  }
  yield rows;
}

async function* personaChunks(store: ExportSource, opts: { now: number; minScore: number; sinceMs: number | null }): AsyncIterable<Cell[][]> {
  const personas = (await buildPersonaSection(store, opts.now)).filter((p) => p.score >= opts.minScore && (opts.sinceMs === null || p.firstReportedMs >= opts.sinceMs));
  yield personaRows(personas);
}

async function* inventoryChunks(store: Pick<Store, "exports">, sinceMs: number | null): AsyncIterable<Cell[][]> {
  for await (const chunk of store.exports.inventory(sinceMs)) {
    yield chunk.map((r) => [
      r.host_id,
      r.hostname,
      r.os,
      r.pid,
      r.process_name,
      r.exe,
      r.user,
      r.cmdline,
      r.transport,
      r.family,
      r.local_address,
      r.local_port,
      r.remote_address,
      r.remote_port,
      r.state,
      r.protocol,
      r.direction,
      (JSON.parse(r.tags) as Array<{ code: string }>).map((t) => t.code).join(" "),
      isoOrEmpty(r.last_snapshot_at),
    ]);
  }
}

async function* agentChunks(store: Pick<Store, "hosts">, opts: { now: number; sinceMs: number | null }): AsyncIterable<Cell[][]> {
  for await (const chunk of store.hosts.each(opts.now, 300_000)) {
    yield chunk
      .filter((h) => opts.sinceMs === null || h.enrolledAt >= opts.sinceMs)
      .map((h) => [
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
      ]);
  }
}
