// Process groups for tests that start a program which starts others
// (npm → sh → quickstart → agent): start it as the leader of its own group,
// list the group's live members from /proc, and kill the whole group at
// teardown whatever happened.

import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

interface Teardown {
  teardown(fn: () => void | Promise<void>): void;
}

export interface GroupMember {
  pid: number;
  command: string;
}

/** Live (not zombie) processes whose process group is pgid. */
export function groupMembers(pgid: number): GroupMember[] {
  const out: GroupMember[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so split after the last ")".
    const close = stat.lastIndexOf(")");
    const [state, , pgrp] = stat.slice(close + 2).split(" ");
    if (Number(pgrp) !== pgid || state === "Z" || state === "X") continue;
    let command = stat.slice(stat.indexOf("(") + 1, close);
    try {
      command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim() || command;
    } catch {
      // keep comm
    }
    out.push({ pid: Number(entry), command });
  }
  return out;
}

/** Starts cmd as the leader of a new process group; the whole group is SIGKILLed at teardown. */
export function startGroup(t: Teardown, cmd: string, args: string[], opts: { cwd?: string } = {}): ChildProcess {
  const child = spawn(cmd, args, { detached: true, stdio: ["ignore", "pipe", "pipe"], ...(opts.cwd && { cwd: opts.cwd }) });
  const pgid = child.pid!;
  t.teardown(() => {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // the group is gone already
    }
  });
  return child;
}
