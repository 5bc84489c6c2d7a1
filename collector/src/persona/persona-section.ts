// The report's `personas`: every stored persona scored against the staff
// roster and matched against what the fleet did, highest score first; and
// the other half of the link, a reason on each finding whose process is
// one a persona's match names.

import type { Db } from "../store/open-db.js";
import { PersonaStore, readCommandLineObservations, readDestinationNameObservations } from "../store/personas.js";
import type { Finding } from "../report/report-types.js";
import { matchDomains, matchPersona, type FleetObservation } from "./match-persona.js";
import type { ReportPersona } from "./persona-types.js";
import { matchSentence, scorePersona } from "./score-persona.js";

/**
 * What the fleet did that can link it to a persona's domains: command lines
 * (processes, connection records) that name them, and the destination names
 * the hosts reached (TLS SNI, HTTP Host, DNS questions; agent --dpi) under them.
 */
export function fleetObservations(db: Db, domains: readonly string[]): FleetObservation[] {
  return [...readCommandLineObservations(db, domains), ...(hasDestinationNames(db) ? readDestinationNameObservations(db, domains) : [])];
}

/** True when the database has the destination-name table (a read-only open of an older database may not). */
function hasDestinationNames(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'destination_names'").get() !== undefined;
}

/** True when the database has the persona tables (a read-only open of an older database may not). */
function hasPersonas(db: Db): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'personas'").get() !== undefined;
}

/** The personas, scored and matched; with findings, each finding a match names gets the link too (linkFindings). */
export function buildPersonaSection(db: Db, nowMs: number, findings: Finding[] = []): ReportPersona[] {
  if (!hasPersonas(db)) return [];
  const store = new PersonaStore(db);
  const personas = store.list();
  if (personas.length === 0) return [];
  const roster = store.roster();
  const domains = [...new Set(personas.filter((p) => p.state !== "dismissed").flatMap((p) => matchDomains(p)))];
  const observations = domains.length > 0 ? fleetObservations(db, domains) : [];
  const out = personas
    .map((p): ReportPersona => {
      // A dismissed persona is kept for the record; it is not matched or scored again.
      const matches = p.state === "dismissed" ? [] : matchPersona(p, observations);
      const s = p.state === "dismissed" ? { score: 0, reasons: ["dismissed in triage"] } : scorePersona(p, { nowMs, roster, matches });
      return { ...p, score: s.score, reasons: s.reasons, matches };
    })
    .sort((a, b) => b.score - a.score || b.lastReportedMs - a.lastReportedMs || a.id - b.id);
  linkFindings(findings, out, roster);
  return out;
}

/**
 * Adds the persona link to the findings whose host and process a persona's
 * match names: a reason in words and "persona" among the evidence. The
 * score is left as it is (the finding ranks on what the binary did).
 */
export function linkFindings(findings: Finding[], personas: readonly ReportPersona[], roster: ReadonlyArray<{ name: string; login: string }> = []): void {
  for (const f of findings) {
    for (const p of personas) {
      const m = p.matches.find((m) => f.hosts.some((h) => h.hostId === m.hostId && ((m.pid > 0 && h.pid === m.pid) || (m.cmdline !== "" && h.cmdline === m.cmdline))));
      if (!m) continue;
      f.reasons.push(`linked by persona #${p.id} (${p.platform} ${p.handle}, triage ${p.state}): ${matchSentence(m, p, roster)}`);
      if (!f.evidence.includes("persona")) f.evidence.push("persona");
    }
  }
}
