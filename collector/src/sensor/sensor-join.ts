// Joins a network sensor's flow to the process behind it: first by the
// Community ID the agents stored with their connection records, classified
// flows (agent --dpi) and sockets, and time; then by the 5-tuple and time
// against connection records and sockets (a Community ID computed here from
// the stored tuple still says "community-id"), which also covers a sensor
// that logged no Community ID (or one with another seed). Each match says which join made it and how sure it is.
// Where the agent's connection record has only the destination (connection
// events record no source port), one process on one host reaching that
// server at that time is a low-confidence "destination" match; several are
// ambiguous. Where nothing matches, it says why, and does not guess: no agent saw the
// flow; several hosts did (ambiguous); or an agent reached the same server at
// that time from another address (a NAT or proxy between).

import { addressBytes, communityId, ipProtoOf } from "@oddwire/shared";
import type { AgentFlowRow, SensorJoinQueries } from "../store/sensor-evidence.js";

export type JoinMethod = "community-id" | "5-tuple" | "destination";
export type JoinConfidence = "high" | "medium" | "low";

/** What the sensor knows of a flow. */
export interface FlowKey {
  communityId: string;
  transport: string;
  origAddress: string;
  origPort: number;
  respAddress: string;
  respPort: number;
  /** The flow's time on the sensor's clock (start, end). */
  fromMs: number;
  toMs: number;
}

export interface FlowEnd {
  row: AgentFlowRow;
  /** Which end of the flow the agent's process is. */
  side: "originator" | "responder";
  join: JoinMethod;
  confidence: JoinConfidence;
}

export type FlowMatch = { matched: true; ends: FlowEnd[] } | { matched: false; reason: "no-tuple" | "no-agent-flow" | "ambiguous" | "nat-or-proxy"; detail: string };

/** How far the sensor's clock and an agent's may disagree, and how late a sensor may log a flow. */
export const JOIN_SLACK_MS = 5 * 60_000;

function sameAddress(a: string, b: string): boolean {
  const x = addressBytes(a);
  const y = addressBytes(b);
  return !!x && !!y && x.equals(y);
}

/** The agent-side flows behind a sensor's flow, or why there are none. */
export async function matchFlow(q: SensorJoinQueries, key: FlowKey, slackMs = JOIN_SLACK_MS): Promise<FlowMatch> {
  if (!key.origAddress || !key.respAddress || (key.transport !== "icmp" && (!key.origPort || !key.respPort)))
    return { matched: false, reason: "no-tuple", detail: "the sensor logged no complete flow tuple" };
  // Zeek's weird, dpd and notice logs do not always name the transport: then TCP or UDP.
  const [t1, t2] = key.transport ? [key.transport, key.transport] : ["tcp", "udp"];
  const from = key.fromMs - slackMs;
  const to = key.toMs + slackMs;
  const ends: FlowEnd[] = [];
  const seen = new Set<string>();
  // The stored ID is of the whole tuple: the row's far end says which end of the flow it is (a connection record's own port may be unrecorded).
  if (key.communityId) {
    for (const row of await q.byCommunityId.all(key.communityId, from, to, key.communityId, from, to, key.communityId, to)) {
      const far = (a: string, p: number) => row.remote_port === p && sameAddress(row.remote_address, a);
      const side = far(key.respAddress, key.respPort) ? "originator" : far(key.origAddress, key.origPort) ? "responder" : null;
      const id = `${row.host_id}\0${row.pid}\0${side}`;
      if (!side || seen.has(id)) continue;
      seen.add(id);
      // A connection record or a classified flow was seen at that time; a socket is only known to be open now.
      ends.push({ row, side, join: "community-id", confidence: row.what === "socket" ? "medium" : "high" });
    }
  }
  const candidates = [
    ...(await q.connections.all(key.respPort, key.origPort, key.origPort, key.respPort, t1, t2, from, to)),
    ...(await q.sockets.all(key.respPort, key.origPort, key.origPort, key.respPort, t1, t2, to)),
  ];
  for (const row of candidates) {
    const side =
      row.local_port === key.origPort && row.remote_port === key.respPort && sameAddress(row.local_address, key.origAddress) && sameAddress(row.remote_address, key.respAddress)
        ? "originator"
        : row.local_port === key.respPort && row.remote_port === key.origPort && sameAddress(row.local_address, key.respAddress) && sameAddress(row.remote_address, key.origAddress)
          ? "responder"
          : null;
    if (!side) continue;
    const proto = ipProtoOf(row.transport, row.family);
    const own = proto === undefined ? "" : communityId({ proto, srcAddress: row.local_address, srcPort: row.local_port, dstAddress: row.remote_address, dstPort: row.remote_port });
    const join: JoinMethod = key.communityId && own === key.communityId ? "community-id" : "5-tuple";
    // A connection record was seen at that time; a socket is only known to be open now.
    const confidence: JoinConfidence = row.what === "connection" ? "high" : "medium";
    const id = `${row.host_id}\0${row.pid}\0${side}`;
    if (seen.has(id)) continue; // a connection record and the socket it still is: one end
    seen.add(id);
    ends.push({ row, side, join, confidence });
  }
  // One host at each end (two agents talking to each other is one flow); several hosts at one end cannot all be it.
  for (const side of ["originator", "responder"] as const) {
    const at = ends.filter((e) => e.side === side);
    const hosts = new Set(at.map((e) => e.row.host_id));
    if (hosts.size > 1) {
      return {
        matched: false,
        reason: "ambiguous",
        detail: `${hosts.size} hosts saw this tuple at that time as its ${side} (${[...new Set(at.map((e) => e.row.hostname || e.row.host_id))].slice(0, 5).join(", ")}): not matched`,
      };
    }
  }
  if (ends.length > 0) return { matched: true, ends };
  // Connection events record the destination (outbound) or the listening port (inbound), not always
  // the other end's port: a record with that side unknown can only be joined by destination and time.
  const near = await q.sameServer.all(key.respPort, key.respAddress, t1, t2, from, to);
  const partial = near.filter((n) => n.local_port === 0);
  const partialHosts = new Set(partial.map((n) => n.host_id));
  const partialPids = new Set(partial.map((n) => `${n.host_id}\0${n.pid}`));
  if (partial.length > 0 && partial.length === near.length) {
    if (partialHosts.size > 1 || partialPids.size > 1) {
      return {
        matched: false,
        reason: "ambiguous",
        detail: `${partialPids.size} processes on ${partialHosts.size} host${partialHosts.size === 1 ? "" : "s"} reached this server at that time, their source ports unrecorded: not matched`,
      };
    }
    const rows = await q.connectionsTo.all(key.respPort, key.respAddress, t1, t2, from, to);
    if (rows.length > 0) return { matched: true, ends: [{ row: rows[0]!, side: "originator", join: "destination", confidence: "low" }] };
  }
  if (near.length > 0) {
    const who = near.map((n) => `${n.hostname || n.host_id} ${n.name || "pid"}(${n.pid}) from ${n.local_address || "?"}:${n.local_port}`).slice(0, 3);
    return {
      matched: false,
      reason: "nat-or-proxy",
      detail: `reached the same server at that time: ${who.join(", ")}; the client side differs (a NAT or proxy between?): not matched`,
    };
  }
  return { matched: false, reason: "no-agent-flow", detail: "no agent recorded this flow" };
}
