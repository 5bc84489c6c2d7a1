// Which installed package an executable belongs to, where the OS can tell:
// on Debian and its derivatives, dpkg's file lists (/var/lib/dpkg/info/
// <package>[:<arch>].list, one installed path a line). Answers are cached per
// path until dpkg's info directory changes (its mtime moves when a package
// is installed or removed); paths not yet asked about are answered by one
// pass over the lists for all of them together. rpm is not read.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

export const DPKG_INFO_DIR = "/var/lib/dpkg/info";

/**
 * The spellings of a path a package list may hold: on merged-/usr systems
 * /usr/bin/x is also /bin/x (dpkg lists the path the package shipped).
 */
export function pathAliases(path: string): string[] {
  const m = /^\/usr\/(bin|sbin|lib|lib32|lib64|libx32)\//.exec(path);
  if (m) return [path, path.slice(4)];
  const n = /^\/(bin|sbin|lib|lib32|lib64|libx32)\//.exec(path);
  return n ? [path, `/usr${path}`] : [path];
}

/** The package a .list file names: "libc6:amd64.list" → "libc6". */
export function packageOfListFile(file: string): string {
  return file.replace(/\.list$/, "").replace(/:[^:]+$/, "");
}

/**
 * Pure: the owner, among `wanted` (alias → the path asked about), of each
 * path one package's list holds. Fills `found` (asked path → package) for
 * every line that is wanted.
 */
export function ownersInList(listText: string, pkg: string, wanted: ReadonlyMap<string, string>, found: Map<string, string>): void {
  let from = 0;
  while (from < listText.length) {
    let end = listText.indexOf("\n", from);
    if (end < 0) end = listText.length;
    const line = listText.slice(from, end);
    from = end + 1;
    const asked = wanted.get(line);
    if (asked !== undefined && !found.has(asked)) found.set(asked, pkg);
  }
}

export interface PackageAnswer {
  /** "" when the executable belongs to no package. */
  package: string;
  source: "dpkg";
}

export class PackageOwners {
  private readonly cache = new Map<string, string>();
  private stamp = -1;

  constructor(private readonly infoDir: string = DPKG_INFO_DIR) {}

  /** Whether a package database is there to ask at all. */
  available(): boolean {
    try {
      return statSync(this.infoDir).isDirectory();
    } catch {
      return false;
    }
  }

  /** Owners of these executables (paths as the kernel reports them); undefined when no package database can tell. */
  lookup(paths: readonly string[]): Map<string, PackageAnswer> | undefined {
    let mtime: number;
    try {
      mtime = statSync(this.infoDir).mtimeMs;
    } catch {
      return undefined;
    }
    if (mtime !== this.stamp) {
      this.cache.clear();
      this.stamp = mtime;
    }
    const wanted = new Map<string, string>();
    for (const p of paths) if (p.startsWith("/") && !this.cache.has(p)) for (const a of pathAliases(p)) wanted.set(a, p);
    if (wanted.size > 0) {
      const found = new Map<string, string>();
      let files: string[] = [];
      try {
        files = readdirSync(this.infoDir).filter((f) => f.endsWith(".list"));
      } catch {
        return undefined;
      }
      for (const f of files) {
        try {
          ownersInList(readFileSync(join(this.infoDir, f), "utf8"), packageOfListFile(f), wanted, found);
        } catch {
          // a list removed mid-scan (a package being removed): its paths belong to no package now
        }
      }
      for (const asked of new Set(wanted.values())) this.cache.set(asked, found.get(asked) ?? "");
    }
    const out = new Map<string, PackageAnswer>();
    for (const p of paths) {
      const pkg = this.cache.get(p);
      if (pkg !== undefined) out.set(p, { package: pkg, source: "dpkg" });
    }
    return out;
  }
}
