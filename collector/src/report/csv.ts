// CSV as RFC 4180 says (header row, CRLF line ends, fields quoted when they
// hold a comma, quote, CR or LF; quotes doubled), UTF-8, with OWASP's
// defence against formula injection: a field that starts with =, +, -, @,
// tab, CR, LF or NUL gets a leading apostrophe, so a spreadsheet shows it as
// text instead of evaluating it. To read the original value back, drop one
// leading apostrophe from a field whose second character is one of those.

const TRIGGER = /^[=+\-@\t\r\n\0]/;

export function neutralise(value: string): string {
  return TRIGGER.test(value) ? `'${value}` : value;
}

export function csvField(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return "";
  const text = typeof value === "string" ? neutralise(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function csvLine(fields: ReadonlyArray<string | number | boolean | null | undefined>): string {
  return fields.map(csvField).join(",") + "\r\n";
}

/** A time as CSV carries it: ISO 8601 UTC, empty when unknown. */
export function isoOrEmpty(ms: number | null | undefined): string {
  return ms ? new Date(ms).toISOString() : "";
}
