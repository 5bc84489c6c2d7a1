// Zeek's JSON logs (LogAscii::use_json, or the json-streaming package): one
// object per line with the TSV's field names as keys ("id.orig_h"). The log
// a line belongs to is its "_path" when a shipper or the streaming writer
// added one, else the file's name, else what its fields say.

import type { ParsedLine } from "./sensor-record.js";
import { zeekLogOfFileName, zeekRecord, ZEEK_LOGS } from "./zeek-record.js";

export class ZeekJsonParser {
  private readonly fileLog: string;

  constructor(fileName = "", log = "") {
    this.fileLog = log || zeekLogOfFileName(fileName);
  }

  parse(line: string): ParsedLine {
    let obj: unknown;
    try {
      obj = JSON.parse(line);
    } catch (err) {
      return { error: `not JSON: ${(err as Error).message}` };
    }
    return this.parseObject(obj);
  }

  parseObject(obj: unknown): ParsedLine {
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return { error: "not a JSON object" };
    const o = obj as Record<string, unknown>;
    const path = typeof o["_path"] === "string" ? o["_path"] : ZEEK_LOGS.has(this.fileLog) ? this.fileLog : zeekLogOfFields(o);
    return zeekRecord(path, (name) => {
      // Nested ("id": {"orig_h": ...}) as some shippers write it, or flat ("id.orig_h").
      let v = o[name];
      if (v === undefined && name.startsWith("id.")) v = (o["id"] as Record<string, unknown> | undefined)?.[name.slice(3)];
      if (v === undefined || v === null) return undefined;
      if (Array.isArray(v)) return v.map(String).join(",");
      return typeof v === "object" ? JSON.stringify(v) : (v as string | number | boolean);
    });
  }
}

/** Which log a line with no _path and an unhelpful file name is from, by the fields only that log has. */
export function zeekLogOfFields(o: Record<string, unknown>): string {
  if ("conn_state" in o || "history" in o) return "conn";
  if ("name" in o && ("addl" in o || "notice" in o)) return "weird";
  if ("note" in o) return "notice";
  if ("analyzer_name" in o) return "analyzer";
  if ("failure_reason" in o && "analyzer" in o) return "dpd";
  if ("server_name" in o || "cipher" in o) return "ssl";
  if ("method" in o && "uri" in o) return "http";
  if ("query" in o && "qtype_name" in o) return "dns";
  return "";
}

/** Is this object a Zeek record (rather than Suricata's eve)? */
export function looksLikeZeekJson(o: Record<string, unknown>): boolean {
  return "ts" in o && ("uid" in o || "id.orig_h" in o || "_path" in o || "note" in o);
}
