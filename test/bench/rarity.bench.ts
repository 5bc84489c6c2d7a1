// Benchmark: how well the rarity score ranks a labelled fleet (precision at
// K, K = anomalies planted; where each planted anomaly and each decoy
// ranks), and how long the report takes at 1,000 and 10,000 hosts against
// one plain aggregate pass over the observations (the baseline).

import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { runExport } from "oddwire-collector/export/export-run.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildReport } from "oddwire-collector/report/build-report.js";
import type { Finding } from "oddwire-collector/report/report-types.js";
import { snapshotOf } from "./fleet-gen.js";
import { loadFleet } from "./fleet-store.js";
import { labelledFleet, type Planted } from "./labelled-fleet.js";
import { fmt, median } from "./measure.js";

export interface QualityResult {
  hosts: number;
  k: number;
  precisionAtK: number;
  planted: Array<Planted & { rank: number | null; score: number | null }>;
  decoys: Array<Planted & { rank: number | null; score: number | null }>;
  allPlantedAboveDecoys: boolean;
}

function rankOf(findings: Finding[], p: Planted): { rank: number | null; score: number | null } {
  const f = findings.find((x) => x.binary.name.toLowerCase() === p.binary.toLowerCase() && x.protocol === p.protocol);
  return { rank: f?.rank ?? null, score: f?.score ?? null };
}

export function judge(findings: Finding[], planted: Planted[], decoys: Planted[], hosts: number): QualityResult {
  const k = planted.length;
  const p = planted.map((x) => ({ ...x, ...rankOf(findings, x) }));
  const d = decoys.map((x) => ({ ...x, ...rankOf(findings, x) }));
  const worstPlanted = Math.max(...p.map((x) => x.rank ?? Infinity));
  const bestDecoy = Math.min(...d.map((x) => x.rank ?? Infinity));
  return { hosts, k, precisionAtK: p.filter((x) => x.rank !== null && x.rank <= k).length / k, planted: p, decoys: d, allPlantedAboveDecoys: worstPlanted < bestDecoy };
}

export async function benchQuality(): Promise<QualityResult[]> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-rarity-"));
  try {
    const out: QualityResult[] = [];
    for (const [name, linux, windows] of [
      ["mixed", 200, 100],
      ["small", 2, 1],
    ] as const) {
      const fleet = labelledFleet({ linux, windows });
      const now = 1764300000000 + 3 * 86_400_000;
      const db = await loadFleet(join(dir, `${name}.db`), fleet.lines, 1764300000000);
      const report = await buildReport(db, { nowMs: now, top: 200 });
      await db.close();
      // In the small fleet only the anomalies that fit on its hosts are planted.
      out.push(judge(report.findings, fleet.planted, fleet.decoys, fleet.hosts));
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface ReportTiming {
  hosts: number;
  observations: number;
  reportMs: number;
  baselineMs: number;
  /** Scheduled-export cost on the same database: kind → [ms, rows, bytes]. */
  exports: Record<string, [number, number, number]>;
  /** Reading every socket row with its host, without writing (the inventory's baseline). */
  socketsScanMs: number;
}

export async function benchReportTime(hostCounts: number[]): Promise<ReportTiming[]> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-report-time-"));
  try {
    const out: ReportTiming[] = [];
    for (const hosts of hostCounts) {
      const opts = { hosts, snapshotsPerHost: 1, processes: 60, sockets: 30 };
      function* lines() {
        for (let h = 0; h < hosts; h++) yield JSON.stringify(snapshotOf(h, 0, opts));
      }
      const db = await loadFleet(join(dir, `t-${hosts}.db`), lines());
      const observations = (await db.sql.get<{ n: number }>("SELECT COUNT(*) AS n FROM observations"))!.n;
      const report: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < 3; i++) {
        let t0 = performance.now();
        await db.sql.all("SELECT binary, protocol, transport, direction, COUNT(DISTINCT host_id) FROM observations GROUP BY 1, 2, 3, 4");
        base.push(performance.now() - t0);
        t0 = performance.now();
        await buildReport(db, { nowMs: Date.now(), top: 50 });
        report.push(performance.now() - t0);
      }
      const exports: ReportTiming["exports"] = {};
      const outDir = join(dir, `exports-${hosts}`);
      mkdirSync(outDir);
      for (const what of ["findings", "inventory", "agents"] as const) {
        const t0 = performance.now();
        const r = await runExport(db, { name: "bench", cron: "* * * * *", what, dir: outDir, minScore: 0, onlyNew: false, timezone: "UTC", keep: 1 });
        exports[what] = [performance.now() - t0, r.rows, r.file ? statSync(r.file).size : 0];
      }
      const t1 = performance.now();
      await db.sql.all("SELECT s.*, h.hostname FROM sockets s JOIN hosts h ON h.host_id = s.host_id");
      const socketsScanMs = performance.now() - t1;
      await db.close();
      out.push({ hosts, observations, reportMs: median(report), baselineMs: median(base), exports, socketsScanMs });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printQuality(results: QualityResult[]): void {
  for (const r of results) {
    console.log(
      `\n## Rarity scoring on a labelled fleet of ${r.hosts} hosts: precision at K=${r.k}: ${fmt(r.precisionAtK * 100, 0)}%; every planted anomaly above every decoy: ${r.allPlantedAboveDecoys ? "yes" : "NO"}\n`,
    );
    console.log("| kind | what | binary / protocol | rank | score |");
    console.log("|---|---|---|---|---|");
    for (const p of r.planted) console.log(`| planted | ${p.what} | ${p.binary} / ${p.protocol} | ${p.rank ?? "absent"} | ${p.score ?? "-"} |`);
    for (const d of r.decoys) console.log(`| decoy | ${d.what} | ${d.binary} / ${d.protocol} | ${d.rank ?? "absent"} | ${d.score ?? "-"} |`);
  }
}

export function printReportTime(rows: ReportTiming[]): void {
  console.log("\n## Report time (top 50, medians of 3; target < 1 s at 10,000 hosts)\n");
  console.log("| hosts | observations | report ms | one aggregate pass ms (baseline) | ratio |");
  console.log("|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.hosts} | ${r.observations} | ${fmt(r.reportMs)} | ${fmt(r.baselineMs)} | ${fmt(r.reportMs / r.baselineMs, 2)} |`);
  console.log("\n## CSV export time on the same databases (one run each; the inventory's baseline is reading the same rows without writing)\n");
  console.log("| hosts | kind | ms | rows | MB | baseline: read sockets ms | ratio |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    for (const [what, [ms, n, bytes]] of Object.entries(r.exports)) {
      console.log(
        `| ${r.hosts} | ${what} | ${fmt(ms)} | ${n} | ${fmt(bytes / 1e6, 2)} | ${what === "inventory" ? fmt(r.socketsScanMs) : "-"} | ${what === "inventory" ? fmt(ms / r.socketsScanMs, 2) : "-"} |`,
      );
    }
  }
}
