// The wire limits for what protocol identification adds: flows (at most
// COUNT_LIMITS.flows a batch, the rest counted as unclassified), and on every
// flow, socket and connection record its wire facts and destination names,
// which come from the traffic (a TLS SNI is whatever the client wrote):
// attacker-controlled, cut to their bounds.

import { COUNT_LIMITS, type ConnectionRecord, type FlowRecord, type SocketRecord, type Tag, type WireInfoRecord } from "@oddwire/shared";
import { cutText } from "./events/connection-events.js";

const text = cutText;

export function boundWire(w: WireInfoRecord): WireInfoRecord {
  return {
    portProtocol: text(w.portProtocol, "port_protocol"),
    wireProtocol: text(w.wireProtocol, "wire_protocol"),
    confidence: text(w.confidence, "confidence"),
    risks: w.risks.slice(0, COUNT_LIMITS.risks).map((r) => text(r, "risk")),
    bytes: w.bytes,
    packets: w.packets,
  };
}

export function boundNames(names: readonly string[]): string[] {
  return names.slice(0, COUNT_LIMITS.destination_names).map((n) => text(n, "destination_name"));
}

function boundTags(tags: readonly Tag[], limit: number): Tag[] {
  return tags.slice(0, limit).map((t) => ({ code: text(t.code, "code"), reason: text(t.reason, "reason") }));
}

/** Flows cut to the batch's bound (`cut` of them left out), every field to its own. */
export function boundFlows(all: readonly FlowRecord[]): { flows: FlowRecord[]; cut: number } {
  const flows = all.slice(0, COUNT_LIMITS.flows).map(
    (f): FlowRecord => ({
      ...f,
      clientAddress: text(f.clientAddress, "client_address"),
      serverAddress: text(f.serverAddress, "server_address"),
      communityId: text(f.communityId, "community_id"),
      wire: boundWire(f.wire),
      destinationNames: boundNames(f.destinationNames),
      process: {
        ...f.process,
        name: text(f.process.name, "name"),
        exe: text(f.process.exe, "exe"),
        cmdline: text(f.process.cmdline, "cmdline"),
        user: text(f.process.user, "user"),
        tags: boundTags(f.process.tags, COUNT_LIMITS.process_tags),
      },
      tags: boundTags(f.tags, COUNT_LIMITS.flow_tags),
    }),
  );
  return { flows, cut: Math.max(0, all.length - COUNT_LIMITS.flows) };
}

/** A socket after the join: its added facts bounded. */
export function boundJoinedSocket(s: SocketRecord): SocketRecord {
  if (!s.wire && !s.destinationNames) return s;
  return {
    ...s,
    ...(s.wire && { wire: boundWire(s.wire) }),
    ...(s.destinationNames && { destinationNames: boundNames(s.destinationNames) }),
    tags: boundTags(s.tags, COUNT_LIMITS.socket_tags),
  };
}

export function boundJoinedConnection(c: ConnectionRecord): ConnectionRecord {
  if (!c.wire && !c.destinationNames) return c;
  return {
    ...c,
    ...(c.wire && { wire: boundWire(c.wire) }),
    ...(c.destinationNames && { destinationNames: boundNames(c.destinationNames) }),
    tags: boundTags(c.tags, COUNT_LIMITS.connection_tags),
  };
}
