// Network sensor evidence in the report: each recent sensor anomaly, alert
// or protocol mismatch joined to the process behind its flow (sensor-join)
// and filed under that process's finding group; the ones no agent stands
// behind listed with their addresses (the fleet's blind spot).

import { matchFlow } from "../sensor/sensor-join.js";
import type { Db } from "../store/open-db.js";
import { agentAddresses, recentSensorEvents, sensorJoinQueries, type StoredSensorEvent } from "../store/sensor-evidence.js";
import { MAX_BLIND_SPOTS } from "./sensor-text.js";
import type { ReportSensorBlindSpot, ReportSensors, SensorEvidence } from "./report-types.js";

/** Sensor lines joined per report at most (the newest first). */
export const MAX_SENSOR_EVENTS = 20_000;
/** Sensor evidence entries per finding at most (the strongest first). */
export const MAX_EVIDENCE_PER_FINDING = 20;

const SOURCE_NAME = { zeek: "Zeek", suricata: "Suricata" } as const;

export interface SensorGroupEvidence {
  entries: SensorEvidence[];
  /** The strongest entry, for the score. */
  strongest: { weight: number; text: string };
}

/** The group a process's flow falls in: (binary, protocol, transport, direction, port class), as build-report keys them. */
export function groupKeyOf(binary: string, protocol: string, transport: string, direction: string, port: number): string {
  const pc = port < 1024 ? 0 : port < 49152 ? 1 : 2;
  return `${binary}\0${protocol}\0${transport}\0${direction}\0${pc}`;
}

const hasTable = (db: Db, name: string) => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

/** Joins the recent sensor evidence; null when there is none (or the database predates it). */
export function readSensorEvidence(db: Db, sinceMs: number): { byGroup: Map<string, SensorGroupEvidence>; summary: ReportSensors } | null {
  if (!hasTable(db, "sensor_events")) return null;
  const { rows, total } = recentSensorEvents(db, sinceMs, MAX_SENSOR_EVENTS);
  if (total === 0) return null;
  const q = sensorJoinQueries(db);
  const byGroup = new Map<string, SensorGroupEvidence>();
  const blindSpots: ReportSensorBlindSpot[] = [];
  let matched = 0;
  let unmatched = 0;
  let addresses: Map<string, string[]> | undefined;
  for (const e of rows) {
    const m = matchFlow(q, {
      communityId: e.community_id,
      transport: e.transport,
      origAddress: e.orig_address,
      origPort: e.orig_port,
      respAddress: e.resp_address,
      respPort: e.resp_port,
      fromMs: e.ts_ms,
      toMs: e.ts_ms + e.duration_ms,
    });
    // "Zeek weird: bad_HTTP_request", "Suricata: app-layer protocol ssh on port 443".
    const text = `${SOURCE_NAME[e.source] ?? e.source}${e.text.startsWith("weird: ") ? " " : ": "}${e.text}`;
    if (!m.matched) {
      unmatched++;
      if (blindSpots.length < MAX_BLIND_SPOTS) {
        addresses ??= agentAddresses(db);
        const agentHosts = [...new Set([...(addresses.get(e.orig_address) ?? []), ...(addresses.get(e.resp_address) ?? [])])].slice(0, 10);
        blindSpots.push({
          source: e.source,
          text,
          atMs: e.ts_ms,
          transport: e.transport,
          origAddress: e.orig_address,
          origPort: e.orig_port,
          respAddress: e.resp_address,
          respPort: e.resp_port,
          communityId: e.community_id,
          reason: m.reason === "no-agent-flow" && agentHosts.length === 0 ? "no-agent" : m.reason,
          detail:
            m.reason === "no-agent-flow"
              ? agentHosts.length > 0
                ? `an address belongs to ${agentHosts.join(", ")}, but no agent recorded this flow (a connection between snapshots on a host without connection events?)`
                : "no agent runs on either address (a host without an agent, or addresses rewritten on the way)"
              : m.detail,
          agentHosts,
        });
      }
      continue;
    }
    matched++;
    const names = namesOf(q, e);
    for (const end of m.ends) {
      const r = end.row;
      const key = groupKeyOf(r.binary, r.protocol, r.transport, r.direction, r.port);
      const entry: SensorEvidence = {
        source: e.source,
        log: e.log,
        kind: e.kind as SensorEvidence["kind"],
        text,
        atMs: e.ts_ms,
        weight: e.weight,
        flow: {
          transport: e.transport,
          origAddress: e.orig_address,
          origPort: e.orig_port,
          respAddress: e.resp_address,
          respPort: e.resp_port,
          communityId: e.community_id,
        },
        names,
        hostId: r.host_id,
        hostname: r.hostname,
        pid: r.pid,
        side: end.side,
        join: end.join,
        confidence: end.confidence,
      };
      const g = byGroup.get(key);
      if (!g) byGroup.set(key, { entries: [entry], strongest: { weight: e.weight, text } });
      else {
        g.entries.push(entry);
        if (e.weight > g.strongest.weight) g.strongest = { weight: e.weight, text };
      }
    }
  }
  for (const g of byGroup.values()) {
    g.entries.sort((a, b) => b.weight - a.weight || b.atMs - a.atMs);
    g.entries.length = Math.min(g.entries.length, MAX_EVIDENCE_PER_FINDING);
  }
  return { byGroup, summary: { events: total, joined: rows.length, matched, unmatched, blindSpots } };
}

function namesOf(q: ReturnType<typeof sensorJoinQueries>, e: StoredSensorEvent): string[] {
  if (!e.flow_key && !e.community_id) return [];
  return q.names.all(e.source, e.flow_key, e.community_id).map((r) => r.name);
}
