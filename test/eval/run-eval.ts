// Builds a labelled fleet (background, benign counterparts, planted cases),
// replays it into a real collector with `oddwire-agent replay` (which
// classifies each line as the agent does), reads the collector's JSON report
// and measures, per source: the share of planted cases tagged with a reason,
// the share ranked above every benign case, the median rank, and the misses
// by class. "new": the cases appear in the hosts' latest snapshot only;
// "week": they were there a week ago too.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rng } from "../bench/fleet-gen.js";
import { linuxBackground, windowsBackground } from "./background.js";
import { EvalHost } from "./eval-host.js";
import { BENIGN, type BenignCase, PLANTED, type PlantedCase, type Source } from "./planted-cases.js";

const AGENT_BIN = fileURLToPath(new URL("../../../agent/bin/oddwire-agent.js", import.meta.url));
const COLLECTOR_BIN = fileURLToPath(new URL("../../../collector/bin/oddwire-collector.js", import.meta.url));
const SECRET = "eval-enroll-secret";
const DAY = 86_400_000;

export type FleetAge = "new" | "week";

export interface EvalOptions {
  linux: number;
  windows: number;
  age: FleetAge;
  seed?: number;
  planted?: readonly PlantedCase[];
  benign?: readonly BenignCase[];
}

export interface Placed<C> {
  c: C;
  hosts: string[];
}

export interface CaseResult {
  c: PlantedCase;
  host: string;
  rank: number | null;
  score: number | null;
  tags: string[];
  tagged: boolean;
  aboveBenign: boolean;
}

export interface SourceResult {
  source: Source;
  cases: number;
  tagged: number;
  aboveBenign: number;
  medianRank: number | null;
  /** Class → planted cases of it that were untagged or not above every benign case. */
  misses: Record<number, string[]>;
}

export interface EvalResult {
  age: FleetAge;
  hosts: number;
  cases: CaseResult[];
  benign: Array<{ c: BenignCase; rank: number | null; score: number | null }>;
  /** The best rank any benign case reached. */
  bestBenignRank: number | null;
  bySource: SourceResult[];
  report: any;
}

/** The fleet as NDJSON lines, with where each case was placed. */
export function buildFleet(o: EvalOptions, nowMs: number): { lines: string[]; planted: Array<Placed<PlantedCase>>; benign: Array<Placed<BenignCase>> } {
  const r = rng(o.seed ?? 12);
  const hosts: EvalHost[] = [];
  for (let i = 0; i < o.linux; i++) {
    const h = new EvalHost(`eval-lnx-${String(i).padStart(3, "0")}`, "linux");
    linuxBackground(h, r);
    hosts.push(h);
  }
  for (let i = 0; i < o.windows; i++) {
    const h = new EvalHost(`eval-win-${String(i).padStart(3, "0")}`, "windows");
    windowsBackground(h, r);
    hosts.push(h);
  }
  const ofOs = (os: string) => hosts.filter((h) => h.os === os);
  // Benign counterparts are part of the background: there a week in both fleets. They take hosts from the end.
  const benign = (o.benign ?? BENIGN).map((c) => {
    const pool = ofOs(c.os);
    const n = Math.max(1, c.hosts < 1 ? Math.round(pool.length * c.hosts) : c.hosts);
    const on = pool.slice(-n);
    for (const h of on) c.make(h);
    return { c, hosts: on.map((h) => h.id) };
  });
  // Planted cases, one host each, from the start.
  const next: Record<string, number> = { linux: 0, windows: 0 };
  const planted = (o.planted ?? PLANTED).map((c) => {
    const pool = ofOs(c.os);
    const h = pool[next[c.os]!++ % pool.length]!;
    h.markCase();
    c.make(h);
    return { c, hosts: [h.id] };
  });
  const lines: string[] = [];
  for (const h of hosts) lines.push(h.line(nowMs - 7 * DAY, o.age === "new"));
  for (const h of hosts) lines.push(h.line(nowMs - 5 * 60_000));
  return { lines, planted, benign };
}

function run(args: string[], opts: { onLine?: (line: string) => void } = {}): { done: Promise<{ code: number | null; out: string; err: string }>; kill: () => void } {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let buf = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => {
    err += d;
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      opts.onLine?.(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) => child.on("exit", (code) => resolve({ code, out, err })));
  return { done, kill: () => child.kill("SIGTERM") };
}

/** Replays the fleet into a fresh collector and returns its JSON report. */
export async function replayAndReport(lines: string[], revoke: readonly string[] = []): Promise<any> {
  const dir = mkdtempSync(join(tmpdir(), "oddwire-eval-"));
  try {
    const db = join(dir, "eval.db");
    const file = join(dir, "fleet.ndjson");
    writeFileSync(file, `${lines.join("\n")}\n`);
    let url = "";
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => (listening = resolve));
    const collector = run([COLLECTOR_BIN, "serve", "--port", "0", "--db", db, "--enroll-secret", SECRET, "--sync", "normal"], {
      onLine: (line) => {
        const m = /listening on (ws:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) {
          url = m[1]!;
          listening();
        }
      },
    });
    try {
      const started = await Promise.race([ready.then(() => true), collector.done.then(() => false)]);
      if (!started) throw new Error(`collector did not start: ${(await collector.done).err}`);
      const replay = await run([AGENT_BIN, "replay", file, "--collector", url, "--enroll-secret", SECRET, "--quiet", "--concurrency", "16", "--idle-timeout-seconds", "60"]).done;
      if (replay.code !== 0) throw new Error(`replay failed (${replay.code}): ${replay.err}`);
    } finally {
      collector.kill();
      await collector.done;
    }
    for (const host of revoke) {
      const r = await run([COLLECTOR_BIN, "revoke", host, "--db", db, "--reason", "eval"]).done;
      if (r.code !== 0) throw new Error(`revoke ${host} failed: ${r.err}`);
    }
    const report = await run([COLLECTOR_BIN, "report", "--db", db, "--format", "json", "--top", "1000"]).done;
    if (report.code !== 0) throw new Error(`report failed: ${report.err}`);
    return JSON.parse(report.out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface FindingLike {
  rank: number;
  score: number;
  binary: { name: string };
  protocol: string;
  tags: string[];
  reasons: string[];
  hosts: Array<{ hostId: string }>;
}

function findingOf(findings: FindingLike[], binary: string, protocol: string, hosts: readonly string[]): FindingLike | undefined {
  // Several groups can match (tagged and untagged observations are judged apart): the best-ranked one.
  return findings.find((f) => f.binary.name.toLowerCase() === binary.toLowerCase() && f.protocol === protocol && f.hosts.some((h) => hosts.includes(h.hostId)));
}

export async function runEval(o: EvalOptions): Promise<EvalResult> {
  const fleet = buildFleet(o, Date.now());
  const report = await replayAndReport(fleet.lines);
  const findings = report.findings as FindingLike[];
  const benign = fleet.benign.map(({ c, hosts }) => {
    const f = findingOf(findings, c.binary, c.protocol, hosts);
    return { c, rank: f?.rank ?? null, score: f?.score ?? null };
  });
  const ranks = benign.map((b) => b.rank).filter((x): x is number => x !== null);
  const bestBenignRank = ranks.length ? Math.min(...ranks) : null;
  const cases = fleet.planted.map(({ c, hosts }): CaseResult => {
    const f = findingOf(findings, c.binary, c.protocol, hosts);
    const tagged = !!f && f.tags.length > 0 && f.reasons.length > 0;
    return {
      c,
      host: hosts[0]!,
      rank: f?.rank ?? null,
      score: f?.score ?? null,
      tags: f?.tags ?? [],
      tagged,
      aboveBenign: !!f && (bestBenignRank === null || f.rank < bestBenignRank),
    };
  });
  const bySource = (["sigma", "lolbas", "gtfobins", "own"] as const).map((source): SourceResult => {
    const mine = cases.filter((x) => x.c.source === source);
    const misses: Record<number, string[]> = {};
    for (const x of mine) if (!x.tagged || !x.aboveBenign) (misses[x.c.cls] ??= []).push(x.c.what);
    const sorted = mine.map((x) => x.rank ?? Number.POSITIVE_INFINITY).sort((a, b) => a - b);
    const mid = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : null;
    return {
      source,
      cases: mine.length,
      tagged: mine.filter((x) => x.tagged).length,
      aboveBenign: mine.filter((x) => x.aboveBenign).length,
      medianRank: mid === null || !Number.isFinite(mid) ? null : mid,
      misses,
    };
  });
  return { age: o.age, hosts: o.linux + o.windows, cases, benign, bestBenignRank, bySource, report };
}

export const TARGET = 0.9;

/** Every source at or above the target on both measures. */
export function meetsTargets(r: EvalResult): boolean {
  return r.bySource.every((s) => s.cases === 0 || (s.tagged / s.cases >= TARGET && s.aboveBenign / s.cases >= TARGET));
}

export function printEval(r: EvalResult): void {
  const pct = (n: number, d: number) => (d === 0 ? "-" : `${Math.round((100 * n) / d)}%`);
  console.log(`\n## Fleet of ${r.hosts} hosts, cases ${r.age === "new" ? "new (first seen 5 minutes ago)" : "there for a week"}\n`);
  console.log("| source | cases | tagged with a reason | above every benign case | median rank | misses by class |");
  console.log("|---|---|---|---|---|---|");
  for (const s of r.bySource) {
    const misses = Object.entries(s.misses)
      .map(([cls, what]) => `${cls}: ${what.join(", ")}`)
      .join("; ");
    console.log(`| ${s.source} | ${s.cases} | ${pct(s.tagged, s.cases)} | ${pct(s.aboveBenign, s.cases)} | ${s.medianRank ?? "-"} | ${misses || "none"} |`);
  }
  console.log("\n| planted case | source | class | rank | score | tags |");
  console.log("|---|---|---|---|---|---|");
  for (const x of r.cases) console.log(`| ${x.c.what} | ${x.c.source} | ${x.c.cls} | ${x.rank ?? "absent"} | ${x.score ?? "-"} | ${x.tags.join(", ") || "none"} |`);
  console.log("\n| benign case | rank | score |");
  console.log("|---|---|---|");
  for (const b of r.benign) console.log(`| ${b.c.what} | ${b.rank ?? "absent"} | ${b.score ?? "-"} |`);
}
