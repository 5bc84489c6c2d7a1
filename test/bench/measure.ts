// Runs a command and measures its wall time (hrtime around the child) and
// peak resident memory (GNU time's maximum RSS, written to a file so the
// command's own stderr stays its own).

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Run {
  wallMs: number;
  peakRssKb: number;
  stdout: string;
  stderr: string;
}

const TIME = "/usr/bin/time";

export function measure(cmd: string, args: string[]): Run {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-bench-"));
  try {
    const out = join(dir, "time");
    const t0 = process.hrtime.bigint();
    const r = spawnSync(TIME, ["-f", "%M", "-o", out, cmd, ...args], { encoding: "utf8", maxBuffer: 512 * 1024 * 1024 });
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
    const peakRssKb = Number(readFileSync(out, "utf8").trim().split("\n").pop());
    return { wallMs, peakRssKb, stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);
