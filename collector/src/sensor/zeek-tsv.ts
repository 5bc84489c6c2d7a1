// Zeek's tab-separated log format: "#"-lines declare the separator, the
// unset and empty markers, the log's path and its #fields; every other line
// is one record with a value per field. Non-printable bytes in values are
// written as \xNN escapes. A file may restart its header (a new #fields
// after #close), so the parser keeps the latest one.

import { type ParsedLine, SKIP } from "./sensor-record.js";
import { zeekLogOfFileName, zeekRecord } from "./zeek-record.js";

export class ZeekTsvParser {
  private separator = "\t";
  private unset = "-";
  private empty = "(empty)";
  private path: string;
  private index = new Map<string, number>();
  /** Fields up to the last of those every line is judged on (ts, proto, service, the responder's port). */
  private early = 1;

  /** fileName: the log's path when no #path line says it. */
  constructor(fileName = "") {
    this.path = zeekLogOfFileName(fileName);
  }

  parse(line: string): ParsedLine {
    if (line === "") return SKIP;
    if (line.startsWith("#")) return this.header(line);
    if (this.index.size === 0) return { error: "a record before any #fields header line" };
    // Most lines are plain flows decided on their first few fields: split only that far, the rest if asked.
    let values = line.split(this.separator, this.early);
    let whole = values.length < this.early;
    const field = (name: string): string | undefined => {
      const i = this.index.get(name);
      if (i === undefined) return undefined;
      if (i >= values.length && !whole) {
        values = line.split(this.separator);
        whole = true;
      }
      const v = values[i];
      if (v === undefined || v === this.unset) return undefined;
      if (v === this.empty) return "";
      return v.includes("\\x") ? unescapeZeek(v) : v;
    };
    return zeekRecord(this.path, field);
  }

  private header(line: string): ParsedLine {
    if (line.startsWith("#separator ")) {
      this.separator = unescapeZeek(line.slice("#separator ".length));
      return SKIP;
    }
    const [key, ...rest] = line.slice(1).split(this.separator);
    if (key === "fields") {
      this.index = new Map(rest.map((name, i) => [name, i]));
      this.early = 1 + Math.max(0, ...["ts", "proto", "service", "id.resp_p"].map((n) => this.index.get(n) ?? 0));
    } else if (key === "path" && rest[0]) this.path = rest[0];
    else if (key === "unset_field" && rest[0] !== undefined) this.unset = rest[0];
    else if (key === "empty_field" && rest[0] !== undefined) this.empty = rest[0];
    return SKIP;
  }
}

/** "\x09" → tab; Zeek writes every byte it will not print so. */
export function unescapeZeek(v: string): string {
  return v.replace(/\\x([0-9a-fA-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Is this the first line of a Zeek TSV log? */
export function looksLikeZeekTsv(firstLine: string): boolean {
  return firstLine.startsWith("#separator ") || firstLine.startsWith("#fields\t");
}
