// Personas as text: a terminal table (`persona list`, the report's table)
// and CSV rows (`persona list --format csv`, the `personas` export kind).
// Every field came from a stranger: terminalSafe in the table; the CSV
// writer neutralises formulas and controls. CSV columns are a contract
// (README "Exports"): add at the end, never reorder or rename.

import { terminalSafe } from "@oddwire/shared";
import { isoOrEmpty } from "../report/csv.js";
import { countOf } from "../report/plural.js";
import type { ReportPersona } from "./persona-types.js";

export const PERSONA_COLUMNS = [
  "id",
  "score",
  "state",
  "platform",
  "handle",
  "profile_url",
  "display_name",
  "claimed_employer",
  "claimed_title",
  "account_created",
  "last_changed",
  "requests",
  "requested_staff",
  "domains",
  "urls",
  "reasons",
  "matched_hosts",
  "matches",
  "reported_by",
  "reports",
  "first_reported",
  "last_reported",
  "state_changed",
  "last_contacted",
] as const;

export function personaRows(personas: readonly ReportPersona[]): Array<Array<string | number>> {
  return personas.map((p) => [
    p.id,
    p.score,
    p.state,
    p.platform,
    p.handle,
    p.profileUrl,
    p.displayName,
    p.claimedEmployer,
    p.claimedTitle,
    isoOrEmpty(p.createdMs),
    isoOrEmpty(p.changedMs),
    p.requests ?? "",
    p.requestedStaff.join("; "),
    p.domains.join(" "),
    p.urls.join(" "),
    p.reasons.join("; "),
    [...new Set(p.matches.map((m) => m.hostname || m.hostId))].join(" "),
    p.matches.map((m) => `${m.hostname || m.hostId} ${m.source} ${m.observed} ${isoOrEmpty(m.seenAtMs)}`).join("; "),
    [...new Set(p.reports.map((r) => r.reportedBy))].join("; "),
    p.reports.length,
    isoOrEmpty(p.firstReportedMs),
    isoOrEmpty(p.lastReportedMs),
    isoOrEmpty(p.stateChangedAtMs),
    isoOrEmpty(p.contactedMs),
  ]);
}

const CELL = 40;
const WHY = 100;

function cell(s: string, width = CELL): string {
  const safe = terminalSafe(s);
  return safe.length > width ? `${safe.slice(0, width - 1)}…` : safe;
}

/** One line per persona: id, score, state, platform and handle, display name, claimed employer, matched hosts, top reason. */
export function renderPersonaTable(personas: readonly ReportPersona[]): string {
  if (personas.length === 0) return "no personas\n";
  const header = ["ID", "SCORE", "STATE", "ACCOUNT", "DISPLAY NAME", "CLAIMS", "HOSTS", "WHY"];
  const rows = personas.map((p) => [
    String(p.id),
    String(p.score),
    p.state,
    cell(`${p.platform} ${p.handle}`),
    cell(p.displayName) || "-",
    cell(p.claimedEmployer) || "-",
    cell([...new Set(p.matches.map((m) => m.hostname || m.hostId))].join(",")) || "-",
    cell(p.reasons[0] ?? "", WHY),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line), countOf(personas.length, "persona")].join("\n") + "\n";
}
