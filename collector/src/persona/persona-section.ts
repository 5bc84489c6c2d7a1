// The report's `personas`: every stored persona scored against the staff
// roster and matched against what the fleet did, highest score first; and
// the other half of the link, a reason on each finding whose process is
// one a persona's match names.

import type { PersonaStore } from "../store/personas.js";
import type { Finding } from "../report/report-types.js";
import { matchDomains, matchPersona, type FleetObservation } from "./match-persona.js";
import type { ReportPersona } from "./persona-types.js";
import { matchSentence, scorePersona } from "./score-persona.js";

/**
 * What the fleet did that can link it to a persona's domains: command lines
 * (processes, connection records) that name them, and the destination names
 * the hosts reached (TLS SNI, HTTP Host, DNS questions; agent --dpi) under them.
 */
export async function fleetObservations(store: PersonaStore, domains: readonly string[]): Promise<FleetObservation[]> {
  return [...(await store.commandLineObservations(domains)), ...(await store.destinationNameObservations(domains))];
}

/** The personas, scored and matched; with findings, each finding a match names gets the link too (linkFindings). */
export async function buildPersonaSection(src: { personas: PersonaStore }, nowMs: number, findings: Finding[] = []): Promise<ReportPersona[]> {
  const store = src.personas;
  // A read-only open of a database older than the persona tables has none.
  const personas = await store.list().catch(() => []);
  if (personas.length === 0) return [];
  const roster = await store.roster();
  const domains = [...new Set(personas.filter((p) => p.state !== "dismissed").flatMap((p) => matchDomains(p)))];
  const observations = domains.length > 0 ? await fleetObservations(store, domains) : [];
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
