// Reading a CSV of personas, as monitoring services export them: RFC 4180
// (quoted fields, doubled quotes, CRLF or LF), a header row naming the
// columns. Column names are matched loosely ("Display Name", display_name,
// displayName) to the persona fields; a few common export spellings are
// taken as aliases; columns that name no field are reported and ignored. A
// list cell (domains, urls, requested_staff) is split on ";", "|" or new
// lines. Pure: the file's text in, raw reports out, validated by the caller.

import { OddwireError } from "@oddwire/shared";
import { PERSONA_KEYS, PERSONA_LIMITS } from "./persona-input.js";

/** Bytes of a CSV file read at most; rows at most. */
export const MAX_CSV_BYTES = 16 * 1024 * 1024;
export const MAX_CSV_ROWS = 20_000;
const MAX_FIELDS = 64;

const ALIASES: Record<string, string> = {
  network: "platform",
  site: "platform",
  username: "handle",
  account: "handle",
  url: "profileUrl",
  profile: "profileUrl",
  name: "displayName",
  employer: "claimedEmployer",
  company: "claimedEmployer",
  title: "claimedTitle",
  jobTitle: "claimedTitle",
  accountCreated: "created",
  createdAt: "created",
  lastChanged: "changed",
  changedAt: "changed",
  lastContact: "contacted",
  contactedAt: "contacted",
  messageDate: "contacted",
  requestedAt: "contacted",
  connectionRequests: "requests",
  requested: "requestedStaff",
  targets: "requestedStaff",
  domain: "domains",
  linkedDomains: "domains",
  linkedUrls: "urls",
  reporter: "reportedBy",
  note: "notes",
};

/** RFC 4180 records; throws with the line number on an unterminated quote. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let line = 1;
  let quoteLine = 0;
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === "\n") line++;
        field += c;
      }
    } else if (c === '"' && field === "") {
      quoted = true;
      quoteLine = line;
    } else if (c === ",") {
      row.push(field);
      field = "";
      if (row.length > MAX_FIELDS) throw new OddwireError("ODW_ERR_PERSONA", `line ${line}: more than ${MAX_FIELDS} fields`);
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(field);
      field = "";
      if (row.length > 1 || row[0] !== "") rows.push(row);
      row = [];
      line++;
      if (rows.length > MAX_CSV_ROWS + 1) throw new OddwireError("ODW_ERR_PERSONA", `more than ${MAX_CSV_ROWS} rows; split the file`);
    } else field += c;
  }
  if (quoted) throw new OddwireError("ODW_ERR_PERSONA", `line ${quoteLine}: a quoted field is never closed`);
  row.push(field);
  if (row.length > 1 || row[0] !== "") rows.push(row);
  return rows;
}

/** "Display Name", "display_name", "display-name" → "displayName"; aliases applied. */
export function columnKey(header: string): string {
  const words = header
    .trim()
    .replace(/[^A-Za-z0-9]+/g, " ")
    .trim()
    .split(" ");
  const camel = words.map((w, i) => (i === 0 ? w.charAt(0).toLowerCase() + w.slice(1) : w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())).join("");
  const lowerFirst = camel.charAt(0).toLowerCase() + camel.slice(1);
  const known = PERSONA_KEYS.find((k) => k.toLowerCase() === lowerFirst.toLowerCase());
  if (known) return known;
  const alias = Object.keys(ALIASES).find((k) => k.toLowerCase() === lowerFirst.toLowerCase());
  return alias ? ALIASES[alias]! : lowerFirst;
}

export interface CsvPersonas {
  /** One raw report per data row, with its line in the file (for messages). */
  rows: Array<{ line: number; raw: Record<string, string> }>;
  /** Header names that map to no persona field (ignored). */
  ignored: string[];
}

/** The data rows as raw reports keyed by persona field; empty cells are left out. */
export function personasFromCsv(text: string): CsvPersonas {
  const records = parseCsv(text);
  const header = records[0];
  if (!header) throw new OddwireError("ODW_ERR_PERSONA", "the CSV file is empty; it needs a header row (platform,handle,...) and one row per persona");
  const keys = header.map(columnKey);
  const known = new Set<string>(PERSONA_KEYS);
  if (!keys.includes("platform") || !keys.includes("handle"))
    throw new OddwireError("ODW_ERR_PERSONA", `the CSV header needs platform and handle columns; it has ${header.map((h) => JSON.stringify(h.slice(0, 40))).join(", ")}`);
  const seen = new Set<string>();
  for (const k of keys) {
    if (known.has(k) && seen.has(k)) throw new OddwireError("ODW_ERR_PERSONA", `the CSV header names ${k} twice`);
    seen.add(k);
  }
  const ignored = header.filter((_, i) => !known.has(keys[i]!));
  const rows = records.slice(1).map((cells, n) => {
    const raw: Record<string, string> = {};
    cells.forEach((cell, i) => {
      const k = keys[i];
      if (k && known.has(k) && cell.trim() !== "") raw[k] = cell;
    });
    return { line: n + 2, raw };
  });
  return { rows, ignored };
}

/**
 * A staff roster: names, and each one's login when a column says it. A
 * header row naming its columns (name, full name, display name or staff;
 * login, user, username or account) is used and skipped; without one, the
 * first column holds the names. Names over the text bound are left out;
 * a name listed twice counts once.
 */
export function rosterFromCsv(text: string): Array<{ name: string; login: string }> {
  const records = parseCsv(text);
  const head = records[0] ?? [];
  const nameCol = head.findIndex((h) => /^\s*(name|display[\s_-]*name|full[\s_-]*name|staff)\s*$/i.test(h));
  const loginCol = head.findIndex((h) => /^\s*(login|user|user[\s_-]*name|account)\s*$/i.test(h));
  const body = nameCol >= 0 ? records.slice(1) : records;
  const seen = new Set<string>();
  const out: Array<{ name: string; login: string }> = [];
  for (const r of body) {
    const name = (r[Math.max(0, nameCol)] ?? "").trim();
    if (name === "" || name.length > PERSONA_LIMITS.text || seen.has(name)) continue;
    seen.add(name);
    const login = loginCol >= 0 && nameCol >= 0 ? (r[loginCol] ?? "").trim().slice(0, PERSONA_LIMITS.text) : "";
    out.push({ name, login });
  }
  return out;
}
