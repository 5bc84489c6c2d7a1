// Benchmark: the report's persona section (every persona scored and matched
// against the command lines the fleet runs) at 1,000 and 10,000 hosts with
// 100 personas of two domains and a URL each, against one plain pass of
// LIKE over every stored command line (the baseline: what reading the
// command lines once costs).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parsePersonaInput } from "oddwire-collector/persona/persona-input.js";
import { buildPersonaSection } from "oddwire-collector/persona/persona-section.js";
import { PersonaStore } from "oddwire-collector/store/personas.js";
import { snapshotOf } from "./fleet-gen.js";
import { loadFleet } from "./fleet-store.js";
import { fmt, median } from "./measure.js";

export interface PersonaTiming {
  hosts: number;
  processes: number;
  personas: number;
  sectionMs: number;
  baselineMs: number;
}

export async function benchPersonas(hostCounts: number[], personas = 100): Promise<PersonaTiming[]> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-persona-"));
  try {
    const out: PersonaTiming[] = [];
    for (const hosts of hostCounts) {
      const opts = { hosts, snapshotsPerHost: 1, processes: 60, sockets: 30 };
      function* lines() {
        for (let h = 0; h < hosts; h++) yield JSON.stringify(snapshotOf(h, 0, opts));
      }
      const db = loadFleet(join(dir, `p-${hosts}.db`), lines());
      const store = new PersonaStore(db);
      const now = Date.now();
      for (let i = 0; i < personas; i++) {
        const input = parsePersonaInput(
          {
            platform: "linkedin",
            handle: `recruiter-${i}`,
            displayName: `Recruiter ${i}`,
            claimedEmployer: "Example Corp",
            domains: [`careers-${i}.example`, `jobs-${i}.example`],
            urls: [`https://apply-${i}.example/x`],
          },
          now,
        );
        store.add(input, { source: "bench", nowMs: now });
      }
      store.replaceRoster(Array.from({ length: 2000 }, (_, i) => ({ name: `Staff ${i}`, folded: `staff${i}`, login: `staff${i}` })));
      const processes = (db.prepare("SELECT COUNT(*) AS n FROM processes").get() as { n: number }).n;
      const section: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < 3; i++) {
        let t0 = performance.now();
        db.prepare("SELECT host_id, pid, cmdline FROM processes WHERE cmdline LIKE ?").all("%careers-0.example%");
        base.push(performance.now() - t0);
        t0 = performance.now();
        buildPersonaSection(db, now);
        section.push(performance.now() - t0);
      }
      db.close();
      out.push({ hosts, processes, personas, sectionMs: median(section), baselineMs: median(base) });
    }
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printPersonaBench(rows: PersonaTiming[]): void {
  console.log("\n## Persona section of the report (score + match every persona; medians of 3)\n");
  console.log("| hosts | processes | personas | section ms | one LIKE pass over command lines ms (baseline) | ratio |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.hosts} | ${r.processes} | ${r.personas} | ${fmt(r.sectionMs)} | ${fmt(r.baselineMs)} | ${fmt(r.sectionMs / r.baselineMs, 2)} |`);
}
