// Suricata's eve.json: one event per line, its kind in "event_type", the
// flow's tuple at the top (src_ip, src_port, dest_ip, dest_port, proto),
// flow_id and (with community-id: yes) community_id. Read, as Suricata's
// EVE documentation describes them: flow (app_proto and, where they differ,
// app_proto_ts / app_proto_tc / app_proto_orig / app_proto_expected),
// anomaly (decode, stream and app-layer events such as
// APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS), alert, and the names in tls,
// http and dns. An event's src/dest follow the packet that raised it (an
// alert on a reply has the server as src); "flow" in alerts (Suricata 7+)
// and the "direction" field give the flow's own orientation.

import { clip, MAX_KEY_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS, portOf, protocolFitsPort, transportOf, type ParsedLine, SKIP, type SensorRecord } from "./sensor-record.js";

export function parseEveLine(line: string): ParsedLine {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    return { error: `not JSON: ${(err as Error).message}` };
  }
  return parseEveObject(obj);
}

export function parseEveObject(obj: unknown): ParsedLine {
  if (typeof obj !== "object" || obj === null || Array.isArray(obj)) return { error: "not a JSON object" };
  // biome-ignore lint/suspicious/noExplicitAny: an eve event is read field by field, each checked where it is used
  const e = obj as Record<string, any>;
  const type = typeof e["event_type"] === "string" ? e["event_type"] : "";
  if (!type) return { error: "no event_type" };
  if (!["flow", "netflow", "anomaly", "alert", "tls", "http", "dns"].includes(type)) return SKIP;
  const tsMs = eveTimeMs(e["timestamp"]);
  if (tsMs === undefined) return { error: `timestamp ${JSON.stringify(String(e["timestamp"] ?? "")).slice(0, 40)} is not a time` };
  const transport = transportOf(e["proto"]);
  // Orient as the flow: client first. A to_client event has the server as src.
  let orig = [String(e["src_ip"] ?? ""), portOf(e["src_port"])] as const;
  let resp = [String(e["dest_ip"] ?? ""), portOf(e["dest_port"])] as const;
  const f = isObj(e["flow"]) ? e["flow"] : {};
  if (typeof f["src_ip"] === "string" && typeof f["dest_ip"] === "string") {
    orig = [f["src_ip"], portOf(f["src_port"])];
    resp = [f["dest_ip"], portOf(f["dest_port"])];
  } else if (e["direction"] === "to_client") [orig, resp] = [resp, orig];
  const base = {
    source: "suricata" as const,
    log: type,
    tsMs,
    durationMs: 0,
    flowKey: clip(e["flow_id"] === undefined ? "" : String(e["flow_id"]), MAX_KEY_CHARS),
    communityId: clip(typeof e["community_id"] === "string" ? e["community_id"] : "", MAX_KEY_CHARS),
    transport,
    origAddress: clip(orig[0], MAX_KEY_CHARS),
    origPort: orig[1],
    respAddress: clip(resp[0], MAX_KEY_CHARS),
    respPort: resp[1],
    name: "",
  };
  const make = (kind: SensorRecord["kind"], text: string, weight: number, extra: Partial<SensorRecord> = {}): SensorRecord => ({
    ...base,
    kind,
    text: clip(text, MAX_TEXT_CHARS),
    weight,
    ...extra,
  });
  const str = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  switch (type) {
    case "flow":
    case "netflow": {
      const proto = str(e["app_proto"]);
      const ts = str(e["app_proto_ts"]);
      const tc = str(e["app_proto_tc"]);
      const orig = str(e["app_proto_orig"]);
      const expected = str(e["app_proto_expected"]);
      const start = eveTimeMs(f["start"]);
      const end = eveTimeMs(f["end"]);
      const span = start !== undefined && end !== undefined && end >= start ? { tsMs: start, durationMs: end - start } : {};
      if (ts && tc && ts !== tc) return make("protocol", `app-layer protocol ${ts} to the server but ${tc} to the client on port ${base.respPort}`, 0.7, span);
      if (expected && proto && expected !== proto) return make("protocol", `app-layer protocol ${proto} where ${expected} was expected on port ${base.respPort}`, 0.7, span);
      if (orig && proto && orig !== proto) return make("protocol", `app-layer protocol changed from ${orig} to ${proto} on port ${base.respPort}`, 0.4, span);
      if (proto && proto !== "failed" && !protocolFitsPort(proto, transport, base.respPort))
        return make("protocol", `app-layer protocol ${proto} on port ${base.respPort}`, 0.6, span);
      return SKIP;
    }
    case "anomaly": {
      const a = isObj(e["anomaly"]) ? e["anomaly"] : {};
      const what = str(a["event"]) || str(a["code"]) || "unnamed";
      const layer = str(a["layer"]);
      const app = str(e["app_proto"]) || str(a["app_proto"]);
      return make("anomaly", `anomaly (${str(a["type"]) || "unknown type"}${layer ? `, ${layer}` : ""}): ${what}${app ? ` [${app}]` : ""}`, 0.6);
    }
    case "alert": {
      const a = isObj(e["alert"]) ? e["alert"] : {};
      const severity = Number(a["severity"]);
      const weight = severity === 1 ? 0.85 : severity === 2 ? 0.7 : 0.5;
      return make(
        "alert",
        `alert: ${str(a["signature"]) || "unnamed signature"} (sid ${str(a["signature_id"]) || "?"}, severity ${Number.isFinite(severity) ? severity : "?"})`,
        weight,
      );
    }
    case "tls":
      return name(make, str(e["tls"]?.["sni"]), "TLS server name");
    case "http":
      return name(make, str(e["http"]?.["hostname"]), "HTTP host");
    default: {
      const d = isObj(e["dns"]) ? e["dns"] : {};
      const q = Array.isArray(d["queries"]) ? d["queries"][0] : d;
      return name(make, str(q?.["rrname"]), "DNS query");
    }
  }
}

function name(make: (kind: "name", text: string, weight: number, extra: Partial<SensorRecord>) => SensorRecord, value: string, what: string): ParsedLine {
  if (!value) return SKIP;
  return make("name", `${what} ${value}`, 0, { name: clip(value, MAX_NAME_CHARS) });
}

// biome-ignore lint/suspicious/noExplicitAny: eve objects are read field by field after this check
function isObj(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** "2026-12-01T18:06:15.123456+0000" (Suricata writes the offset without a colon and microseconds) → ms. */
export function eveTimeMs(v: unknown): number | undefined {
  if (typeof v !== "string") return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$/.exec(v);
  if (!m) return undefined;
  const frac = m[2] ? m[2].slice(0, 4).padEnd(4, "0") : "";
  const zone = !m[3] ? "Z" : m[3] === "Z" ? "Z" : `${m[3].slice(0, 3)}:${m[3].slice(-2)}`;
  const ms = Date.parse(`${m[1]}${frac}${zone}`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Is this object a Suricata eve event? */
export function looksLikeEve(o: Record<string, unknown>): boolean {
  return typeof o["event_type"] === "string" && ("timestamp" in o || "src_ip" in o);
}
