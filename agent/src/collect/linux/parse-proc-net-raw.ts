// Parses the kernel's tables of the sockets that carry no TCP or UDP port:
// raw IP sockets (/proc/net/raw, raw6), ping sockets (/proc/net/icmp, icmp6)
// and packet sockets (/proc/net/packet). A process holding one of these can
// see or forge traffic below the transport layer (sniffers, ICMP tunnels,
// custom scanners), which the TCP/UDP tables never show. Pure: text in, rows
// out; the I/O and inode→pid mapping are the caller's.
//
// raw, raw6, icmp and icmp6 share the UDP row layout (`sl local rem st
// tx:rx tr:when retrnsmt uid timeout inode ref pointer drops`), so the rows
// are read by parseProcNet. What differs is the meaning of the "port": for a
// raw socket it is the IP protocol number the socket was opened for, for a
// ping socket the ICMP echo identifier.
//
// packet has its own layout: `sk RefCnt Type Proto Iface R Rmem User Inode`,
// Type the socket type (3 SOCK_RAW: whole frames, 2 SOCK_DGRAM: without the
// link header), Proto the EtherType in hex as bound (0003 ETH_P_ALL: every
// frame), Iface the interface index (0: all), R whether it is running.

import { etherTypeName, ipProtocolName } from "../raw-protocol-names.js";
import { parseProcNet } from "./parse-proc-net.js";

export interface RawIpSocket {
  kind: "raw";
  family: 4 | 6;
  /** The IP protocol the socket receives: 1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6, 255 any (IPPROTO_RAW)... */
  protocol: number;
  protocolName: string;
  localAddress: string;
  /** "" when the socket is not connected. */
  remoteAddress: string;
  state: "ESTABLISHED" | "UNCONN";
  uid: number;
  inode: number;
}

export interface PingSocket {
  kind: "icmp";
  family: 4 | 6;
  /** The echo identifier the socket sends and receives with. */
  ident: number;
  localAddress: string;
  remoteAddress: string;
  state: "ESTABLISHED" | "UNCONN";
  uid: number;
  inode: number;
}

export interface PacketSocket {
  kind: "packet";
  /** "raw" gets whole link-layer frames, "dgram" frames without the link header. */
  type: "raw" | "dgram" | `type ${number}`;
  /** EtherType as bound; 0x0003 (ETH_P_ALL) means every frame, 0 means none yet. */
  etherType: number;
  etherTypeName: string;
  /** Interface index; 0 means every interface. */
  ifindex: number;
  running: boolean;
  uid: number;
  inode: number;
}

export function parseProcNetRaw(text: string, family: 4 | 6): RawIpSocket[] {
  return parseProcNet(text, "udp", family).map((r) => ({
    kind: "raw" as const,
    family,
    protocol: r.localPort,
    protocolName: ipProtocolName(r.localPort),
    localAddress: r.localAddress,
    // A connected raw socket has a peer address but no port; parseProcNet keys "connected" on either.
    remoteAddress: isUnspecified(r.remoteAddress) ? "" : r.remoteAddress,
    state: r.state === "ESTABLISHED" ? ("ESTABLISHED" as const) : ("UNCONN" as const),
    uid: r.uid,
    inode: r.inode,
  }));
}

export function parseProcNetIcmp(text: string, family: 4 | 6): PingSocket[] {
  return parseProcNet(text, "udp", family).map((r) => ({
    kind: "icmp" as const,
    family,
    ident: r.localPort,
    localAddress: r.localAddress,
    remoteAddress: isUnspecified(r.remoteAddress) ? "" : r.remoteAddress,
    state: r.state === "ESTABLISHED" ? ("ESTABLISHED" as const) : ("UNCONN" as const),
    uid: r.uid,
    inode: r.inode,
  }));
}

const HEX = /^[0-9a-fA-F]+$/;
const DEC = /^\d+$/;

/** Malformed rows are skipped; the header is recognised by its shape (a non-hex first field). */
export function parseProcNetPacket(text: string): PacketSocket[] {
  const rows: PacketSocket[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9 || !HEX.test(f[0]!)) continue;
    const [, refcnt, type, proto, iface, running, rmem, user, inode] = f as [string, string, string, string, string, string, string, string, string];
    if (![refcnt, type, iface, running, rmem, user, inode].every((v) => DEC.test(v)) || !HEX.test(proto) || proto.length > 4) continue;
    const t = Number(type);
    const etherType = parseInt(proto, 16);
    rows.push({
      kind: "packet",
      type: t === 3 ? "raw" : t === 2 ? "dgram" : `type ${t}`,
      etherType,
      etherTypeName: etherTypeName(etherType),
      ifindex: Number(iface),
      running: running !== "0",
      uid: Number(user),
      inode: Number(inode),
    });
  }
  return rows;
}

function isUnspecified(address: string): boolean {
  return address === "" || address === "0.0.0.0" || address === "::";
}
