// What the agent learns about each process's executable that needs I/O: its
// SHA-256 and whether its directory is world-writable. Hashing is the costly
// part, so results are cached by (path, device, inode, size, mtime): a binary
// is hashed once, again only when it changes.

import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, type Stats, statSync } from "node:fs";
import type { RawProcess } from "../collect/backend.js";
import type { ExeIdentity } from "../classify/classify-snapshot.js";
import { dirname } from "@oddwire/shared";
import type { HashCache } from "./hash-cache.js";
import type { PackageOwners } from "./package-owner.js";

/** Executables larger than this are not hashed (reported in hashError). */
export const MAX_HASH_BYTES = 512 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface IdentityOptions {
  hash: boolean;
  cache: HashCache;
  /** Linux: stat directories through /proc/<pid>/root so containers' paths resolve in their own mount namespace. */
  viaProcRoot: string | null;
  /** Which package owns each executable (dpkg), where the host has a package database. */
  packages?: PackageOwners | undefined;
}

export interface Identities {
  byPid: Map<number, ExeIdentity>;
  /** Files read and hashed in this call (cache misses). */
  hashedFiles: number;
}

export function identifyExecutables(processes: readonly RawProcess[], opts: IdentityOptions): Identities {
  const out = new Map<number, ExeIdentity>();
  let hashedFiles = 0;
  const dirModes = new Map<string, boolean>();
  const buf = Buffer.allocUnsafe(CHUNK);
  // Only processes of this host's own root: a container's /usr/bin/x is not the host's package.
  const owners = opts.packages?.lookup([...new Set(processes.filter((p) => p.exe && !p.exeDeleted && sameRoot(opts.viaProcRoot, p.pid)).map((p) => p.exe))]);
  for (const p of processes) {
    if (!p.exe) continue;
    let sha256 = "";
    let hashError = "";
    let exeSinceMs = 0;
    const source = p.exeReadPath || p.exe;
    if (!opts.hash) {
      try {
        exeSinceMs = sinceOf(statSync(source));
      } catch {
        // unknown
      }
    } else {
      try {
        const st = statSync(source);
        exeSinceMs = sinceOf(st);
        const key = `${p.exe}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
        const cached = opts.cache.get(key);
        if (cached) sha256 = cached;
        else if (st.size > MAX_HASH_BYTES) hashError = `not hashed: ${st.size} bytes is over the ${MAX_HASH_BYTES}-byte limit`;
        else {
          sha256 = hashFile(source, buf);
          hashedFiles++;
          opts.cache.set(key, sha256);
        }
      } catch (err) {
        hashError = `cannot read the executable: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      }
    }
    const dir = dirname(p.exe);
    const dirPath = opts.viaProcRoot && p.exe.startsWith("/") ? `${opts.viaProcRoot}/${p.pid}/root${dir}` : dir;
    let dirWorldWritable = dirModes.get(dirPath);
    if (dirWorldWritable === undefined) {
      try {
        dirWorldWritable = (statSync(dirPath).mode & 0o002) !== 0;
      } catch {
        dirWorldWritable = false;
      }
      dirModes.set(dirPath, dirWorldWritable);
    }
    const owner = owners?.get(p.exe);
    out.set(p.pid, { sha256, hashError, dirWorldWritable, exeSinceMs, ...(owner && { package: owner.package, packageSource: owner.source }) });
  }
  return { byPid: out, hashedFiles };
}

/** When the file came to this host: its birth time where the file system keeps one, else its last status change. */
function sinceOf(st: Stats): number {
  return Math.round(st.birthtimeMs > 0 ? st.birthtimeMs : st.ctimeMs);
}

/** Whether a process sees the same root directory as this agent (not a container's). */
function sameRoot(viaProcRoot: string | null, pid: number): boolean {
  if (!viaProcRoot) return true;
  try {
    const mine = statSync(`${viaProcRoot}/self/root`);
    const theirs = statSync(`${viaProcRoot}/${pid}/root`);
    return mine.dev === theirs.dev && mine.ino === theirs.ino;
  } catch {
    return false;
  }
}

function hashFile(path: string, buf: Buffer): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      hash.update(n === buf.length ? buf : buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}
