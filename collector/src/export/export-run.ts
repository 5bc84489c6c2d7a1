// One export run: rows → a CSV file written under a temporary name, flushed
// and renamed (no reader ever sees half a file), then old files of the same
// schedule pruned to its retention count. Every run is recorded in
// export_runs with its outcome; a failure says why and leaves no temp file.

import { closeSync, fsyncSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { csvLine } from "../report/csv.js";
import type { ExportStatus } from "../store/export-store.js";
import type { ExportSchedule } from "./export-config.js";
import { exportRows, type ExportSource } from "./export-rows.js";
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

export async function runExport(store: ExportSource, s: ExportSchedule, now = Date.now()): Promise<ExportOutcome> {
  const runId = await store.exports.startRun(s.name, s.what, now);
  const final = join(s.dir, `${s.name}-${s.what}-${fileStamp(now)}.csv`);
  let tmp: string | null = null;
  let outcome: ExportOutcome;
  try {
    if (!statSync(s.dir).isDirectory()) throw new Error(`${s.dir} is not a directory`);
    const last = s.onlyNew ? await store.exports.lastOk(s.name) : null;
    const table = exportRows(store, s.what, { now, minScore: s.minScore, sinceMs: last });
    // A random, exclusively created name: nothing planted in the directory can redirect or block the write.
    const created = createTempBeside(final, 0o640);
    tmp = created.path;
    const fd = created.fd;
    let rows = 0;
    try {
      let buf = csvLine([...table.columns]);
      for await (const chunk of table.rows) {
        for (const row of chunk) {
          buf += csvLine(row);
          if (buf.length >= CHUNK) {
            writeAll(fd, buf);
            buf = "";
          }
        }
        rows += chunk.length;
      }
      writeAll(fd, buf);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
    prune(s);
    outcome = { status: "ok", rows, file: final, error: "" };
  } catch (err) {
    if (tmp !== null) rmSync(tmp, { force: true });
    const e = err as NodeJS.ErrnoException;
    outcome = { status: "failed", rows: 0, file: "", error: e.code && !e.message.startsWith(e.code) ? `${e.code}: ${e.message}` : e.message };
  }
  await store.exports.finishRun(runId, Date.now(), outcome);
  return outcome;
}

function prune(s: ExportSchedule): void {
  const pattern = new RegExp(`^${s.name}-${s.what}-\\d{8}T\\d{6}\\.\\d{3}Z\\.csv$`);
  const files = readdirSync(s.dir)
    .filter((f) => pattern.test(f))
    .sort();
  for (const f of files.slice(0, Math.max(0, files.length - s.keep))) rmSync(join(s.dir, f), { force: true });
}

export type { ExportStatus };
