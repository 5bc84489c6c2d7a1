// `oddwire-collector sensor-import --db FILE PATH...`: reads Zeek (TSV or
// JSON) and Suricata eve.json files once, each from where an earlier import
// (or the collector following its directory) stopped. Per-line errors are
// shown and counted; the lines that were good are kept.

import { statSync, type Stats } from "node:fs";
import { OddwireError, parseByteSize, terminalSafe } from "@oddwire/shared";
import { existingDbPath } from "../serve-config.js";
import { openDb } from "../store/open-db.js";
import { SensorStore } from "../store/sensor-evidence.js";
import { readSensorFile, type FileReadResult } from "./sensor-file.js";
import { listSensorFiles } from "./sensor-files.js";

export const DEFAULT_SENSOR_MAX_LINE = "64KiB";
const PROGRESS_MS = 2000;

export async function sensorImport(
  values: Record<string, unknown>,
  paths: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  if (paths.length === 0) throw new OddwireError("ODW_ERR_USAGE", "sensor-import needs at least one PATH: a Zeek log (TSV or JSON), a Suricata eve.json, or a directory of them");
  const maxLineBytes = parseByteSize((values["max-line-bytes"] as string | undefined) ?? DEFAULT_SENSOR_MAX_LINE, "--max-line-bytes");
  const files: Array<{ path: string; st: Stats }> = [];
  for (const p of paths) {
    let st: Stats;
    try {
      st = statSync(p);
    } catch (e) {
      throw new OddwireError(
        "ODW_ERR_INPUT",
        `${p}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give a sensor log file or a directory of them`,
        {
          cause: e,
        },
      );
    }
    if (st.isDirectory()) files.push(...(await listSensorFiles(p)));
    else files.push({ path: p, st });
  }
  const db = openDb(existingDbPath(values["db"]));
  const store = new SensorStore(db);
  let failed = 0;
  try {
    for (const { path, st } of files) {
      let lastShown = Date.now();
      const r: FileReadResult = await readSensorFile(store, path, st, {
        maxLineBytes,
        batchLines: 20_000,
        onProgress: (p) => {
          if (Date.now() - lastShown < PROGRESS_MS) return;
          lastShown = Date.now();
          err.write(`oddwire-collector: ${terminalSafe(path)}: ${mib(p.bytesRead)} of ${mib(st.size)} read, ${p.lines} lines\n`);
        },
      });
      out.write(summary(r));
      if (!r.format && !r.skippedAsKnown && st.size > 0) failed++;
    }
  } finally {
    db.close();
  }
  return failed > 0 ? 1 : 0;
}

const mib = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

function summary(r: FileReadResult): string {
  const name = terminalSafe(r.path);
  if (r.skippedAsKnown) return `${name}: already read to its end\n`;
  if (!r.format) return `${name}: not a Zeek or Suricata log (first line has no #separator/#fields header, no Zeek JSON keys, no event_type): skipped\n`;
  const lines = [
    `${name}: ${r.format}, ${r.lines} line${r.lines === 1 ? "" : "s"} read${r.resumedAt > 0 ? ` (from byte ${r.resumedAt}, where the last read stopped)` : ""}, ${r.stored} kept as evidence, ${r.errors} rejected, ${r.tooLong} too long`,
  ];
  for (const e of r.errorSamples) lines.push(`  line ${e.line}: ${terminalSafe(e.error)}`);
  if (r.errors > r.errorSamples.length) lines.push(`  … ${r.errors - r.errorSamples.length} more rejected lines`);
  if (r.pendingBytes > 0) lines.push(`  the last line has no newline yet (${r.pendingBytes} bytes): left for the next import`);
  return `${lines.join("\n")}\n`;
}
