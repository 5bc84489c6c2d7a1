// Sensor log ingest: lines per second that `sensor-import` takes into the
// database, against reading the same file alone (a stream split into lines,
// nothing parsed, in the same process and run): Zeek conn.log TSV, Zeek JSON
// and Suricata eve.json, each with 1 line in 100 evidence (kept) and the
// rest plain flows (parsed, passed over), as a busy sensor writes them.

import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readSensorFile } from "oddwire-collector/sensor/sensor-file.js";
import { openDb } from "oddwire-collector/store/open-db.js";
import { SensorStore } from "oddwire-collector/store/sensor-evidence.js";
import { fmt, median } from "./measure.js";

interface Row {
  format: string;
  lines: number;
  mb: number;
  readMs: number;
  ingestMs: number;
  kept: number;
}

function conn(i: number): string {
  const svc = i % 100 === 0 ? "ssh" : "ssl";
  return `1764612375.${String(i % 1e6).padStart(6, "0")}\tC${i}\t10.0.${(i >> 8) & 255}.${i & 255}\t${1024 + (i % 60000)}\t203.0.113.7\t443\ttcp\t${svc}\t0.5\t100\t200\tSF\tT\tF\t0\tShADadFf\t10\t600\t9\t700\t(empty)\t1:abcdefghijklmnopqrstuvwxyz0=`;
}

function makeFile(dir: string, format: string, lines: number): string {
  const parts: string[] = [];
  if (format === "zeek-tsv")
    parts.push(
      "#separator \\x09",
      "#path\tconn",
      "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\ttunnel_parents\tcommunity_id",
    );
  for (let i = 0; i < lines; i++) {
    if (format === "zeek-tsv") parts.push(conn(i));
    else if (format === "zeek-json")
      parts.push(
        JSON.stringify({
          ts: 1764612375 + i / 1e3,
          uid: `C${i}`,
          "id.orig_h": "10.0.0.5",
          "id.orig_p": 1024 + (i % 60000),
          "id.resp_h": "203.0.113.7",
          "id.resp_p": 443,
          proto: "tcp",
          service: i % 100 === 0 ? "ssh" : "ssl",
          duration: 0.5,
          conn_state: "SF",
          history: "ShADadFf",
          community_id: "1:abcdefghijklmnopqrstuvwxyz0=",
        }),
      );
    else
      parts.push(
        JSON.stringify({
          timestamp: "2026-12-01T18:06:15.123456+0000",
          flow_id: 1e15 + i,
          event_type: "flow",
          src_ip: "10.0.0.5",
          src_port: 1024 + (i % 60000),
          dest_ip: "203.0.113.7",
          dest_port: 443,
          proto: "TCP",
          app_proto: i % 100 === 0 ? "ssh" : "tls",
          community_id: "1:abcdefghijklmnopqrstuvwxyz0=",
          flow: {
            pkts_toserver: 10,
            pkts_toclient: 9,
            bytes_toserver: 600,
            bytes_toclient: 700,
            start: "2026-12-01T18:06:15.000000+0000",
            end: "2026-12-01T18:06:16.000000+0000",
            state: "closed",
            reason: "timeout",
          },
        }),
      );
  }
  const path = join(dir, format === "suricata-eve" ? "eve.json" : format === "zeek-json" ? "conn.json" : "conn.log");
  writeFileSync(path, `${parts.join("\n")}\n`);
  return path;
}

/** Reading alone: the file streamed and split at newlines, as the ingest does before parsing. */
async function readOnly(path: string): Promise<number> {
  let lines = 0;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(0x0a); i >= 0; i = chunk.indexOf(0x0a, i + 1)) lines++;
  }
  return lines;
}

export async function benchSensor(opts: { lines: number; rounds: number }): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-bench-sensor-"));
  try {
    const rows: Row[] = [];
    for (const format of ["zeek-tsv", "zeek-json", "suricata-eve"]) {
      const path = makeFile(dir, format, opts.lines);
      await readOnly(path); // warm the page cache
      const reads: number[] = [];
      const ingests: number[] = [];
      let kept = 0;
      for (let r = 0; r < opts.rounds; r++) {
        let t0 = performance.now();
        await readOnly(path);
        reads.push(performance.now() - t0);
        const dbPath = join(dir, `bench-${format}-${r}.db`);
        const db = openDb(dbPath, { sync: "normal" });
        t0 = performance.now();
        const res = await readSensorFile(new SensorStore(db), path, statSync(path), { maxLineBytes: 65536, batchLines: 20_000 });
        ingests.push(performance.now() - t0);
        kept = res.stored;
        db.close();
        rmSync(dbPath, { force: true });
        rmSync(`${dbPath}-wal`, { force: true });
        rmSync(`${dbPath}-shm`, { force: true });
      }
      rows.push({ format, lines: opts.lines, mb: statSync(path).size / 1048576, readMs: median(reads), ingestMs: median(ingests), kept });
      rmSync(path);
    }
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printSensorBench(rows: Row[]): void {
  console.log("\n## Sensor log ingest (sensor-import's reader) vs reading the file alone (medians, same run)\n");
  console.log("| format | lines | MB | read alone ms | read lines/s | ingest ms | ingest lines/s | ratio (ingest / read) | kept |");
  console.log("|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    console.log(
      `| ${r.format} | ${r.lines} | ${fmt(r.mb)} | ${fmt(r.readMs)} | ${fmt(r.lines / (r.readMs / 1000), 0)} | ${fmt(r.ingestMs)} | ${fmt(r.lines / (r.ingestMs / 1000), 0)} | ${fmt(r.ingestMs / r.readMs, 1)} | ${r.kept} |`,
    );
  }
}
