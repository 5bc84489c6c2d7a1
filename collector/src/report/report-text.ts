// The report as a terminal table: one line per finding, ranked, with its top
// reason. Every string in a Report came from an agent (os, protocol,
// transport and direction included), so each one passes through terminalSafe.

import { terminalSafe } from "@oddwire/shared";
import { countOf } from "./plural.js";
import { visibilitySentence } from "./fleet-visibility.js";
import { renderPersonaTable } from "../persona/persona-table.js";
import type { Report } from "./report-types.js";
import { blindSpotLines, sensorSentence } from "./sensor-text.js";

const REASON_WIDTH = 100;

export function renderReportTable(r: Report): string {
  const out: string[] = [];
  const os = Object.entries(r.fleet.byOs)
    .map(([k, v]) => `${v} ${terminalSafe(k)}`)
    .join(", ");
  out.push(
    `oddwire fleet rarity report, ${terminalSafe(r.generatedAt)}: ${countOf(r.fleet.hosts, "host")} (${os || "none"}), ${countOf(r.fleet.binaries, "binary")}, ${countOf(r.fleet.observations, "observation")}`,
  );
  const blind = visibilitySentence(r.visibility);
  if (blind) out.push(terminalSafe(blind));
  const sensors = sensorSentence(r.sensors);
  if (sensors) out.push(terminalSafe(sensors));
  if (r.fleet.smallFleet) out.push("small fleet (5 hosts or fewer): no fleet statistics; scores rest on the built-in knowledge");
  const personas = r.personas?.length ? `\nsuspected fake personas (oddwire-collector persona list for all of them):\n${renderPersonaTable(r.personas)}` : "";
  if (r.findings.length === 0) return out.concat("no findings", ...blindSpotLines(r.sensors)).join("\n") + "\n" + personas;
  const rows = r.findings.map((f) => [
    String(f.rank),
    f.score.toFixed(1),
    terminalSafe(f.binary.name),
    terminalSafe(`${f.protocol}/${f.transport} ${f.direction} ${f.port}${f.wireProtocol && f.wireProtocol !== f.protocol ? ` (wire: ${f.wireProtocol})` : ""}`),
    `${f.hostCount}/${f.binaryHostCount}`,
    terminalSafe(f.tags.join(",")),
    (f.suppressed ? "[suppressed] " : "") + terminalSafe(f.reasons[0] ?? "").slice(0, REASON_WIDTH),
  ]);
  const header = ["RANK", "SCORE", "BINARY", "PROTOCOL", "HOSTS", "TAGS", "WHY"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  out.push("", line(header), ...rows.map(line), ...blindSpotLines(r.sensors));
  return out.join("\n") + "\n" + personas;
}
