// Where the fleet is blind: which hosts record connections as they are made
// (events) and which see only what each snapshot catches, so a connection of
// two seconds between two snapshots is invisible there. Read from the latest
// Visibility each host's agent sent; summed up for the report and phrased in
// one sentence for the table and the page.

import type { VisibilityRows } from "../store/report-queries.js";
import type { ReportVisibility } from "./report-types.js";

/** Hosts listed by name in each list of the report at most (the counts cover all). */
export const MAX_VISIBILITY_HOSTS = 1000;

export function readVisibility({ counts, snapshotsOnly, dropping, dpiCounts, dpiOff }: VisibilityRows): ReportVisibility {
  return {
    hostsWithEvents: counts.events,
    hostsSnapshotsOnly: counts.snapshots,
    hostsUnknown: counts.unknown,
    dropped: { rate: counts.rate, records: counts.records, kernel: counts.kernel },
    snapshotsOnly,
    dropping,
    dpi: { ...dpiCounts, off: dpiOff },
  };
}

/**
 * One sentence on where the fleet is blind, as plain text (the caller
 * escapes it for its medium: every reason came from an agent). "" for an
 * empty fleet.
 */
export function visibilitySentence(v: ReportVisibility | undefined): string {
  if (!v) return "";
  const total = v.hostsWithEvents + v.hostsSnapshotsOnly + v.hostsUnknown;
  if (total === 0) return "";
  const parts: string[] = [];
  if (v.hostsSnapshotsOnly === 0 && v.hostsUnknown === 0) parts.push(`every host (${total}) records connections as they are made`);
  else {
    const blind = v.hostsSnapshotsOnly + v.hostsUnknown;
    const byReason = new Map<string, number>();
    for (const h of v.snapshotsOnly) byReason.set(h.reason || "no reason given", (byReason.get(h.reason || "no reason given") ?? 0) + 1);
    const reasons = [...byReason]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([r, n]) => `${r} (${n})`);
    const more = byReason.size > 3 ? `, ${byReason.size - 3} other reasons` : "";
    parts.push(
      `${blind} of ${total} host${total === 1 ? "" : "s"} ${blind === 1 ? "is" : "are"} blind to short connections (snapshots only)` +
        (reasons.length ? `: ${reasons.join(", ")}${more}` : "") +
        (v.hostsUnknown ? `${reasons.length ? "; " : ": "}${v.hostsUnknown} never said (an older agent)` : ""),
    );
  }
  const dropped = v.dropped.rate + v.dropped.records + v.dropped.kernel;
  if (dropped > 0)
    parts.push(
      `${dropped} connection event${dropped === 1 ? "" : "s"} dropped on ${v.dropping.length}${v.dropping.length >= MAX_VISIBILITY_HOSTS ? "+" : ""} host${v.dropping.length === 1 ? "" : "s"} (rate cap ${v.dropped.rate}, records cap ${v.dropped.records}, kernel buffer ${v.dropped.kernel})`,
    );
  return parts.join("; ");
}
