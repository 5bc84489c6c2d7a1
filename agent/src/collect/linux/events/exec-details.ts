// Reads a process's executable and command line from /proc right after its
// exec event, before a short-lived process has had time to exit. The thin I/O
// beside process-cache.ts; what cannot be read comes back as null.

import { closeSync, openSync, readlinkSync, readSync } from "node:fs";
import { parseCmdline, parseExeLink } from "../parse-proc-pid.js";
import type { ExecDetails } from "./process-cache.js";

/** Command lines can reach ARG_MAX (2 MB and more); the cache keeps the first 32 KB. */
export const MAX_CMDLINE_BYTES = 32 * 1024;

export function readExecDetails(pid: number, procRoot = "/proc"): ExecDetails {
  let exe: string | null = null;
  try {
    exe = parseExeLink(readlinkSync(`${procRoot}/${pid}/exe`)).exe;
  } catch {
    // gone already, or a kernel thread
  }
  let cmdline: string | null = null;
  let fd = -1;
  try {
    fd = openSync(`${procRoot}/${pid}/cmdline`, "r");
    const buf = Buffer.alloc(MAX_CMDLINE_BYTES);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    // An exited process still reading as a zombie gives an empty file: treat as unknown.
    cmdline = n > 0 ? parseCmdline(buf.subarray(0, n)) : null;
  } catch {
    // gone already
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  return { exe, cmdline };
}
