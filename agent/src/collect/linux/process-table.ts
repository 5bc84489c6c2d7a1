// Reads the process table from /proc: one pass over /proc/<pid>/ for stat,
// cmdline, exe, owner and network namespace. Synchronous on purpose: these
// are small in-memory kernel files, and sync reads avoid a thread-pool round
// trip per file, which dominates at thousands of processes.

import { readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import type { RawProcess } from "../backend.js";
import { ProcReader } from "./proc-reader.js";
import { parseBootTime, parseCmdline, parseExeLink, parseInodeLink, parsePasswd, parseProcStat } from "./parse-proc-pid.js";

/** USER_HZ: fixed at 100 by the kernel's user-space ABI on every architecture the agent ships for. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcessTable {
  processes: RawProcess[];
  /** Network namespace inode → pids in it, in /proc order. */
  netnsPids: Map<number, number[]>;
  /** Processes whose exe, cmdline or namespace could not be read (permissions). */
  unreadable: number;
}

export function readProcessTable(procRoot: string, reader = new ProcReader()): ProcessTable {
  const bootMs = (parseBootTime(readFileSync(`${procRoot}/stat`, "utf8")) ?? 0) * 1000;
  const users = readUsers();
  const processes: RawProcess[] = [];
  const netnsPids = new Map<number, number[]>();
  let unreadable = 0;

  for (const entry of readdirSync(procRoot)) {
    const c = entry.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry);
    const dir = `${procRoot}/${entry}`;
    let stat;
    let uid: number;
    let cmdline: string;
    try {
      stat = parseProcStat(reader.text(`${dir}/stat`, "utf8"));
      uid = statSync(dir).uid;
      cmdline = parseCmdline(reader.bytes(`${dir}/cmdline`));
    } catch {
      continue; // exited mid-scan
    }
    if (!stat) continue;

    let exe = "";
    let exeDeleted = false;
    let denied = false;
    try {
      ({ exe, deleted: exeDeleted } = parseExeLink(readlinkSync(`${dir}/exe`)));
    } catch (err) {
      // Kernel threads have no exe (ENOENT); other users' processes need privilege.
      if ((err as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
    try {
      const netns = parseInodeLink(readlinkSync(`${dir}/ns/net`), "net");
      if (netns !== null) {
        const pids = netnsPids.get(netns);
        if (pids) pids.push(pid);
        else netnsPids.set(netns, [pid]);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EACCES") denied = true;
    }
    if (denied) unreadable++;

    processes.push({
      pid,
      ppid: stat.ppid,
      name: stat.comm,
      exe,
      cmdline,
      user: users.get(uid) ?? String(uid),
      uid,
      startedAtMs: Math.round(bootMs + (stat.startTicks * 1000) / CLOCK_TICKS_PER_SECOND),
      exeDeleted,
      exeReadPath: exe ? `${dir}/exe` : "",
    });
  }
  return { processes, netnsPids, unreadable };
}

function readUsers(): Map<number, string> {
  try {
    return parsePasswd(readFileSync("/etc/passwd", "utf8"));
  } catch {
    return new Map();
  }
}
