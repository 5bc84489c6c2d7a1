// Parses the report's filters, shared by `oddwire-collector report` and the
// served page (query string), with errors that say what is wrong.

import { OddwireError } from "@oddwire/shared";
import type { ReportOptions } from "./build-report.js";

export const REPORT_FORMATS = ["table", "json", "html", "csv"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];
export const DEFAULT_TOP = 50;
export const MAX_TOP = 10_000;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "30m", "24h", "7d", "2w" → milliseconds; null when the text is not a duration. */
export function parseDurationMs(text: string): number | null {
  const m = /^(\d+)\s*([mhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]!]! : null;
}

/** "24h", "7d", "30m", "2w" or an ISO date → epoch ms. */
export function parseSince(text: string, now: number): number {
  const duration = parseDurationMs(text);
  if (duration !== null) return now - duration;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new OddwireError("ODW_ERR_USAGE", `--since takes a duration (30m, 24h, 7d, 2w) or an ISO date, not ${JSON.stringify(text)}`);
  return t;
}

export function reportOptionsFrom(v: Record<string, unknown>, now: number): ReportOptions {
  const num = (key: string, min: number, max: number): number | undefined => {
    if (v[key] === undefined || v[key] === "") return undefined;
    const n = Number(v[key]);
    if (!Number.isFinite(n) || n < min || n > max) throw new OddwireError("ODW_ERR_USAGE", `--${key} must be a number from ${min} to ${max}, not ${JSON.stringify(v[key])}`);
    return n;
  };
  const str = (key: string) => (typeof v[key] === "string" && v[key] !== "" ? (v[key] as string).slice(0, 512) : undefined);
  return {
    nowMs: now,
    top: Math.floor(num("top", 1, MAX_TOP) ?? DEFAULT_TOP),
    sinceMs: str("since") ? parseSince(str("since")!, now) : undefined,
    host: str("host"),
    binary: str("binary"),
    protocol: str("protocol"),
    tag: v["mismatch"] === true || v["mismatch"] === "true" || v["mismatch"] === "1" ? "wire-mismatch" : str("tag"),
    dest: str("dest")?.toLowerCase(),
    minScore: num("min-score", 0, 100),
    showSuppressed: v["show-suppressed"] === true || v["show-suppressed"] === "true" || v["show-suppressed"] === "1",
  };
}

export function reportFormat(value: unknown): ReportFormat {
  const f = (value ?? "table") as ReportFormat;
  if (!REPORT_FORMATS.includes(f)) throw new OddwireError("ODW_ERR_USAGE", `--format must be one of ${REPORT_FORMATS.join(", ")}, not ${JSON.stringify(value)}`);
  return f;
}
