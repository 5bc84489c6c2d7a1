// One Zeek log line, already split into named fields (from TSV or JSON),
// made into a SensorRecord. Which logs count and what they say follows
// Zeek's published log documentation: conn (service, history, conn_state,
// community_id from the Community ID package or Zeek 6+'s policy script),
// weird, dpd and analyzer (protocol violations), notice, and the names in
// ssl, http and dns.

import { clip, MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS, portOf, protocolFitsPort, transportOf, type ParsedLine, SKIP, type SensorRecord } from "./sensor-record.js";

/** A field's value: a string, number or boolean; undefined when Zeek left it unset. */
export type ZeekFields = (name: string) => string | number | boolean | undefined;

/** Zeek logs oddwire reads; any other log's lines are skipped. */
export const ZEEK_LOGS = new Set(["conn", "weird", "dpd", "analyzer", "notice", "ssl", "http", "dns"]);

/** The log a file holds, from Zeek's file names (conn.log, conn.2026-12-01-18-00-00.log.gz, conn.18:00:00-19:00:00.log.gz). */
export function zeekLogOfFileName(fileName: string): string {
  const base = fileName.split(/[\\/]/).pop() ?? "";
  const m = /^([a-z_0-9]+?)(?:[._-]|$)/.exec(base);
  return m?.[1] ?? "";
}

export function zeekRecord(log: string, f: ZeekFields): ParsedLine {
  if (!ZEEK_LOGS.has(log)) return SKIP;
  const ts = zeekTimeMs(f("ts"));
  if (ts === undefined) return { error: `ts ${JSON.stringify(String(f("ts") ?? "")).slice(0, 40)} is not a time` };
  const str = (name: string) => {
    const v = f(name);
    return v === undefined ? "" : String(v);
  };
  let transport = transportOf(f("proto"));
  // Most conn lines are plain flows: decided before anything is built for them.
  let odd: string | undefined;
  if (log === "conn") {
    const service = f("service");
    if (service === undefined || service === "") return SKIP;
    odd = String(service)
      .split(",")
      .map((s) => s.trim())
      .find((s) => s && !s.startsWith("-") && !protocolFitsPort(s, transport, portOf(f("id.resp_p"))));
    if (!odd) return SKIP;
  }
  const base = {
    source: "zeek" as const,
    log,
    tsMs: ts,
    durationMs: 0,
    flowKey: clip(str("uid"), MAX_KEY_CHARS),
    communityId: clip(str("community_id"), MAX_KEY_CHARS),
    transport,
    origAddress: clip(str("id.orig_h"), MAX_KEY_CHARS),
    origPort: portOf(f("id.orig_p")),
    respAddress: clip(str("id.resp_h"), MAX_KEY_CHARS),
    respPort: portOf(f("id.resp_p")),
    name: "",
    weight: 0,
  };
  const make = (kind: SensorRecord["kind"], text: string, weight: number, extra: Partial<SensorRecord> = {}): SensorRecord => ({
    ...base,
    kind,
    text: clip(text, MAX_TEXT_CHARS),
    weight,
    ...extra,
  });
  switch (log) {
    case "conn": {
      // A plain connection is not evidence; a confirmed service the port does not carry is (found above).
      const duration = Number(f("duration"));
      const state = str("conn_state");
      const history = str("history");
      return make("protocol", `service ${odd} on port ${base.respPort}${state ? ` (conn_state ${state}${history ? `, history ${history}` : ""})` : ""}`, 0.6, {
        durationMs: Number.isFinite(duration) && duration > 0 ? Math.round(duration * 1000) : 0,
      });
    }
    case "weird": {
      const name = str("name");
      const addl = str("addl");
      return make("anomaly", `weird: ${name || "unnamed"}${addl ? ` (${addl})` : ""}`, 0.5);
    }
    case "dpd":
      return make("anomaly", `protocol violation: ${str("analyzer") || "an analyzer"} gave up${str("failure_reason") ? `: ${str("failure_reason")}` : ""}`, 0.6);
    case "analyzer": {
      const cause = str("cause") || "violation";
      if (cause !== "violation") return SKIP;
      return make("anomaly", `protocol violation: ${str("analyzer_name") || "an analyzer"}${str("failure_reason") ? `: ${str("failure_reason")}` : ""}`, 0.6);
    }
    case "notice": {
      // Notices about a flow carry id.*; others name src/dst/p.
      if (!base.origAddress && str("src")) {
        base.origAddress = clip(str("src"), MAX_KEY_CHARS);
        base.respAddress = clip(str("dst"), MAX_KEY_CHARS);
        base.respPort = portOf(String(f("p") ?? "").split("/")[0]);
        if (!transport) transport = base.transport = transportOf(String(f("p") ?? "").split("/")[1]);
      }
      return make("anomaly", `notice ${str("note") || "unnamed"}${str("msg") ? `: ${str("msg")}` : ""}`, 0.7);
    }
    case "ssl":
      return nameRecord(make, str("server_name"), "TLS server name");
    case "http":
      return nameRecord(make, str("host"), "HTTP host");
    default:
      return nameRecord(make, str("query"), "DNS query");
  }
}

function nameRecord(make: (kind: "name", text: string, weight: number, extra: Partial<SensorRecord>) => SensorRecord, name: string, what: string): ParsedLine {
  if (!name) return SKIP;
  return make("name", `${what} ${name}`, 0, { name: clip(name, MAX_NAME_CHARS) });
}

/** Zeek's ts: seconds since the epoch (TSV, default JSON) or an ISO 8601 string (JSON with json_timestamps ISO8601). */
export function zeekTimeMs(v: string | number | boolean | undefined): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? Math.round(v * 1000) : undefined;
  if (typeof v !== "string" || v === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}
