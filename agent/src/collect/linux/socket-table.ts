// Reads the socket tables of every network namespace the agent can see: TCP
// and UDP, and the sockets below them (raw IP, ping, packet), where sniffers
// and ICMP tunnels live without ever opening a port. /proc/<pid>/net/* shows
// the namespace of <pid>, so one process per namespace is enough; if it exits
// mid-scan, the next one in it is used.

import type { RawSocket } from "../backend.js";
import { parseProcNet } from "./parse-proc-net.js";
import { parseProcNetIcmp, parseProcNetPacket, parseProcNetRaw } from "./parse-proc-net-raw.js";
import { ProcReader } from "./proc-reader.js";

interface TableSpec {
  file: string;
  /**
   * Absent when the kernel lacks the feature: the v6 tables with IPv6
   * disabled, packet without AF_PACKET loaded. The others are always there,
   * so their absence means the process is gone.
   */
  optional: boolean;
  parse(text: string): RawSocket[];
}

const TABLES: readonly TableSpec[] = [
  { file: "tcp", optional: false, parse: (t) => parseProcNet(t, "tcp", 4) },
  { file: "tcp6", optional: true, parse: (t) => parseProcNet(t, "tcp", 6) },
  { file: "udp", optional: false, parse: (t) => parseProcNet(t, "udp", 4) },
  { file: "udp6", optional: true, parse: (t) => parseProcNet(t, "udp", 6) },
  { file: "raw", optional: false, parse: (t) => rawSockets(t, 4) },
  { file: "raw6", optional: true, parse: (t) => rawSockets(t, 6) },
  { file: "icmp", optional: false, parse: (t) => pingSockets(t, 4) },
  { file: "icmp6", optional: true, parse: (t) => pingSockets(t, 6) },
  { file: "packet", optional: true, parse: packetSockets },
];

export interface SocketTable {
  sockets: RawSocket[];
  warnings: string[];
}

export function readSocketTable(procRoot: string, netnsPids: ReadonlyMap<number, readonly number[]>, owners: ReadonlyMap<number, number>, reader = new ProcReader()): SocketTable {
  const sockets: RawSocket[] = [];
  const warnings: string[] = [];
  for (const [netns, pids] of netnsPids) {
    let read = false;
    for (const pid of pids) {
      const texts = readTables(reader, `${procRoot}/${pid}/net`);
      if (!texts) continue;
      TABLES.forEach((table, i) => {
        for (const row of table.parse(texts[i]!)) {
          row.pid = owners.get(row.inode) ?? 0;
          row.netns = netns;
          sockets.push(row);
        }
      });
      read = true;
      break;
    }
    if (!read) warnings.push(`the sockets of network namespace ${netns} could not be read: every process in it exited or is not readable`);
  }
  return { sockets, warnings };
}

/** Every table's text ("" for an absent optional one), or null when the process is gone. */
function readTables(reader: ProcReader, dir: string): string[] | null {
  const texts: string[] = [];
  for (const { file, optional } of TABLES) {
    try {
      texts.push(reader.text(`${dir}/${file}`));
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === "ENOENT") texts.push("");
      else return null;
    }
  }
  return texts;
}

// The IP protocol goes to rawProtocol, not the port: a raw socket has none.
function rawSockets(text: string, family: 4 | 6): RawSocket[] {
  return parseProcNetRaw(text, family).map((r) => ({
    transport: "raw",
    family,
    localAddress: r.localAddress,
    localPort: 0,
    remoteAddress: r.remoteAddress,
    remotePort: 0,
    state: r.state,
    pid: 0,
    uid: r.uid,
    inode: r.inode,
    netns: 0,
    rawProtocol: r.protocol,
  }));
}

// The echo identifier is kept as the local port: the kernel binds it as one.
function pingSockets(text: string, family: 4 | 6): RawSocket[] {
  return parseProcNetIcmp(text, family).map((r) => ({
    transport: "icmp",
    family,
    localAddress: r.localAddress,
    localPort: r.ident,
    remoteAddress: r.remoteAddress,
    remotePort: 0,
    state: r.state,
    pid: 0,
    uid: r.uid,
    inode: r.inode,
    netns: 0,
  }));
}

// Packet sockets are never connected; each receives what it is bound to.
function packetSockets(text: string): RawSocket[] {
  return parseProcNetPacket(text).map((r) => ({
    transport: "packet",
    family: 0,
    localAddress: "",
    localPort: 0,
    remoteAddress: "",
    remotePort: 0,
    state: "UNCONN",
    pid: 0,
    uid: r.uid,
    inode: r.inode,
    netns: 0,
    rawProtocol: r.etherType,
    ifindex: r.ifindex,
  }));
}
