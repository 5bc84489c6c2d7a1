// Parsers for the per-process files under /proc/<pid>/ and for /proc/stat.
// Pure: each takes the file's content and returns what oddwire uses of it.

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot. */
  startTicks: number;
}

/**
 * /proc/<pid>/stat: `pid (comm) state ppid ... starttime ...`. comm may hold
 * spaces and parentheses (a process chooses its own name), so the fields are
 * counted from the last ')'.
 */
export function parseProcStat(text: string): ProcStat | null {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); starttime is field 22.
  if (rest.length < 20) return null;
  const ppid = Number(rest[1]);
  const startTicks = Number(rest[19]);
  if (!Number.isInteger(ppid) || !Number.isFinite(startTicks)) return null;
  return { comm: text.slice(open + 1, close), state: rest[0]!, ppid, startTicks };
}

/** /proc/<pid>/cmdline: NUL-separated argv, joined with single spaces. */
export function parseCmdline(buf: Buffer): string {
  let end = buf.length;
  while (end > 0 && buf[end - 1] === 0) end--;
  return buf.toString("utf8", 0, end).replaceAll("\0", " ");
}

/** /proc/stat's `btime`: boot time in seconds since the epoch. */
export function parseBootTime(text: string): number | null {
  const m = /^btime (\d+)$/m.exec(text);
  return m ? Number(m[1]) : null;
}

const DELETED = " (deleted)";

/** The target of /proc/<pid>/exe, with the kernel's " (deleted)" suffix split off. */
export function parseExeLink(target: string): { exe: string; deleted: boolean } {
  if (target.endsWith(DELETED)) return { exe: target.slice(0, -DELETED.length), deleted: true };
  return { exe: target, deleted: false };
}

/** A link under /proc/<pid>/fd or /proc/<pid>/ns: `socket:[123]`, `net:[4026531840]`. */
export function parseInodeLink(target: string, kind: "socket" | "net"): number | null {
  if (!target.startsWith(kind) || target.charCodeAt(kind.length) !== 58 /* : */) return null;
  const n = Number(target.slice(kind.length + 2, -1));
  return Number.isInteger(n) ? n : null;
}

/** /etc/passwd: uid → user name. Later duplicate uids do not override the first. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 3) continue;
    const uid = Number(f[2]);
    if (Number.isInteger(uid) && !users.has(uid)) users.set(uid, f[0]!);
  }
  return users;
}
