// Which sensor wrote a file, from its first line: Zeek TSV by its
// "#separator" / "#fields" header, Zeek JSON by keys such as ts, uid and
// id.orig_h, Suricata eve by event_type. JSON input is then dispatched line
// by line (a shipper may mix Zeek and Suricata lines in one stream).

import type { ParsedLine } from "./sensor-record.js";
import { looksLikeEve, parseEveObject } from "./suricata-eve.js";
import { looksLikeZeekJson, ZeekJsonParser } from "./zeek-json.js";
import { looksLikeZeekTsv, ZeekTsvParser } from "./zeek-tsv.js";

export type SensorFormat = "zeek-tsv" | "zeek-json" | "suricata-eve";

export interface LineParser {
  readonly format: SensorFormat;
  parse(line: string): ParsedLine;
}

/** The format of a file or body from its first non-empty line, or null when it is neither sensor's. */
export function detectFormat(firstLine: string): SensorFormat | null {
  if (looksLikeZeekTsv(firstLine)) return "zeek-tsv";
  if (!firstLine.startsWith("{")) return null;
  let o: unknown;
  try {
    o = unwrapShipped(JSON.parse(firstLine));
  } catch {
    return null;
  }
  if (typeof o !== "object" || o === null || Array.isArray(o)) return null;
  if (looksLikeEve(o as Record<string, unknown>)) return "suricata-eve";
  if (looksLikeZeekJson(o as Record<string, unknown>)) return "zeek-json";
  return null;
}

/** A parser for lines of this format. fileName names the Zeek log when the lines do not (conn.log); zeekLog overrides it. */
export function lineParser(format: SensorFormat, fileName = "", zeekLog = ""): LineParser {
  if (format === "zeek-tsv") {
    const p = new ZeekTsvParser(fileName);
    return { format, parse: (line) => p.parse(line) };
  }
  const zeek = new ZeekJsonParser(fileName, zeekLog);
  return {
    format,
    parse(line) {
      if (line === "") return null;
      let o: unknown;
      try {
        o = unwrapShipped(JSON.parse(line));
      } catch (err) {
        return { error: `not JSON: ${(err as Error).message}` };
      }
      if (typeof o === "object" && o !== null && "event_type" in o) return parseEveObject(o);
      return zeek.parseObject(o);
    },
  };
}

/**
 * A shipper's envelope around the sensor's own line: Filebeat and Logstash
 * put the raw line in "message", Fluent Bit's tail input in "log". An object
 * that is no sensor record itself but carries one there is read as that line.
 */
export function unwrapShipped(o: unknown): unknown {
  if (typeof o !== "object" || o === null || Array.isArray(o)) return o;
  const r = o as Record<string, unknown>;
  if ("event_type" in r || "ts" in r) return o;
  const inner = typeof r["message"] === "string" ? r["message"] : typeof r["log"] === "string" ? r["log"] : undefined;
  return inner?.trimStart().startsWith("{") ? JSON.parse(inner) : o;
}
