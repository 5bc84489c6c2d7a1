// Classified flows (agent --dpi) and the destination names they carried, as
// the collector keeps them: flows per host (bounded like connection records),
// names once per host, name, kind and process with first and last sight, so
// that "who reached this name" is one indexed query. Every statement is
// parameterised; names come from the traffic and are attacker-controlled.

import { binaryKey } from "@oddwire/shared";
import type { oddwire } from "@oddwire/proto";
import type { Sql } from "./sql.js";

/** Most flow rows kept per host; the oldest go first. */
export const MAX_FLOW_ROWS_PER_HOST = 50_000;

/** What kind of name a protocol carries (the agent's wire-tags.ts says the same). */
export function nameKindOf(wireProtocol: string): string {
  const master = wireProtocol.split(".", 1)[0] ?? "";
  if (master === "TLS" || master === "QUIC") return "tls-sni";
  if (master === "HTTP" || master === "HTTP_Proxy" || master === "HTTP_Connect") return "http-host";
  if (master === "DNS" || master === "MDNS" || master === "LLMNR") return "dns-query";
  if (master === "SSH") return "ssh-software";
  return "name";
}

const num = (v: number | Long | null | undefined): number => (v == null ? 0 : Number(v));
type Long = { toNumber(): number };

export interface FlowObservation {
  binary: string;
  exe: string;
  name: string;
  sha256: string;
  protocol: string;
  transport: string;
  direction: string;
  port: number;
  first: number;
  last: number;
  tags: string;
}

/** Stores one batch's flows and names; returns each joined flow as an observation for rarity (port's protocol, as sockets are). */
export async function storeFlows(sql: Sql, hostId: string, os: string, seq: number, now: number, flows: readonly oddwire.v1.IFlow[]): Promise<FlowObservation[]> {
  if (flows.length === 0) return [];
  const insert = (values: unknown[]) =>
    sql.run(
      `INSERT INTO flows (host_id, binary, pid, name, exe, cmdline, transport, direction, family, client_address, client_port,
        server_address, server_port, community_id, port_protocol, wire_protocol, confidence, risks, names, bytes, packets, first_seen, last_seen, tags, seq, received_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      values,
    );
  const name = (values: unknown[]) =>
    sql.run(
      `INSERT INTO destination_names (host_id, name, kind, binary, pid, exe, cmdline, first_seen, last_seen, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (host_id, name, kind, exe, cmdline) DO UPDATE SET pid = excluded.pid, binary = excluded.binary,
          first_seen = least(destination_names.first_seen, excluded.first_seen), last_seen = greatest(destination_names.last_seen, excluded.last_seen),
          received_at = excluded.received_at`,
      values,
    );
  const out: FlowObservation[] = [];
  for (const f of flows) {
    const p = f.process ?? {};
    const exe = p.exe ?? "";
    const pname = p.name ?? "";
    const binary = exe || pname ? binaryKey(exe, pname, os) : "";
    const w = f.wire ?? {};
    const first = num(f.firstSeenMs) || now;
    const last = Math.max(num(f.lastSeenMs) || now, first);
    const tags = JSON.stringify((f.tags ?? []).map((t) => ({ code: t.code ?? "", reason: t.reason ?? "" })));
    const names = f.destinationNames ?? [];
    await insert([
      hostId,
      binary,
      num(p.pid),
      pname,
      exe,
      p.cmdline ?? "",
      f.transport ?? "",
      f.direction ?? "",
      num(f.family),
      f.clientAddress ?? "",
      num(f.clientPort),
      f.serverAddress ?? "",
      num(f.serverPort),
      f.communityId ?? "",
      w.portProtocol ?? "",
      w.wireProtocol ?? "",
      w.confidence ?? "",
      JSON.stringify(w.risks ?? []),
      JSON.stringify(names),
      num(w.bytes),
      num(w.packets),
      first,
      last,
      tags,
      seq,
      now,
    ]);
    const kind = nameKindOf(w.wireProtocol ?? "");
    for (const n of names) await name([hostId, n, kind, binary, num(p.pid), exe, p.cmdline ?? "", first, last, now]);
    if (binary && f.direction)
      out.push({
        binary,
        exe,
        name: pname,
        sha256: p.sha256 ?? "",
        protocol: w.portProtocol ?? "",
        transport: f.transport ?? "",
        direction: f.direction,
        port: f.direction === "outbound" ? num(f.serverPort) : num(f.serverPort),
        first,
        last,
        tags,
      });
  }
  await sql.run(`DELETE FROM flows WHERE host_id = ? AND id < (SELECT id FROM flows WHERE host_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`, [
    hostId,
    hostId,
    MAX_FLOW_ROWS_PER_HOST - 1,
  ]);
  return out;
}

export interface DestinationName {
  hostId: string;
  hostname: string;
  name: string;
  /** "tls-sni", "http-host", "dns-query", "ssh-software" or "name". */
  kind: string;
  pid: number;
  exe: string;
  cmdline: string;
  firstSeenMs: number;
  lastSeenMs: number;
}

/**
 * The destination names hosts reached, with the process that reached each,
 * most recent first. `name` matches exactly, or every name under a domain
 * when it starts with "." (".example.com"); `hostId` narrows to one host.
 */
export function listDestinationNames(sql: Sql, filter: { name?: string; hostId?: string; sinceMs?: number; limit?: number } = {}): Promise<DestinationName[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.name) {
    if (filter.name.startsWith(".")) {
      where.push("(d.name = ? OR d.name LIKE ? ESCAPE '\\')");
      params.push(filter.name.slice(1), `%${filter.name.replace(/[\\%_]/g, (c) => `\\${c}`)}`);
    } else {
      where.push("d.name = ?");
      params.push(filter.name);
    }
  }
  if (filter.hostId) {
    where.push("d.host_id = ?");
    params.push(filter.hostId);
  }
  if (filter.sinceMs !== undefined) {
    where.push("d.last_seen >= ?");
    params.push(filter.sinceMs);
  }
  params.push(filter.limit ?? 10_000);
  return sql.all<DestinationName>(
    `SELECT d.host_id AS "hostId", coalesce(h.hostname, '') AS hostname, d.name, d.kind, d.pid, d.exe, d.cmdline, d.first_seen AS "firstSeenMs", d.last_seen AS "lastSeenMs"
       FROM destination_names d LEFT JOIN hosts h ON h.host_id = d.host_id
      ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY d.last_seen DESC LIMIT ?`,
    params,
  );
}

/** Flows with this Community ID (the join key of Zeek's conn.log and Suricata's eve.json), most recent first. */
export function flowsByCommunityId(sql: Sql, communityId: string, limit = 1000): Promise<Array<Record<string, unknown>>> {
  return sql.all(
    `SELECT host_id AS "hostId", pid, exe, cmdline, transport, direction, client_address AS "clientAddress", client_port AS "clientPort",
            server_address AS "serverAddress", server_port AS "serverPort", port_protocol AS "portProtocol", wire_protocol AS "wireProtocol",
            risks, names, first_seen AS "firstSeenMs", last_seen AS "lastSeenMs"
       FROM flows WHERE community_id = ? ORDER BY id DESC LIMIT ?`,
    [communityId, limit],
  );
}
