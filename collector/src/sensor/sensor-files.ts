// The sensor log files under a directory: regular files, hidden ones left
// out, at most two levels down (Zeek archives rotated logs into dated
// subdirectories), oldest first so that rotated files are read before the
// one being written. Symbolic links are not followed.

import { lstat, readdir } from "node:fs/promises";
import type { Stats } from "node:fs";
import { join } from "node:path";

/** Files listed per directory at most (a directory of a million files must not stall the collector). */
export const MAX_FILES_PER_DIR = 10_000;

export async function listSensorFiles(dir: string, depth = 2): Promise<Array<{ path: string; st: Stats }>> {
  const out: Array<{ path: string; st: Stats }> = [];
  const walk = async (d: string, level: number) => {
    let names: string[];
    try {
      names = await readdir(d);
    } catch {
      return;
    }
    for (const name of names) {
      if (name.startsWith(".") || out.length >= MAX_FILES_PER_DIR) continue;
      const path = join(d, name);
      let st: Stats;
      try {
        st = await lstat(path);
      } catch {
        continue; // gone between the listing and now (rotated away)
      }
      if (st.isFile()) out.push({ path, st });
      else if (st.isDirectory() && level < depth) await walk(path, level + 1);
    }
  };
  await walk(dir, 1);
  return out.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs || a.path.localeCompare(b.path));
}
