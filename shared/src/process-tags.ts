// Tags that belong to a process whatever its sockets: where its executable
// lives, whether it still exists, and whether its name imitates another.

import { basename, binaryName, dirname } from "./binary-name.js";
import { judgeCommandLine } from "./command-line.js";
import type { KnowledgeBase } from "./knowledge.js";
import type { OsName, Tag } from "./model.js";
import { newUnpackaged, type PackageFacts } from "./package-facts.js";
import { siteProcessTags } from "./site-tags.js";
import { TAG } from "./tags.js";

/** The facts of a process its tags are judged from (the agent's raw process, the collector's stored row). */
export interface ProcessFacts {
  name: string;
  exe: string;
  cmdline: string;
  exeDeleted: boolean;
}

/** Facts about a process's executable that need I/O, gathered before classification. */
export interface ExeFacts extends PackageFacts {
  /** The executable's directory is writable by every user. */
  dirWorldWritable: boolean;
}

/**
 * Directories where anyone can drop a file, or where installed software does
 * not live: temp directories on every OS; on Windows also Public, ProgramData,
 * Fonts, Tasks, the recycle bin and the user's own document folders; on Linux
 * also hidden directories under a home directory (checked apart, below).
 * Facts from SigmaHQ/sigma rules/windows/network_connection/
 * net_connection_win_susp_initiated_uncommon_or_suspicious_locations.yml and
 * rules/linux/network_connection/net_connection_lnx_susp_malware_callback_port.yml.
 */
const TEMP_DIRS: Record<OsName, readonly string[]> = {
  linux: ["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/run/lock/", "/var/lock/", "/var/crash/", "/var/spool/cron/"],
  darwin: ["/tmp/", "/private/tmp/", "/var/tmp/", "/private/var/tmp/", "/private/var/folders/", "/var/folders/", "/Users/Shared/"],
  windows: [
    "\\appdata\\local\\temp\\",
    "\\appdata\\temp\\",
    "c:\\windows\\temp\\",
    "c:\\temp\\",
    "c:\\users\\public\\",
    "c:\\users\\default\\",
    "c:\\programdata\\",
    "c:\\perflogs\\",
    "\\$recycle.bin\\",
    "c:\\windows\\fonts\\",
    "c:\\windows\\tasks\\",
    "c:\\windows\\system32\\tasks\\",
    "c:\\windows\\ime\\",
    "c:\\windows\\addins\\",
    "c:\\windows\\debug\\",
    "\\config\\systemprofile\\",
    "\\downloads\\",
    "\\desktop\\",
    "\\documents\\",
    "\\music\\",
    "\\pictures\\",
    "\\videos\\",
    "\\contacts\\",
    "\\favorites\\",
  ],
};

/** Hidden directories under a home directory that toolchains install executables into. */
const HOME_TOOL_DIRS = new Set([
  ".local",
  ".cargo",
  ".rustup",
  ".nvm",
  ".volta",
  ".deno",
  ".bun",
  ".pyenv",
  ".rbenv",
  ".sdkman",
  ".dotnet",
  ".vscode-server",
  ".vscode",
  ".cursor-server",
  ".npm",
  ".yarn",
  ".gem",
  ".go",
  ".asdf",
  ".linuxbrew",
  ".juliaup",
  ".ghcup",
  ".nix-profile",
  ".steam",
  ".var",
  ".mozilla",
]);

/** Linux comm is at most 15 bytes: compare names the way the kernel stores them. */
const COMM_LENGTH = 15;

export function tagProcess(p: ProcessFacts, facts: ExeFacts, kb: KnowledgeBase, os: OsName): Tag[] {
  const tags: Tag[] = [];
  if (p.exe) {
    const temp = tempDirOf(p.exe, os);
    const hidden = temp ? undefined : hiddenHomeDirOf(p.exe, os);
    if (temp) {
      tags.push({
        code: TAG.WRITABLE_DIR_EXE,
        reason: `runs ${p.exe} from ${dirname(p.exe)}, under ${temp}, a temp directory or a folder where installed software does not live: legitimate software is installed, not run from where anyone can drop files`,
      });
    } else if (hidden) {
      tags.push({ code: TAG.WRITABLE_DIR_EXE, reason: `runs ${p.exe} from the hidden directory ${hidden} in a home directory, where malware hides its files` });
    } else if (facts.dirWorldWritable) {
      tags.push({ code: TAG.WRITABLE_DIR_EXE, reason: `runs ${p.exe} from ${dirname(p.exe)}, a directory every user can write to` });
    }
    // Dropped where anyone can write, owned by no package, and new here: how a downloaded payload looks.
    const fresh = tags.length > 0 ? newUnpackaged(facts) : undefined;
    if (fresh) tags.push({ code: TAG.NEW_UNPACKAGED_EXE, reason: `${p.exe} ${fresh}` });
  }
  if (p.exeDeleted) {
    const reason = p.exe.startsWith("/memfd:")
      ? `runs from an anonymous in-memory file (${p.exe}) with no file on disk: fileless execution`
      : `its executable ${p.exe} was deleted or replaced after it started; malware often deletes itself once running`;
    tags.push({ code: TAG.DELETED_EXE, reason });
  }
  const imitation = imitationOf(p, kb, os);
  if (imitation) tags.push({ code: TAG.NAME_IMITATION, reason: imitation });
  tags.push(...judgeCommandLine(p.cmdline, binaryName(p), kb));
  if (kb.site) {
    const site = siteProcessTags(kb.site, p, binaryName(p));
    // One writable-dir-exe at most: the built-in judgement's reason first.
    tags.push(...site.filter((t) => t.code !== TAG.WRITABLE_DIR_EXE || !tags.some((x) => x.code === TAG.WRITABLE_DIR_EXE)));
  }
  return tags;
}

function hiddenHomeDirOf(exe: string, os: OsName): string | undefined {
  if (os === "windows") return undefined;
  const m = /^(\/home\/[^/]+|\/root|\/Users\/[^/]+)\/(\.[^/]+)\//.exec(exe);
  return m && !HOME_TOOL_DIRS.has(m[2]!) ? `${m[1]}/${m[2]}` : undefined;
}

function tempDirOf(exe: string, os: OsName): string | undefined {
  const path = os === "windows" ? exe.toLowerCase() : exe;
  return TEMP_DIRS[os].find((dir) => (dir.startsWith("\\") ? path.includes(dir) : path.startsWith(dir)));
}

function imitationOf(p: ProcessFacts, kb: KnowledgeBase, os: OsName): string | undefined {
  const exeBase = p.exe ? basename(p.exe).toLowerCase() : "";

  // A kernel thread has no executable. A user process that calls itself
  // kworker/0:1 or [kworker] hides among them in `ps` output.
  if (os === "linux" && p.exe) {
    const argv0 = p.cmdline.split(" ", 1)[0] ?? "";
    for (const shown of [p.name, argv0.replace(/^\[|\]$/g, "")]) {
      const stem = shown.split("/", 1)[0]!;
      if (stem && kb.kernelThreads.some((k) => stem === k || (k.endsWith("_") && stem.startsWith(k))) && basename(p.exe) !== shown) {
        return `calls itself "${shown}" like a kernel thread, but kernel threads have no executable and this one runs ${p.exe}`;
      }
    }
  }

  const name = p.name.toLowerCase();
  for (const profile of kb.protectedProfiles) {
    if (!profile.os.includes(os)) continue;
    for (const genuine of profile.names) {
      const home = profile.paths!;
      const where = home.join(" or ");
      const exePath = os === "windows" ? p.exe.toLowerCase() : p.exe;
      if (exeBase === genuine && !home.some((dir) => exePath.startsWith(dir))) {
        return `${genuine} normally runs from ${where}; this one runs from ${dirname(p.exe)}`;
      }
      // The process gives itself a protected name while its executable is something else.
      const shortGenuine = os === "linux" ? genuine.slice(0, COMM_LENGTH) : genuine;
      if (p.exe && name === shortGenuine && exeBase !== genuine && !kb.lookup(exeBase)?.names.includes(genuine)) {
        return `calls itself "${p.name}" but runs ${p.exe}`;
      }
      if (exeBase && exeBase !== genuine && genuine.length >= 5 && isOneEditAway(exeBase, genuine) && !kb.lookup(exeBase)) {
        return `${basename(p.exe)} is one letter away from ${genuine}, a name malware imitates`;
      }
    }
  }
  return undefined;
}

/** Damerau-Levenshtein distance exactly 1 (one insertion, deletion, substitution or adjacent swap). */
export function isOneEditAway(a: string, b: string): boolean {
  if (a === b || Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true; // substitution
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2); // swap
  }
  const [long, short] = a.length > b.length ? [a, b] : [b, a];
  return long.slice(i + 1) === short.slice(i);
}
