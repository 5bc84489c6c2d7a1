// Network sensor evidence in words, for the table and the page: a flow as
// "a:p → b:p/tcp", the sensors' one-sentence summary and the blind-spot
// lines. Plain text: every field came from a sensor's log, so callers escape
// it for their medium (terminalSafe here for the table).

import { terminalSafe } from "@oddwire/shared";
import type { ReportSensors } from "./report-types.js";

/** Blind-spot entries listed at most (the counts cover all). */
export const MAX_BLIND_SPOTS = 1000;

/** "127.0.0.1:40112 → 127.0.0.1:8080/tcp" ("[::1]:…" for IPv6). */
export function flowText(f: { transport: string; origAddress: string; origPort: number; respAddress: string; respPort: number }): string {
  const at = (a: string, p: number) => `${a.includes(":") ? `[${a}]` : a}${p ? `:${p}` : ""}`;
  return `${at(f.origAddress || "?", f.origPort)} → ${at(f.respAddress || "?", f.respPort)}${f.transport ? `/${f.transport}` : ""}`;
}

/** One sentence on the sensors for the table and the page (plain text: callers escape it). */
export function sensorSentence(s: ReportSensors | undefined): string {
  if (!s) return "";
  return `network sensors: ${s.events} evidence line${s.events === 1 ? "" : "s"}${s.joined < s.events ? ` (the newest ${s.joined} joined)` : ""}, ${s.matched} joined to a process, ${s.unmatched} with no agent behind them (blind spots)`;
}

/** The blind-spot list for a terminal: one line each, every field terminal-safe. */
export function blindSpotLines(s: ReportSensors | undefined, max = 20): string[] {
  if (!s || s.blindSpots.length === 0) return [];
  const lines = s.blindSpots.slice(0, max).map((b) => `  ${terminalSafe(flowText(b))}  ${terminalSafe(b.text)}  [${terminalSafe(b.reason)}]`);
  if (s.unmatched > lines.length) lines.push(`  … ${s.unmatched - lines.length} more (--format json lists up to ${MAX_BLIND_SPOTS})`);
  return ["", "sensor anomalies with no agent behind them (blind spots):", ...lines];
}
