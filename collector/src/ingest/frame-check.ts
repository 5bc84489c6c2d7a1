// Checks an AgentMessage frame on the wire, before it is decoded: every
// string's length and every repeated field's count against
// shared/src/wire-limits.ts. Decoding a hostile frame is what costs (a frame
// of a million empty tags becomes a million objects); walking it costs one
// pass over its bytes and allocates nothing per field.
//
// The walker knows the schema of proto/oddwire.proto. Unknown fields are
// skipped as protobuf says, so a newer agent's additions pass; a frame whose
// structure is broken (truncated, a length past its end, a known field with
// the wrong wire type) is reported as malformed.

import { COUNT_LIMITS, STRING_LIMITS } from "@oddwire/shared";

export type FrameViolation =
  | { kind: "malformed"; where: string }
  | { kind: "string"; field: string; limit: number; bytes: number }
  | { kind: "count"; field: string; limit: number };

/** A field of a message: a bounded string, a nested message, or a number (anything else). */
type Field =
  | { name: string; type: "string"; limit: number; count?: number; slot?: number }
  | { name: string; type: "message"; of: Message; count?: number; slot?: number }
  | { name: string; type: "varint" };

interface Message {
  name: string;
  fields: Array<Field | undefined>;
}

const str = (name: keyof typeof STRING_LIMITS, limit: number = STRING_LIMITS[name]): Field => ({ name, type: "string", limit });
/** A string field whose bound is another field's (the agent cuts it to that one). */
const strAs = (name: string, like: keyof typeof STRING_LIMITS): Field => ({ name, type: "string", limit: STRING_LIMITS[like] });
const num = (name: string): Field => ({ name, type: "varint" });
const msg = (name: string, of: Message): Field => ({ name, type: "message", of });
/** A repeated field: `slot` is its counter (0-4) within its message. */
const many = (f: Field, count: number, slot: number): Field => ({ ...f, count, slot }) as Field;

function message(name: string, byNumber: Record<number, Field>): Message {
  const fields: Array<Field | undefined> = [];
  for (const [n, f] of Object.entries(byNumber)) fields[Number(n)] = f;
  return { name, fields };
}

const Tag = message("Tag", { 1: str("code"), 2: str("reason") });
const Process = message("Process", {
  1: num("pid"),
  2: num("ppid"),
  3: str("name"),
  4: str("exe"),
  5: str("cmdline"),
  6: str("user"),
  7: num("started_at_ms"),
  8: str("sha256"),
  9: num("exe_deleted"),
  10: num("uid"),
  11: many(msg("tags", Tag), COUNT_LIMITS.process_tags, 0),
  12: str("hash_error"),
  13: str("package"),
  14: str("package_source"),
  15: num("exe_since_ms"),
});
const WireInfo = message("WireInfo", {
  1: str("port_protocol"),
  2: str("wire_protocol"),
  3: str("confidence"),
  4: many(strAs("risks", "risk"), COUNT_LIMITS.risks, 0),
  5: num("bytes"),
  6: num("packets"),
});
const Socket = message("Socket", {
  1: str("transport"),
  2: num("family"),
  3: str("local_address"),
  4: num("local_port"),
  5: str("remote_address"),
  6: num("remote_port"),
  7: str("state"),
  8: num("pid"),
  9: str("protocol"),
  10: str("direction"),
  11: many(msg("tags", Tag), COUNT_LIMITS.socket_tags, 0),
  12: num("inode"),
  13: num("netns"),
  14: num("uid"),
  15: num("raw_protocol"),
  16: str("community_id"),
  17: msg("wire", WireInfo),
  18: many(strAs("destination_names", "destination_name"), COUNT_LIMITS.destination_names, 1),
});
const Beacon = message("Beacon", { 1: num("interval_ms"), 2: num("jitter_ms"), 3: num("count"), 4: num("span_ms") });
// A connection's tags have their own bound, its ancestry entries are bounded like an exe path.
const Connection = message("Connection", {
  1: str("transport"),
  2: str("direction"),
  3: num("family"),
  4: str("local_address"),
  5: num("local_port"),
  6: str("remote_address"),
  7: num("remote_port"),
  8: str("protocol"),
  9: num("first_seen_ms"),
  10: num("last_seen_ms"),
  11: num("count"),
  12: num("failed"),
  13: msg("process", Process),
  14: many(strAs("ancestry", "exe"), COUNT_LIMITS.ancestry, 0),
  15: many(msg("tags", Tag), COUNT_LIMITS.connection_tags, 1),
  16: msg("beacon", Beacon),
  17: str("community_id"),
  18: msg("wire", WireInfo),
  19: many(strAs("destination_names", "destination_name"), COUNT_LIMITS.destination_names, 2),
});
const Flow = message("Flow", {
  1: str("transport"),
  2: num("family"),
  3: str("client_address"),
  4: num("client_port"),
  5: str("server_address"),
  6: num("server_port"),
  7: str("community_id"),
  8: msg("wire", WireInfo),
  9: many(strAs("destination_names", "destination_name"), COUNT_LIMITS.destination_names, 0),
  10: num("first_seen_ms"),
  11: num("last_seen_ms"),
  12: msg("process", Process),
  13: str("direction"),
  14: many(msg("tags", Tag), COUNT_LIMITS.flow_tags, 1),
});
// mode is "on" or "off", bounded like a socket state.
const DpiVisibility = message("DpiVisibility", {
  1: strAs("mode", "state"),
  2: str("reason"),
  3: many(strAs("interfaces", "interface"), COUNT_LIMITS.interfaces, 0),
  4: num("flows_classified"),
  5: num("unclassified_rate"),
  6: num("unclassified_window"),
  7: num("packets_dropped"),
});
// mode is a two-word vocabulary ("events+snapshots"), bounded like a socket state.
const Visibility = message("Visibility", {
  1: strAs("mode", "state"),
  2: str("reason"),
  3: num("events_accepted"),
  4: num("dropped_rate"),
  5: num("dropped_records"),
  6: num("dropped_kernel"),
});
// The agent cuts every host fact to os_version's bound.
const HostFacts = message("HostFacts", {
  1: strAs("distro", "os_version"),
  2: strAs("release", "os_version"),
  3: strAs("kernel", "os_version"),
  4: strAs("virtualization", "os_version"),
  5: strAs("hardware_vendor", "os_version"),
  6: strAs("hardware_model", "os_version"),
});
const Snapshot = message("Snapshot", {
  1: str("host_id"),
  2: str("hostname"),
  3: str("os"),
  4: str("os_version"),
  5: str("agent_version"),
  6: num("taken_at_ms"),
  7: many(msg("processes", Process), COUNT_LIMITS.processes, 0),
  8: many(msg("sockets", Socket), COUNT_LIMITS.sockets, 1),
  9: num("partial"),
  10: many(strAs("warnings", "warning"), COUNT_LIMITS.warnings, 2),
  11: str("arch"),
  12: many(msg("connections", Connection), COUNT_LIMITS.connections, 3),
  13: msg("visibility", Visibility),
  14: msg("facts", HostFacts),
  15: many(msg("flows", Flow), COUNT_LIMITS.flows, 4),
  16: msg("dpi", DpiVisibility),
  17: str("knowledge_version"),
});
const ProcessKey = message("ProcessKey", { 1: num("pid"), 2: num("started_at_ms") });
const SocketKey = message("SocketKey", {
  1: str("transport"),
  2: str("local_address"),
  3: num("local_port"),
  4: str("remote_address"),
  5: num("remote_port"),
  6: num("inode"),
  7: num("netns"),
});
const Batch = message("Batch", {
  1: num("seq"),
  2: num("full"),
  3: msg("snapshot", Snapshot),
  4: many(msg("processes_removed", ProcessKey), COUNT_LIMITS.processes_removed, 0),
  5: many(msg("sockets_removed", SocketKey), COUNT_LIMITS.sockets_removed, 1),
  6: num("base_seq"),
  7: num("dropped_batches"),
});
const EnrollRequest = message("EnrollRequest", {
  1: str("host_id"),
  2: str("hostname"),
  3: str("os"),
  4: str("agent_version"),
  5: str("enroll_secret"),
  6: str("current_key"),
});
const Heartbeat = message("Heartbeat", { 1: num("sent_at_ms") });
const AgentMessage = message("AgentMessage", { 1: msg("enroll", EnrollRequest), 2: msg("batch", Batch), 3: msg("heartbeat", Heartbeat) });

/** A field of the walker's schema, for the test that holds it to proto/oddwire.proto. */
export interface SchemaField {
  number: number;
  name: string;
  type: "string" | "message" | "varint";
  /** The nested message's name (type "message"). */
  of?: string;
  /** The bound of a string, in bytes. */
  limit?: number;
  /** Most elements, for a repeated field. */
  count?: number;
}

/** Every message the walker knows (those an agent sends), by name, with its fields. */
export function walkerSchema(): Record<string, SchemaField[]> {
  const out: Record<string, SchemaField[]> = {};
  const visit = (m: Message) => {
    if (out[m.name]) return;
    const fields: SchemaField[] = [];
    out[m.name] = fields;
    m.fields.forEach((f, number) => {
      if (!f) return;
      const sf: SchemaField = { number, name: f.name, type: f.type };
      if (f.type === "string") sf.limit = f.limit;
      if (f.type !== "varint" && f.count !== undefined) sf.count = f.count;
      if (f.type === "message") {
        sf.of = f.of.name;
        visit(f.of);
      }
      fields.push(sf);
    });
  };
  visit(AgentMessage);
  return out;
}

/**
 * Repeated elements (processes, sockets, tags, keys, warnings) in one frame
 * at most, all fields together. Each field's own bound still lets 100,000
 * processes carry 32 tags each (3.2 million objects, about 1.5 s to decode);
 * an honest snapshot holds a few hundred thousand elements at the very most.
 */
export const MAX_FRAME_ELEMENTS = 1_000_000;

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class Walker {
  pos = 0;
  elements = 0;
  constructor(readonly buf: Uint8Array) {}

  /** A varint as a number (exact up to 2^53), or -1 when it runs past `end` or over 10 bytes. */
  varint(end: number): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) return -1;
      const b = this.buf[this.pos++]!;
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
    }
    return -1;
  }

  walk(m: Message, end: number): FrameViolation | null {
    let c0 = 0;
    let c1 = 0;
    let c2 = 0;
    let c3 = 0;
    let c4 = 0;
    while (this.pos < end) {
      const key = this.varint(end);
      if (key < 0) return { kind: "malformed", where: `${m.name}: truncated field key` };
      const wire = key % 8;
      const number = Math.floor(key / 8);
      const f = number < m.fields.length ? m.fields[number] : undefined;
      if (wire === WIRE_VARINT) {
        if (f && f.type !== "varint") return { kind: "malformed", where: `${m.name}.${f.name}: wrong wire type` };
        if (this.varint(end) < 0) return { kind: "malformed", where: `${m.name}: truncated varint` };
      } else if (wire === WIRE_LEN) {
        const len = this.varint(end);
        if (len < 0 || len > end - this.pos) return { kind: "malformed", where: `${m.name}${f ? "." + f.name : ""}: length past the end of the frame` };
        const stop = this.pos + len;
        if (f?.type === "varint") return { kind: "malformed", where: `${m.name}.${f.name}: wrong wire type` };
        if (f && f.count !== undefined) {
          const n = f.slot === 0 ? ++c0 : f.slot === 1 ? ++c1 : f.slot === 2 ? ++c2 : f.slot === 3 ? ++c3 : ++c4;
          if (n > f.count) return { kind: "count", field: `${m.name}.${f.name}`, limit: f.count };
          if (++this.elements > MAX_FRAME_ELEMENTS) return { kind: "count", field: "repeated fields of the frame in all", limit: MAX_FRAME_ELEMENTS };
        }
        if (f?.type === "string") {
          if (len > f.limit) return { kind: "string", field: `${m.name}.${f.name}`, limit: f.limit, bytes: len };
        } else if (f?.type === "message") {
          const v = this.walk(f.of, stop);
          if (v) return v;
        }
        this.pos = stop;
      } else if (wire === WIRE_I64 || wire === WIRE_I32) {
        if (f) return { kind: "malformed", where: `${m.name}.${f.name}: wrong wire type` };
        const size = wire === WIRE_I64 ? 8 : 4;
        if (size > end - this.pos) return { kind: "malformed", where: `${m.name}: truncated fixed-size field` };
        this.pos += size;
      } else {
        // Groups (3, 4) are not part of proto3; 6 and 7 do not exist.
        return { kind: "malformed", where: `${m.name}: wire type ${wire} is not used by oddwire` };
      }
    }
    return null;
  }
}

/** The first string over its bound, repeated field over its count, or structural fault of an AgentMessage frame; null when there is none. */
export function checkAgentFrame(frame: Uint8Array): FrameViolation | null {
  const w = new Walker(frame);
  return w.walk(AgentMessage, frame.length);
}

/** The same check for the body of POST /v1/enroll (an EnrollRequest on its own). */
export function checkEnrollRequest(body: Uint8Array): FrameViolation | null {
  return new Walker(body).walk(EnrollRequest, body.length);
}

/** The violation in words, short enough for a WebSocket close reason (123 bytes). */
export function describeViolation(v: FrameViolation): string {
  if (v.kind === "string") return `${v.field} is ${v.bytes} bytes, over its bound of ${v.limit}`.slice(0, 123);
  if (v.kind === "count") return `${v.field} has more than ${v.limit} elements`.slice(0, 123);
  return `malformed frame: ${v.where}`.slice(0, 123);
}
