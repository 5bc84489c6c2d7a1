// Decides, before starting bpftrace, whether this kernel and this process can
// record connections as they happen, and says in words what is missing.
// `decidePreflight` is pure (facts in, verdict out); `readPreflightFacts` is
// the thin I/O that gathers the facts from /proc, /sys and $PATH.

import { execFileSync } from "node:child_process";
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Capability numbers from linux/capability.h. */
export const CAPS = {
  CAP_DAC_READ_SEARCH: 2,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
} as const;
export type CapName = keyof typeof CAPS;

export interface PreflightFacts {
  /** Kernel release, `uname -r`. */
  kernelRelease: string;
  /** tracefs is mounted on /sys/kernel/tracing or /sys/kernel/debug/tracing (per /proc/mounts). */
  tracefsMounted: boolean;
  /** Its `events` directory can be read by this process (it is root-only by default). */
  tracefsReadable: boolean;
  /** /sys/kernel/tracing exists as a mount point, so a process with CAP_SYS_ADMIN could mount tracefs there. */
  tracefsMountPoint: boolean;
  /** /sys/kernel/btf/vmlinux: the kernel's type information, which the program's struct reads need. */
  btf: boolean;
  /** The CapEff line of /proc/self/status, hex as written there; null when unreadable. */
  capEffHex: string | null;
  /** Absolute path of the bpftrace binary, or null. */
  bpftracePath: string | null;
  /** /proc/sys/kernel/perf_event_paranoid, or null. Only matters without CAP_PERFMON/CAP_SYS_ADMIN. */
  perfEventParanoid: number | null;
}

export interface PreflightResult {
  ok: boolean;
  /** Why events cannot be recorded, one sentence each; empty when ok. */
  missing: string[];
  /** What works but is worth knowing (memlock not raisable, tracefs to be mounted first). */
  warnings: string[];
  /** Effective capabilities by name, for the record. */
  capabilities: CapName[];
  /** true when tracefs is not mounted yet but this process may mount it. */
  mountTracefs: boolean;
}

/** Parses the hex mask of a CapEff/CapPrm line; null when it is not hex. */
export function parseCapMask(hex: string): bigint | null {
  const h = hex.trim();
  if (!/^[0-9a-fA-F]{1,16}$/.test(h)) return null;
  return BigInt(`0x${h}`);
}

/** The CapEff value from the text of /proc/<pid>/status. */
export function capEffFromStatus(statusText: string): string | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText);
  return m ? m[1]! : null;
}

/** Whether /proc/mounts lists tracefs where bpftrace looks for it. */
export function tracefsInMounts(mountsText: string): boolean {
  return mountsText.split("\n").some((line) => {
    const [, mountPoint, type] = line.split(" ");
    return type === "tracefs" && (mountPoint === "/sys/kernel/tracing" || mountPoint === "/sys/kernel/debug/tracing");
  });
}

export function hasCap(mask: bigint, cap: CapName): boolean {
  return ((mask >> BigInt(CAPS[cap])) & 1n) === 1n;
}

/** Kernel release "6.18.44-fc" → [6, 18]; null when unreadable. */
export function kernelVersion(release: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/**
 * The verdict on the facts for one route: "bpftrace" needs tracefs and the
 * bpftrace binary; "sensor" (the compiled CO-RE sensor, BTF-enabled raw
 * tracepoints) needs neither.
 */
export function decidePreflight(f: PreflightFacts, route: "bpftrace" | "sensor" = "bpftrace"): PreflightResult {
  const missing: string[] = [];
  const warnings: string[] = [];
  const mask = f.capEffHex === null ? null : parseCapMask(f.capEffHex);
  const capabilities = mask === null ? [] : (Object.keys(CAPS) as CapName[]).filter((c) => hasCap(mask, c));
  const has = (c: CapName) => capabilities.includes(c);

  const version = kernelVersion(f.kernelRelease);
  // inet_sock_set_state carries addresses and protocol since 4.16; the
  // sock_send_length/sock_recv_length tracepoints the UDP probes use since 6.4.
  if (version === null) warnings.push(`kernel release "${f.kernelRelease}" is not a version number; assuming a recent kernel`);
  else if (version[0] < 4 || (version[0] === 4 && version[1] < 16))
    missing.push(`kernel ${f.kernelRelease} is older than 4.16, whose sock:inet_sock_set_state tracepoint reports connections`);
  else if (version[0] < 6 || (version[0] === 6 && version[1] < 4))
    missing.push(`kernel ${f.kernelRelease} is older than 6.4, which added the sock:sock_send_length/sock_recv_length tracepoints the UDP probes attach to`);

  if (mask === null) missing.push("the effective capabilities could not be read from /proc/self/status");
  else {
    // Loading tracing programs: CAP_BPF + CAP_PERFMON since 5.8, or CAP_SYS_ADMIN.
    if (!has("CAP_SYS_ADMIN") && !(has("CAP_BPF") && has("CAP_PERFMON")))
      missing.push("the process has neither CAP_SYS_ADMIN nor both CAP_BPF and CAP_PERFMON, which loading tracing programs needs; run the agent as root or grant them");
    // The accept probe follows the task's file table and struct socket; bpftrace's reads of kernel memory need the same.
    if (!has("CAP_SYS_ADMIN") && !has("CAP_PERFMON")) missing.push("without CAP_PERFMON or CAP_SYS_ADMIN the program cannot read kernel memory (socket addresses)");
    if (!has("CAP_SYS_RESOURCE"))
      warnings.push("no CAP_SYS_RESOURCE: bpftrace cannot raise RLIMIT_MEMLOCK and will say so; kernels from 5.11 account BPF memory to the cgroup instead and work anyway");
    if (!has("CAP_DAC_READ_SEARCH") && !has("CAP_SYS_PTRACE"))
      warnings.push("without CAP_DAC_READ_SEARCH or CAP_SYS_PTRACE the command lines and executables of other users' processes cannot be read at exec time");
  }

  let mountTracefs = false;
  if (route === "sensor") {
    if (!f.btf)
      missing.push(
        "the kernel exposes no BTF type information (/sys/kernel/btf/vmlinux), which the sensor's CO-RE program needs; it needs a kernel built with CONFIG_DEBUG_INFO_BTF",
      );
    return { ok: missing.length === 0, missing, warnings: warnings.filter((w) => !w.includes("RLIMIT_MEMLOCK")), capabilities, mountTracefs };
  }
  if (f.tracefsMounted && !f.tracefsReadable)
    missing.push("tracefs is mounted but this process cannot read /sys/kernel/tracing/events (root-only by default), where bpftrace finds the tracepoints");
  if (!f.tracefsMounted) {
    if (f.tracefsMountPoint && has("CAP_SYS_ADMIN")) {
      mountTracefs = true;
      warnings.push("tracefs is not mounted; it will be mounted on /sys/kernel/tracing (needs CAP_SYS_ADMIN, which this process has)");
    } else if (f.tracefsMountPoint)
      missing.push(
        "tracefs is not mounted on /sys/kernel/tracing and mounting it needs CAP_SYS_ADMIN, which this process lacks; mount it at boot (`tracefs /sys/kernel/tracing tracefs defaults 0 0` in /etc/fstab)",
      );
    else missing.push("the kernel has no tracefs (/sys/kernel/tracing does not exist), so tracepoints cannot be attached");
  }
  if (!f.btf)
    missing.push("the kernel exposes no BTF type information (/sys/kernel/btf/vmlinux), which the program's socket reads need; it needs a kernel built with CONFIG_DEBUG_INFO_BTF");
  if (f.bpftracePath === null) missing.push("bpftrace is not installed (no bpftrace in PATH or /usr/bin, /usr/sbin, /usr/local/bin)");
  return { ok: missing.length === 0, missing, warnings, capabilities, mountTracefs };
}

const BPFTRACE_DIRS = ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin"];

/** Gathers the facts. Never throws: what cannot be read is reported as absent. */
export function readPreflightFacts(env: NodeJS.ProcessEnv = process.env): PreflightFacts {
  return {
    kernelRelease: readText("/proc/sys/kernel/osrelease")?.trim() ?? "",
    tracefsMounted: tracefsInMounts(readText("/proc/mounts") ?? "") || isDir("/sys/kernel/tracing/events"),
    tracefsReadable: isDir("/sys/kernel/tracing/events") || isDir("/sys/kernel/debug/tracing/events"),
    tracefsMountPoint: isDir("/sys/kernel/tracing"),
    btf: exists("/sys/kernel/btf/vmlinux"),
    capEffHex: capEffFromStatus(readText("/proc/self/status") ?? ""),
    bpftracePath: findExecutable("bpftrace", [...(env.PATH ?? "").split(delimiter).filter((d) => d.startsWith("/")), ...BPFTRACE_DIRS]),
    perfEventParanoid: numberOrNull(readText("/proc/sys/kernel/perf_event_paranoid")),
  };
}

/** One call: the facts of this machine and the verdict on them. */
export function preflight(route: "bpftrace" | "sensor" = "bpftrace"): PreflightResult & { facts: PreflightFacts } {
  const facts = readPreflightFacts();
  return { ...decidePreflight(facts, route), facts };
}

/**
 * Mounts tracefs on /sys/kernel/tracing, for when decidePreflight said
 * mountTracefs. Throws with mount's own message when it fails.
 */
export function mountTracefs(): void {
  execFileSync("mount", ["-t", "tracefs", "nodev", "/sys/kernel/tracing"], { stdio: ["ignore", "ignore", "pipe"], timeout: 10000 });
}

export function findExecutable(name: string, dirs: string[]): string | null {
  for (const dir of new Set(dirs)) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      if (statSync(path).isFile()) return path;
    } catch {
      // not here
    }
  }
  return null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

function numberOrNull(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isInteger(n) ? n : null;
}
