// Finds which process owns each socket: the inode behind every
// /proc/<pid>/fd/<n> link of the form `socket:[inode]`. This is the costly
// part of a Linux snapshot (one readlink per open file), so it does nothing
// else.

import { readdirSync, readlinkSync } from "node:fs";
import type { RawProcess } from "../backend.js";
import { parseInodeLink } from "./parse-proc-pid.js";

export interface SocketOwners {
  /** Socket inode → owning pid. */
  owners: Map<number, number>;
  /** Processes whose descriptors could not be listed (permissions). */
  unreadable: number;
}

/**
 * A socket shared by several processes (inherited across fork) is credited to
 * the one that started first: the parent that opened it rather than a child
 * that merely inherited it.
 */
export function readSocketOwners(procRoot: string, processes: readonly RawProcess[]): SocketOwners {
  const owners = new Map<number, number>();
  const startOf = new Map<number, number>();
  let unreadable = 0;
  for (const p of processes) {
    startOf.set(p.pid, p.startedAtMs);
    const fdDir = `${procRoot}/${p.pid}/fd`;
    let fds: string[];
    try {
      fds = readdirSync(fdDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EACCES") unreadable++;
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`${fdDir}/${fd}`);
      } catch {
        continue; // closed meanwhile
      }
      // Most descriptors are files; test the first letter before parsing.
      if (target.charCodeAt(0) !== 115 /* s */) continue;
      const inode = parseInodeLink(target, "socket");
      if (inode === null) continue;
      const current = owners.get(inode);
      if (current === undefined || isEarlier(p.pid, current, startOf)) owners.set(inode, p.pid);
    }
  }
  return { owners, unreadable };
}

function isEarlier(pid: number, other: number, startOf: Map<number, number>): boolean {
  const a = startOf.get(pid)!;
  const b = startOf.get(other)!;
  return a < b || (a === b && pid < other);
}
