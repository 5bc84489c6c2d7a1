// One export run: rows → a CSV file written under a temporary name, flushed
// and renamed (no reader ever sees half a file), then old files of the same
// schedule pruned to its retention count. Every run is recorded in
// export_runs with its outcome; a failure says why and leaves no temp file.

import { closeSync, fsyncSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Db } from "../store/open-db.js";
import { csvLine } from "../report/csv.js";
import type { ExportSchedule } from "./export-config.js";
import { exportRows } from "./export-rows.js";
import { createTempBeside, writeAll } from "./temp-file.js";

export interface ExportOutcome {
  status: "ok" | "failed";
  rows: number;
  file: string;
  error: string;
}

const CHUNK = 1 << 20;

export function fileStamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, "");
}

export function runExport(db: Db, s: ExportSchedule, now = Date.now()): ExportOutcome {
  const runId = Number(db.prepare("INSERT INTO export_runs (schedule, what, started_at, status) VALUES (?, ?, ?, 'running')").run(s.name, s.what, now).lastInsertRowid);
  const final = join(s.dir, `${s.name}-${s.what}-${fileStamp(now)}.csv`);
  let tmp: string | null = null;
  let outcome: ExportOutcome;
  try {
    if (!statSync(s.dir).isDirectory()) throw new Error(`${s.dir} is not a directory`);
    const last = s.onlyNew ? (db.prepare("SELECT max(started_at) AS at FROM export_runs WHERE schedule = ? AND status = 'ok'").get(s.name) as { at: number | null }).at : null;
    const table = exportRows(db, s.what, { now, minScore: s.minScore, sinceMs: last });
    // A random, exclusively created name: nothing planted in the directory can redirect or block the write.
    const created = createTempBeside(final, 0o640);
    tmp = created.path;
    const fd = created.fd;
    try {
      let buf = csvLine([...table.columns]);
      for (const row of table.rows) {
        buf += csvLine(row);
        if (buf.length >= CHUNK) {
          writeAll(fd, buf);
          buf = "";
        }
      }
      writeAll(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
    prune(s);
    outcome = { status: "ok", rows: table.rows.length, file: final, error: "" };
  } catch (err) {
    if (tmp !== null) rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    outcome = { status: "failed", rows: 0, file: "", error: e.code && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message };
  }
  db.prepare("UPDATE export_runs SET finished_at = ?, status = ?, rows = ?, file = ?, error = ? WHERE id = ?").run(
    Date.now(),
    outcome.status,
    outcome.rows,
    outcome.file,
    outcome.error,
    runId,
  );
  return outcome;
}

function prune(s: ExportSchedule): void {
  const pattern = new RegExp(`^${s.name}-${s.what}-\\d{8}T\\d{6}\\.\\d{3}Z\\.csv$`);
  const files = readdirSync(s.dir)
    .filter((f) => pattern.test(f))
    .sort();
  for (const f of files.slice(0, Math.max(0, files.length - s.keep))) rmSync(join(s.dir, f), { force: true });
}

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

/** The latest run of every schedule. */
export function lastExports(db: Db): ExportStatus[] {
  return db
    .prepare(`SELECT schedule, what, status, started_at AS startedAt, finished_at AS finishedAt, rows, file, error FROM export_runs
                 WHERE id IN (SELECT max(id) FROM export_runs GROUP BY schedule) ORDER BY schedule`)
    .all() as ExportStatus[];
}
