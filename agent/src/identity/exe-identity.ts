// What the agent learns about each process's executable that needs I/O: its
// SHA-256 and whether its directory is world-writable. Hashing is the costly
// part, so results are cached by (path, device, inode, size, mtime): a binary
// is hashed once, again only when it changes.

import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import type { RawProcess } from "../collect/backend.js";
import type { ExeIdentity } from "../classify/classify-snapshot.js";
import { dirname } from "@oddwire/shared";
import type { HashCache } from "./hash-cache.js";

/** Executables larger than this are not hashed (reported in hashError). */
export const MAX_HASH_BYTES = 512 * 1024 * 1024;
const CHUNK = 1024 * 1024;

export interface IdentityOptions {
  hash: boolean;
  cache: HashCache;
  /** Linux: stat directories through /proc/<pid>/root so containers' paths resolve in their own mount namespace. */
  viaProcRoot: string | null;
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
  for (const p of processes) {
    if (!p.exe) continue;
    let sha256 = "";
    let hashError = "";
    if (opts.hash) {
      const source = p.exeReadPath || p.exe;
      try {
        const st = statSync(source);
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
    out.set(p.pid, { sha256, hashError, dirWorldWritable });
  }
  return { byPid: out, hashedFiles };
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
