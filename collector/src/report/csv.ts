// CSV as RFC 4180 says (header row, CRLF line ends, fields quoted when they
// hold a comma or quote; quotes doubled), UTF-8, made safe twice over:
// - for a terminal (`cat`, `less -r`, `tail -f` of an export): every control
//   character (C0 including tab, CR and LF; DEL; C1), line separator and bidi
//   control inside a field is written as a visible escape, \xNN or \uNNNN,
//   the way terminalSafe prints it, so the only raw controls in the file are
//   the CRLF record ends. Such a field is not byte-for-byte the agent's
//   string; the JSON report carries the exact strings.
// - for a spreadsheet (OWASP's formula-injection defence): a field that
//   starts with =, +, - or @ gets a leading apostrophe, so it is shown as text
//   instead of evaluated. To read the value back, drop one leading apostrophe
//   from a field whose second character is one of those.

import { terminalSafe } from "@oddwire/shared";

const TRIGGER = /^[=+\-@\t\r\n\0]/;

export function neutralise(value: string): string {
  return TRIGGER.test(value) ? `'${value}` : value;
}

export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? neutralise(terminalSafe(value)) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(fields: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return fields.map(csvField).join(",") + "\r\n";
}

/** A time as CSV carries it: ISO 8601 UTC, empty when unknown. */
export function isoOrEmpty(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString() : "";
}
