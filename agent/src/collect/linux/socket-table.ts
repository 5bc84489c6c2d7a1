// Reads the TCP and UDP socket tables of every network namespace the agent
// can see. /proc/<pid>/net/* shows the namespace of <pid>, so one process per
// namespace is enough; if it exits mid-scan, the next one in it is used.

import type { Transport } from "@oddwire/shared";
import type { RawSocket } from "../backend.js";
import { parseProcNet } from "./parse-proc-net.js";
import { ProcReader } from "./proc-reader.js";

const TABLES: ReadonlyArray<readonly [string, Transport, 4 | 6]> = [
  ["tcp", "tcp", 4],
  ["tcp6", "tcp", 6],
  ["udp", "udp", 4],
  ["udp6", "udp", 6],
];

export interface SocketTable {
  sockets: RawSocket[];
  warnings: string[];
}

export function readSocketTable(
  procRoot: string,
  netnsPids: ReadonlyMap<number, readonly number[]>,
  owners: ReadonlyMap<number, number>,
  reader = new ProcReader(),
): SocketTable {
  const sockets: RawSocket[] = [];
  const warnings: string[] = [];
  for (const [netns, pids] of netnsPids) {
    let read = false;
    for (const pid of pids) {
      const texts = readTables(reader, `${procRoot}/${pid}/net`);
      if (!texts) continue;
      TABLES.forEach(([, transport, family], i) => {
        for (const row of parseProcNet(texts[i]!, transport, family)) {
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

/** The four tables' texts, or null when the process is gone. tcp6/udp6 are absent when IPv6 is disabled. */
function readTables(reader: ProcReader, dir: string): string[] | null {
  const texts: string[] = [];
  for (const [file, , family] of TABLES) {
    try {
      texts.push(reader.text(`${dir}/${file}`));
    } catch (err) {
      if (family === 6 && (err as NodeJS.ErrnoException).code === "ENOENT") texts.push("");
      else return null;
    }
  }
  return texts;
}
