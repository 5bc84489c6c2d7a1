// Community ID v1: the flow hash Zeek, Suricata, Arkime and others log, so
// that a network sensor's record of a flow can be joined to the process the
// agent saw behind it. Layout of the hashed bytes (all big-endian):
//   seed (2) | lower address | higher address | IP protocol (1) | 0 (1) | lower port (2) | higher port (2)
// "lower" is the numerically smaller address:port pair, so both directions of
// a flow hash alike. ICMP carries type and code in place of ports, with a
// request and its reply mapped to one flow; one-way ICMP messages keep their
// order. The result is "1:" and the base64 of the SHA-1.
import { createHash } from "node:crypto";
import { isIPv4, isIPv6 } from "node:net";

export const IP_PROTO = { icmp: 1, tcp: 6, udp: 17, icmp6: 58, sctp: 132 } as const;

/** Request/reply pairs (type → counterpart type), as Zeek pairs them. */
const ICMP4_PAIRS: ReadonlyMap<number, number> = pairs([
  [8, 0],
  [13, 14],
  [15, 16],
  [10, 9],
  [17, 18],
]);
const ICMP6_PAIRS: ReadonlyMap<number, number> = pairs([
  [128, 129],
  [130, 131],
  [133, 134],
  [135, 136],
  [139, 140],
  [144, 145],
]);

function pairs(list: [number, number][]): Map<number, number> {
  const map = new Map<number, number>();
  for (const [a, b] of list) {
    map.set(a, b);
    map.set(b, a);
  }
  return map;
}

export interface FlowTuple {
  /** IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, 132 SCTP, or any other). */
  proto: number;
  srcAddress: string;
  dstAddress: string;
  /** Port, or for ICMP the message type; ignored for protocols without ports. */
  srcPort?: number;
  /** Port, or for ICMP the message code. */
  dstPort?: number;
}

/** Address bytes: 4 for IPv4 (IPv4-mapped IPv6 included), 16 for IPv6; undefined when not an address. */
export function addressBytes(address: string): Buffer | undefined {
  let text = address.trim();
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  if (text.startsWith("[") && text.endsWith("]")) text = text.slice(1, -1);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(text);
  if (mapped?.[1]) text = mapped[1];
  if (isIPv4(text)) return Buffer.from(text.split(".").map(Number));
  if (!isIPv6(text)) return undefined;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = "", rest] = text.split("::") as [string, string | undefined];
  const words = (part: string) => (part === "" ? [] : part.split(":").map((w) => Number.parseInt(w, 16)));
  const left = words(head);
  const right = rest === undefined ? [] : words(rest);
  const fill = 8 - left.length - right.length;
  const all = rest === undefined ? left : [...left, ...new Array<number>(fill).fill(0), ...right];
  if (all.length !== 8) return undefined;
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** The Community ID v1 string ("1:...") of a flow, or "" when the addresses cannot be read. */
export function communityId(flow: FlowTuple, seed = 0): string {
  let src = addressBytes(flow.srcAddress);
  let dst = addressBytes(flow.dstAddress);
  if (!src || !dst || src.length !== dst.length) return "";
  const hasPorts = flow.proto === IP_PROTO.tcp || flow.proto === IP_PROTO.udp || flow.proto === IP_PROTO.sctp;
  const isIcmp = flow.proto === IP_PROTO.icmp || flow.proto === IP_PROTO.icmp6;
  let sport = flow.srcPort ?? 0;
  let dport = flow.dstPort ?? 0;
  let oneWay = false;
  if (isIcmp) {
    const counterpart = (flow.proto === IP_PROTO.icmp ? ICMP4_PAIRS : ICMP6_PAIRS).get(sport);
    if (counterpart === undefined) oneWay = true;
    else dport = counterpart;
  }
  const order = Buffer.compare(src, dst);
  if (!oneWay && (order > 0 || (order === 0 && sport > dport))) {
    [src, dst] = [dst, src];
    [sport, dport] = [dport, sport];
  }
  const head = Buffer.alloc(2);
  head.writeUInt16BE(seed & 0xffff);
  const protoPad = Buffer.from([flow.proto & 0xff, 0]);
  const parts = [head, src, dst, protoPad];
  if (hasPorts || isIcmp) {
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(sport & 0xffff, 0);
    ports.writeUInt16BE(dport & 0xffff, 2);
    parts.push(ports);
  }
  return `1:${createHash("sha1").update(Buffer.concat(parts)).digest("base64")}`;
}

/** IP protocol number for the transports oddwire records ("tcp", "udp", "icmp" by family); undefined for others. */
export function ipProtoOf(transport: string, family: number): number | undefined {
  if (transport === "tcp") return IP_PROTO.tcp;
  if (transport === "udp") return IP_PROTO.udp;
  if (transport === "icmp") return family === 6 ? IP_PROTO.icmp6 : IP_PROTO.icmp;
  return undefined;
}
