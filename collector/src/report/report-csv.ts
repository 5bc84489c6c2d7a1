// The report as CSV: one row per finding and host, with that host's command
// line and ancestry, so a spreadsheet or SIEM needs nothing else. Columns are
// a contract (README "Report CSV columns"): add at the end, never reorder.

import { csvLine, isoOrEmpty } from "./csv.js";
import type { Report, SensorEvidence } from "./report-types.js";

export const FINDING_COLUMNS = [
  "rank",
  "score",
  "binary_name",
  "binary_path",
  "sha256",
  "protocol",
  "transport",
  "port",
  "port_class",
  "direction",
  "host_count",
  "binary_host_count",
  "tags",
  "reasons",
  "evidence",
  "suppressed",
  "host_id",
  "hostname",
  "pid",
  "user",
  "cmdline",
  "ancestry",
  "host_first_seen",
  "host_last_seen",
  "host_ports",
  "sensor_evidence",
  "wire_protocol",
  "risks",
  "destination_names",
] as const;

/** One row per finding and host (a finding with no host row left gets one row of its own). */
export function findingRows(r: Report): Array<Array<string | number>> {
  const rows: Array<Array<string | number>> = [];
  for (const f of r.findings) {
    const common = [
      f.rank,
      f.score,
      f.binary.name,
      f.binary.path,
      f.binary.sha256,
      f.protocol,
      f.transport,
      f.port,
      f.portClass,
      f.direction,
      f.hostCount,
      f.binaryHostCount,
      f.tags.join(" "),
      f.reasons.join("; "),
      f.evidence.filter((e) => typeof e === "string").join(" "),
      f.suppressed ? f.suppressed.reason : "",
    ];
    const hosts = f.hosts.length ? f.hosts : [null];
    for (const h of hosts) {
      rows.push([
        ...common,
        h?.hostId ?? "",
        h?.hostname ?? "",
        h?.pid ?? "",
        h?.user ?? "",
        h?.cmdline ?? "",
        h?.ancestry ?? "",
        isoOrEmpty(h?.firstSeenMs ?? 0),
        isoOrEmpty(h?.lastSeenMs ?? 0),
        h?.ports.join(" ") ?? "",
        sensorCell(f, h?.hostId),
        f.wireProtocol ?? "",
        (f.risks ?? []).join("; "),
        (f.destinationNames ?? []).join(" "),
      ]);
    }
  }
  return rows;
}

/** This host's network sensor evidence on the finding: "Zeek weird: x (community-id, high); ...". */
function sensorCell(f: Report["findings"][number], hostId: string | undefined): string {
  return f.evidence
    .filter((e): e is SensorEvidence => typeof e !== "string" && (hostId === undefined || e.hostId === hostId))
    .map((e) => `${e.text} (${e.side}, ${e.join}, ${e.confidence})`)
    .join("; ");
}

export function renderReportCsv(r: Report): string {
  let out = csvLine([...FINDING_COLUMNS]);
  for (const row of findingRows(r)) out += csvLine(row);
  return out;
}
