// The executable-hash cache, kept in the agent's state directory so that a
// one-shot `snapshot` does not rehash every binary on the host. Bounded: the
// entries used by the latest snapshot are kept first, then the most recent
// others, up to MAX_ENTRIES. A corrupt file is ignored (and rewritten): the
// cache only saves time, it is never a source of truth.

import { join } from "node:path";
import { readPlainFile, replaceFile } from "./safe-files.js";

export const MAX_ENTRIES = 8192;
const FILE = "exe-hashes.json";

export class HashCache {
  private readonly old: Map<string, string>;
  private readonly used = new Map<string, string>();
  private changed = false;

  constructor(entries: Iterable<[string, string]> = []) {
    this.old = new Map(entries);
  }

  get(key: string): string | undefined {
    const v = this.used.get(key) ?? this.old.get(key);
    if (v !== undefined) this.used.set(key, v);
    return v;
  }

  set(key: string, sha256: string): void {
    this.used.set(key, sha256);
    this.changed = true;
  }

  get size(): number {
    return this.used.size;
  }

  /** Entries to keep: this snapshot's, then the newest earlier ones. */
  entries(): Array<[string, string]> {
    const out = [...this.used];
    const rest = [...this.old].filter(([k]) => !this.used.has(k)).reverse();
    for (const e of rest) {
      if (out.length >= MAX_ENTRIES) break;
      out.push(e);
    }
    return out.slice(0, MAX_ENTRIES);
  }

  static load(stateDir: string): HashCache {
    try {
      const data = JSON.parse(readPlainFile(join(stateDir, FILE)).toString("utf8")) as { version?: number; entries?: unknown };
      if (data.version === 1 && Array.isArray(data.entries)) {
        const ok = data.entries.filter((e): e is [string, string] => Array.isArray(e) && typeof e[0] === "string" && /^[0-9a-f]{64}$/.test(e[1]));
        return new HashCache(ok);
      }
    } catch {
      // missing, corrupt or a link: start empty (saving replaces it)
    }
    return new HashCache();
  }

  /** Writes the cache if anything new was hashed (exclusive temp file + rename, never half a file). */
  save(stateDir: string): void {
    if (!this.changed) return;
    replaceFile(join(stateDir, FILE), JSON.stringify({ version: 1, entries: this.entries() }), { fsync: false });
    this.changed = false;
  }
}
