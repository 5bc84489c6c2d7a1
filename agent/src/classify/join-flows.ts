// Joins classified flows to the sockets and connection records of the same
// batch, and so to a process and its command line: by 5-tuple first (a
// socket still open), then by destination and time (a connection record:
// the connection may be long closed). Pure: records in, records out. Each
// flow, and every socket or record it joins, gets the wire's facts, the
// Community ID and the tags with reasons.

import {
  binaryName,
  communityId,
  judgeDestinations,
  type KnowledgeBase,
  TAG,
  ipProtoOf,
  type ConnectionRecord,
  type FlowRecord,
  type PortTable,
  type ProcessRecord,
  type SocketRecord,
  type Tag,
  type WireInfoRecord,
} from "@oddwire/shared";
import { wireTags } from "./wire-tags.js";

/** A flow as the capture classified it (the I/O side's result, in plain fields). */
export interface ObservedFlow {
  transport: "tcp" | "udp";
  family: 4 | 6;
  client: string;
  clientPort: number;
  server: string;
  serverPort: number;
  firstSeenMs: number;
  lastSeenMs: number;
  packets: number;
  bytes: number;
  wireProtocol: string;
  confidence: string;
  risks: string[];
  names: string[];
}

export interface JoinInput {
  flows: readonly ObservedFlow[];
  sockets: readonly SocketRecord[];
  processes: readonly ProcessRecord[];
  connections: readonly ConnectionRecord[];
  ports: PortTable;
  selfPid: number;
  /** Knowledge for the destination-name rules (paste sites, tunnels, dynamic DNS...); none: names are not judged. */
  kb?: KnowledgeBase;
}

/** A connection record matches a flow that began within this long of its span. */
const RECORD_SLACK_MS = 5_000;

const NO_PROCESS: ProcessRecord = { pid: 0, ppid: 0, name: "", exe: "", cmdline: "", user: "", uid: -1, startedAtMs: 0, sha256: "", hashError: "", exeDeleted: false, tags: [] };

/** IPv4-mapped IPv6 ("::ffff:10.0.0.1") as the IPv4 packets carry it. */
export function plainAddress(a: string): string {
  return a.toLowerCase().startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

function endpoint(a: string, port: number): string {
  return `${plainAddress(a)}|${port}`;
}

export function joinFlows(input: JoinInput): { flows: FlowRecord[]; sockets: SocketRecord[]; connections: ConnectionRecord[] } {
  const byPid = new Map(input.processes.map((p) => [p.pid, p]));
  // Socket by its (local, remote) ends; a loopback flow has both of its sockets here.
  const socketAt = new Map<string, number>();
  input.sockets.forEach((s, i) => {
    if ((s.transport === "tcp" || s.transport === "udp") && s.remotePort !== 0)
      socketAt.set(`${s.transport}|${endpoint(s.localAddress, s.localPort)}|${endpoint(s.remoteAddress, s.remotePort)}`, i);
  });
  const sockets = [...input.sockets];
  const connections = [...input.connections];
  const flows: FlowRecord[] = [];
  const recordsAt = new Map<string, number[]>();
  connections.forEach((r, i) => {
    const key = r.direction === "outbound" ? `out|${r.transport}|${endpoint(r.remoteAddress, r.remotePort)}` : `in|${r.transport}|${r.localPort}|${plainAddress(r.remoteAddress)}`;
    const list = recordsAt.get(key);
    if (list) list.push(i);
    else recordsAt.set(key, [i]);
  });
  for (const f of input.flows) {
    const portProtocol = input.ports.protocolOf(f.transport, f.serverPort);
    const wire: WireInfoRecord = { portProtocol, wireProtocol: f.wireProtocol, confidence: f.confidence, risks: f.risks, bytes: f.bytes, packets: f.packets };
    const id = communityId({ proto: ipProtoOf(f.transport, f.family) ?? 0, srcAddress: f.client, srcPort: f.clientPort, dstAddress: f.server, dstPort: f.serverPort });
    const client = endpoint(f.client, f.clientPort);
    const server = endpoint(f.server, f.serverPort);
    const clientSocket = socketAt.get(`${f.transport}|${client}|${server}`);
    const serverSocket = socketAt.get(`${f.transport}|${server}|${client}`);
    let process: ProcessRecord = NO_PROCESS;
    let direction: FlowRecord["direction"] = "";
    const owner = (i: number | undefined) => (i === undefined ? undefined : byPid.get(sockets[i]!.pid));
    const bySocket = owner(clientSocket) ?? owner(serverSocket);
    if (bySocket) {
      process = bySocket;
      direction = owner(clientSocket) ? "outbound" : "inbound";
    }
    const records = matchingRecords(connections, recordsAt, f);
    if (!bySocket && records[0] !== undefined) {
      const r = connections[records[0]]!;
      process = r.process;
      direction = r.direction;
    }
    const tags: Tag[] = process.pid === input.selfPid ? [] : wireTags({ ...f, portProtocol, wireProtocol: f.wireProtocol, names: f.names });
    // The names the traffic carried (SNI, Host, DNS question) judged as the command line's are: a paste site, a tunnel, dynamic DNS...
    if (input.kb && process.pid !== input.selfPid && f.names.length > 0) {
      tags.push(...judgeDestinations(f.names, { binary: process === NO_PROCESS ? "an unknown process" : binaryName(process), cmdline: process.cmdline }, input.kb));
    }
    flows.push({
      transport: f.transport,
      family: f.family,
      clientAddress: f.client,
      clientPort: f.clientPort,
      serverAddress: f.server,
      serverPort: f.serverPort,
      communityId: id,
      wire,
      destinationNames: f.names,
      firstSeenMs: f.firstSeenMs,
      lastSeenMs: f.lastSeenMs,
      process,
      direction,
      tags,
    });
    for (const i of [clientSocket, serverSocket]) {
      if (i === undefined) continue;
      const s = sockets[i]!;
      if (s.pid === input.selfPid) continue;
      sockets[i] = { ...s, wire, destinationNames: mergeNames(s.destinationNames, f.names), tags: mergeTags(s.tags, tags) };
    }
    for (const i of records) {
      const r = connections[i]!;
      if (r.process.pid === input.selfPid) continue;
      connections[i] = { ...r, communityId: id, wire, destinationNames: mergeNames(r.destinationNames, f.names), tags: mergeTags(r.tags, tags) };
    }
  }
  return { flows, sockets, connections };
}

/** Connection records of this flow: outbound to its server, or inbound on its server's port from its client, around its time. */
function matchingRecords(connections: readonly ConnectionRecord[], at: ReadonlyMap<string, number[]>, f: ObservedFlow): number[] {
  // The client's record first: it is the one that chose to speak this protocol to this port.
  const candidates = [
    ...(at.get(`out|${f.transport}|${endpoint(f.server, f.serverPort)}`) ?? []),
    ...(at.get(`in|${f.transport}|${f.serverPort}|${plainAddress(f.client)}`) ?? []),
  ];
  return candidates.filter((i) => {
    const r = connections[i]!;
    return f.firstSeenMs >= r.firstSeenMs - RECORD_SLACK_MS && f.firstSeenMs <= r.lastSeenMs + RECORD_SLACK_MS;
  });
}

function mergeNames(had: readonly string[] | undefined, add: readonly string[]): string[] {
  const all = [...(had ?? [])];
  for (const n of add) if (!all.includes(n)) all.push(n);
  return all;
}

function mergeTags(had: readonly Tag[], add: readonly Tag[]): Tag[] {
  const out = [...had];
  for (const t of add) if (!out.some((o) => o.code === t.code && o.reason === t.reason)) out.push(t);
  return out;
}

const WIRE_TAGS: ReadonlySet<string> = new Set([TAG.WIRE_MISMATCH, TAG.WIRE_RISK, TAG.WIRE_UNIDENTIFIED]);

/** What a socket learnt from its classified flow, kept while the socket lives. */
export interface SocketWire {
  wire: WireInfoRecord;
  destinationNames: string[];
  tags: Tag[];
}

function socketKey(s: SocketRecord): string {
  return `${s.transport}|${s.inode}|${endpoint(s.localAddress, s.localPort)}|${endpoint(s.remoteAddress, s.remotePort)}`;
}

/**
 * A flow is classified once, from its first packets; its socket lives on
 * through later snapshots. Carries each socket's wire facts and tags into
 * every later snapshot that still holds it, and forgets the sockets gone.
 * Returns the sockets with what they carry, and the memory for the next tick.
 */
export function carryWire(sockets: readonly SocketRecord[], memory: ReadonlyMap<string, SocketWire>): { sockets: SocketRecord[]; memory: Map<string, SocketWire> } {
  const next = new Map<string, SocketWire>();
  const out = sockets.map((s) => {
    const key = socketKey(s);
    if (s.wire) {
      const own = s.tags.filter((t) => WIRE_TAGS.has(t.code));
      next.set(key, { wire: s.wire, destinationNames: s.destinationNames ?? [], tags: own });
      return s;
    }
    const known = memory.get(key);
    if (!known) return s;
    next.set(key, known);
    return { ...s, wire: known.wire, destinationNames: known.destinationNames, tags: mergeTags(s.tags, known.tags) };
  });
  return { sockets: out, memory: next };
}
