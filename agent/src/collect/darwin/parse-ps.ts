// Reads the macOS process table from two runs of ps, joined by pid.
//
// One run cannot be split reliably: the command name and the argument list
// may both contain spaces, and whichever of them is not last has no
// delimiter. So the fixed-shape columns go in one run with the one free-text
// column (ucomm) last, and args in a run of its own with only the pid before
// it:
//   ps -axww -o pid=,ppid=,uid=,lstart=,user=,ucomm=    (PS_FIXED_ARGS)
//   ps -axww -o pid=,args=                              (PS_ARGS_ARGS)
// `=` with an empty title suppresses the header line. ucomm is the kernel's
// short process name (p_comm, at most 16 bytes), the counterpart of Linux
// comm; `comm` would be argv[0], which a process sets to anything it likes.
// lstart is strftime's %c, so the backend runs ps with LC_TIME=C to get
// `Sat Nov 28 02:22:34 2026` (day of month space-padded), in local time.
//
// An argument containing a newline continues on the next output line. ps
// right-aligns the pid in a 5-character column (macOS pids stop at 99999),
// so a line starts a record only if its first 5 characters are a
// right-aligned number followed by a space or the end of the line; any
// other line continues the record before it. An argument that itself
// contains a newline followed by such a prefix would still be misread.
// Processes that start between the two runs are dropped; processes that
// exit between them keep an empty command line.

import type { RawProcess } from "../backend.js";

export const PS_FIXED_ARGS = ["-axww", "-o", "pid=,ppid=,uid=,lstart=,user=,ucomm="];
export const PS_ARGS_ARGS = ["-axww", "-o", "pid=,args="];

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const FIXED_ROW = /^\s*(\d+)\s+(\d+)\s+(-?\d+)\s+[A-Z][a-z]{2}\s+([A-Z][a-z]{2})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s+(\S+)\s?(.*)$/;
const PID_WIDTH = 5;
const PID_FIELD = /^ *\d+$/;

/**
 * Process records from the output of `ps PS_FIXED_ARGS` and
 * `ps PS_ARGS_ARGS`. `exe` is left "" for the caller to fill from lsof.
 */
export function parsePsDarwin(fixedText: string, argsText: string): RawProcess[] {
  const processes: RawProcess[] = [];
  for (const line of fixedText.split("\n")) {
    const m = FIXED_ROW.exec(line);
    if (!m) continue;
    const month = MONTHS.indexOf(m[4]!);
    const started = new Date(Number(m[9]), month, Number(m[5]), Number(m[6]), Number(m[7]), Number(m[8])).getTime();
    processes.push({
      pid: Number(m[1]),
      ppid: Number(m[2]),
      name: m[11]!.trim(),
      exe: "",
      cmdline: "",
      user: m[10]!,
      uid: normalizeUid(Number(m[3])),
      startedAtMs: month >= 0 && Number.isFinite(started) ? started : 0,
      exeDeleted: false,
      exeReadPath: "",
    });
  }
  const args = parsePsArgs(argsText, new Set(processes.map((p) => p.pid)));
  for (const p of processes) p.cmdline = args.get(p.pid) ?? "";
  return processes;
}

/** pid → command line from `ps PS_ARGS_ARGS`, for the pids in `known`. */
export function parsePsArgs(text: string, known: ReadonlySet<number>): Map<number, string> {
  const args = new Map<number, string>();
  // The record continuation lines belong to; -1 while in one being ignored.
  let current = -1;
  for (const line of text.split("\n")) {
    const pidField = line.slice(0, PID_WIDTH);
    if (PID_FIELD.test(pidField) && (line.length === PID_WIDTH || line[PID_WIDTH] === " ")) {
      const pid = Number(pidField);
      current = known.has(pid) && !args.has(pid) ? pid : -1;
      if (current >= 0) args.set(pid, line.slice(PID_WIDTH + 1).trimEnd());
    } else if (current >= 0 && line !== "") {
      // A newline inside an argument: the contract joins arguments by
      // spaces, so the break becomes one.
      args.set(current, `${args.get(current)!} ${line.trimEnd()}`);
    }
  }
  return args;
}

/**
 * ps prints uids unsigned, so nobody (-2) comes out as 4294967294; the
 * negative form is what macOS tools and the other backends show.
 */
function normalizeUid(uid: number): number {
  return uid > 0x7fffffff && uid <= 0xffffffff ? uid - 0x100000000 : uid;
}
